"""Fixtures for Rampart's end-to-end tests.

The broker under test is `rampart` (env RAMPART_BIN, default
<repo>/.build/debug/rampart) or, with E2E_BROKER=mosquitto, a real Mosquitto
started from a generated mosquitto.conf, so every test can be cross-checked
against a conforming broker. Each test gets a fresh broker process.

Per-test broker options: @pytest.mark.broker_opts(max_keepalive=10, ...)
(keys: max_keepalive, sys_interval, max_queued_messages, receive_maximum,
max_packet_size, log_level).
"""

from __future__ import annotations

import atexit
import itertools
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

import mqtt_raw  # noqa: E402

REPO_ROOT = HERE.parents[1]
ARTIFACTS = HERE / "artifacts"
BROKER_KIND = os.environ.get("E2E_BROKER", "rampart").strip().lower()
if BROKER_KIND not in ("rampart", "mosquitto"):
    raise RuntimeError(f"E2E_BROKER must be 'rampart' or 'mosquitto', not {BROKER_KIND!r}")
IS_MOSQUITTO = BROKER_KIND == "mosquitto"
RAMPART_BIN = Path(os.environ.get("RAMPART_BIN", REPO_ROOT / ".build" / "debug" / "rampart"))
LOG_LEVEL = os.environ.get("E2E_LOG_LEVEL", "debug")

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

DEFAULT_OPTS = {
    "max_keepalive": 65535,
    "sys_interval": 10,
    "max_queued_messages": 1000,
    "receive_maximum": 20,
    "max_packet_size": None,
    "log_level": LOG_LEVEL,
}


# ------------------------------------------------------------------ pytest hooks

def pytest_report_header(config):
    target = f"mosquitto ({_mosquitto_bin()})" if IS_MOSQUITTO else f"rampart ({RAMPART_BIN})"
    return f"e2e broker under test: {target}"


def pytest_collection_modifyitems(config, items):
    # E2E_RUN_RAMPART_ONLY=1 runs rampart_only tests against Mosquitto too, to see
    # how Mosquitto differs.
    if IS_MOSQUITTO and os.environ.get("E2E_RUN_RAMPART_ONLY") != "1":
        for item in items:
            m = item.get_closest_marker("rampart_only")
            if m:
                why = m.kwargs.get("reason", "Mosquitto 2.0 legitimately differs (see test comment)")
                item.add_marker(pytest.mark.skip(reason=f"rampart_only: {why}"))
    # Missing CLI clients fail the cli tests (see test_cli_clients.py) unless
    # E2E_SKIP_CLI=1 says to skip them.
    if os.environ.get("E2E_SKIP_CLI") == "1":
        skip_cli = pytest.mark.skip(reason="E2E_SKIP_CLI=1")
        for item in items:
            if item.get_closest_marker("cli"):
                item.add_marker(skip_cli)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in getattr(item, "_e2e_brokers", []):
            rep.sections.append((f"broker log tail ({b.log_path})", b.log_tail()))


# ------------------------------------------------------------------ broker process

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mosquitto_bin() -> str:
    return os.environ.get("MOSQUITTO_BIN") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"


_live_brokers: "set[Broker]" = set()


@atexit.register
def _kill_leftover_brokers():
    """Safety net: never leave a broker running if pytest is interrupted."""
    for b in list(_live_brokers):
        b.kill()


class ManagedProcess:
    """A child process (broker or gateway) with its log file. Subclasses set `proc`, `_logf` and `log_path`;
    stop() ends it with SIGTERM (SIGKILL after STOP_TIMEOUT) and forgets it."""

    proc: "subprocess.Popen | None" = None
    _logf = None
    log_path: Path

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        _live_brokers.discard(self)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._logf:
            self._logf.close()
            self._logf = None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as e:
            return f"(no log: {e})"
        return "\n".join(text.splitlines()[-lines:])


class Broker(ManagedProcess):
    def __init__(self, name: str, workdir: Path, opts: dict[str, Any]):
        self.opts = {**DEFAULT_OPTS, **opts}
        unknown = set(self.opts) - set(DEFAULT_OPTS)
        if unknown:
            raise ValueError(f"unknown broker_opts: {unknown}")
        self.workdir = workdir
        self.port = _free_port()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-150:] + ".log")
        self.proc: subprocess.Popen | None = None
        self._logf = None

    def command(self) -> list[str]:
        o = self.opts
        if IS_MOSQUITTO:
            conf = self.workdir / "mosquitto.conf"
            lines = [
                f"listener {self.port} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                f"max_keepalive {o['max_keepalive']}",
                f"sys_interval {o['sys_interval']}",
                f"max_queued_messages {o['max_queued_messages']}",
                f"max_inflight_messages {o['receive_maximum']}",
                "log_dest stdout",
                "log_timestamp_format %H:%M:%S",
            ]
            if o["max_packet_size"]:
                lines.append(f"max_packet_size {o['max_packet_size']}")
            if o["log_level"] in ("debug", "trace"):
                lines.append("log_type all")
            conf.write_text("\n".join(lines) + "\n")
            # stdbuf: line-buffer Mosquitto's stdout so the log is readable while it runs
            prefix = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
            return prefix + [_mosquitto_bin(), "-c", str(conf)]
        if not RAMPART_BIN.exists():
            raise RuntimeError(f"rampart binary not found at {RAMPART_BIN}: run `swift build` "
                               f"or set RAMPART_BIN (or E2E_BROKER=mosquitto)")
        data_dir = self.workdir / "data"
        data_dir.mkdir(exist_ok=True)
        cmd = [str(RAMPART_BIN), "run", "--data-dir", str(data_dir),
               "--mqtt-port", str(self.port), "--bind", "127.0.0.1",
               # The management plane on loopback and a port of the system's choice: never 0.0.0.0:8443, which
               # another gateway on this machine may hold.
               "--web-port", "0", "--web-bind", "127.0.0.1", "--system-changes", "off",
               "--max-keepalive", str(o["max_keepalive"]),
               "--sys-interval", str(o["sys_interval"]),
               "--max-queued-messages", str(o["max_queued_messages"]),
               "--receive-maximum", str(o["receive_maximum"]),
               "--log-level", o["log_level"]]
        if o["max_packet_size"]:
            cmd += ["--max-packet-size", str(o["max_packet_size"])]
        return cmd

    def start(self) -> "Broker":
        cmd = self.command()
        self._logf = open(self.log_path, "wb")
        self._logf.write(("$ " + " ".join(cmd) + "\n").encode())
        self._logf.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir,
                                     start_new_session=True)
        _live_brokers.add(self)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with code {self.proc.returncode} before accepting "
                                   f"connections; log tail:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"broker did not accept connections on port {self.port} within "
                                   f"{READY_TIMEOUT}s; log tail:\n{self.log_tail()}")
            time.sleep(0.05)

    def sigterm(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


@pytest.fixture
def broker(request, tmp_path) -> Broker:
    """A fresh broker for this test; options from @pytest.mark.broker_opts(...)."""
    yield from _run_process(request, Broker(f"{BROKER_KIND}-{request.node.nodeid}", tmp_path,
                                            _marker_opts(request, "broker_opts")))


def _marker_opts(request, marker: str) -> dict[str, Any]:
    """The keyword arguments of every `marker` on the test, the nearest winning."""
    opts: dict[str, Any] = {}
    for m in reversed(list(request.node.iter_markers(marker))):
        opts.update(m.kwargs)
    return opts


def _run_process(request, process: "ManagedProcess"):
    """Starts `process` for the test (its log is shown when the test fails) and stops it afterwards."""
    request.node._e2e_brokers = [process]
    try:
        process.start()
        yield process
    finally:
        process.stop()


# ------------------------------------------------------------------ helpers

def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02,
               message: str = "condition") -> Any:
    """Poll `predicate` until truthy; return its value or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def wait_for_sys_counter(client: "PahoClient", topic: str, message: str, timeout: float = 10.0) -> int:
    """The first report of the $SYS counter `topic` above 0, from a client subscribed to it.

    $SYS topics are published every sys_interval and retained: earlier reports (0) come first.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, message
        report, _ = client.get_on(topic, remaining)
        value = int(report.payload)
        if value > 0:
            return value


@dataclass
class Msg:
    """A received application message (copied out of paho's MQTTMessage)."""
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    properties: Any
    received_at: float


@dataclass
class ConnectResult:
    reason_code: int
    session_present: bool
    properties: Any


class PahoClient:
    """paho-mqtt 2.x client with blocking, bounded helpers."""

    def __init__(self, port: int, *, version: int = 5, client_id: str = "",
                 clean: bool = True, keepalive: int = 60,
                 session_expiry: int | None = None, connect_props: dict | None = None,
                 will: dict | None = None):
        self.port = port
        self.version = version
        self.clean = clean
        self.keepalive = keepalive
        proto = paho.MQTTv5 if version == 5 else paho.MQTTv311
        kw = {} if version == 5 else {"clean_session": clean}
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto, **kw)
        self.messages: "queue.Queue[Msg]" = queue.Queue()
        self.connected = threading.Event()
        self.connack: ConnectResult | None = None
        self.disconnected = threading.Event()
        self.disconnect_reason: Any = None
        self.disconnect_props: Any = None
        self._cond = threading.Condition()
        self._subacks: dict[int, Any] = {}
        self._unsubacks: dict[int, Any] = {}
        self.connect_props = dict(connect_props or {})
        if session_expiry is not None:
            self.connect_props["SessionExpiryInterval"] = session_expiry
        if will:
            wp = will.get("props")
            self.client.will_set(will["topic"], will.get("payload", b""), will.get("qos", 0),
                                 will.get("retain", False), properties=make_props(PacketTypes.WILLMESSAGE, wp) if wp else None)
        c = self.client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_unsubscribe = self._on_unsubscribe

    # callbacks
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = ConnectResult(int(reason_code.value) if hasattr(reason_code, "value") else int(reason_code),
                                     bool(flags.session_present), properties)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnect_reason = reason_code
        self.disconnect_props = properties
        self.disconnected.set()
        self.connected.set()   # unblock a pending connect()

    def _on_message(self, client, userdata, msg):
        self.messages.put(Msg(msg.topic, msg.payload, msg.qos, bool(msg.retain), bool(msg.dup),
                              getattr(msg, "properties", None), time.monotonic()))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            self._subacks[mid] = [int(rc.value) for rc in reason_codes]
            self._cond.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            self._unsubacks[mid] = reason_codes
            self._cond.notify_all()

    # operations
    def connect(self, timeout: float = 10.0, expect_success: bool = True) -> ConnectResult:
        self.connected.clear()
        self.disconnected.clear()
        if self.version == 5:
            props = make_props(PacketTypes.CONNECT, self.connect_props) if self.connect_props else None
            self.client.connect("127.0.0.1", self.port, self.keepalive, clean_start=self.clean, properties=props)
        else:
            self.client.connect("127.0.0.1", self.port, self.keepalive)
        self.client.loop_start()
        assert self.connected.wait(timeout), "no CONNACK within timeout"
        if expect_success:
            assert self.connack is not None and self.connack.reason_code == 0, \
                f"connect failed: connack={self.connack} disconnect={self.disconnect_reason}"
        return self.connack

    def subscribe(self, topic: str, qos: int = 0, *, options: SubscribeOptions | None = None,
                  props: dict | None = None, timeout: float = 5.0, expect_granted: bool = True) -> list[int]:
        if self.version == 5:
            opts = options or SubscribeOptions(qos=qos)
            p = make_props(PacketTypes.SUBSCRIBE, props) if props else None
            rc, mid = self.client.subscribe(topic, options=opts, properties=p)
        else:
            rc, mid = self.client.subscribe(topic, qos)
        assert rc == paho.MQTT_ERR_SUCCESS, f"subscribe send failed: {rc}"
        with self._cond:
            ok = self._cond.wait_for(lambda: mid in self._subacks, timeout)
            assert ok, f"no SUBACK for {topic} within {timeout}s"
            codes = self._subacks.pop(mid)
        if expect_granted:
            assert all(c < 0x80 for c in codes), f"subscription to {topic} refused: {codes}"
        return codes

    def unsubscribe(self, topic: str, timeout: float = 5.0) -> None:
        rc, mid = self.client.unsubscribe(topic)
        assert rc == paho.MQTT_ERR_SUCCESS
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._unsubacks, timeout), "no UNSUBACK"

    def publish(self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False,
                props: dict | None = None, timeout: float = 5.0) -> None:
        p = make_props(PacketTypes.PUBLISH, props) if props else None
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=p)
        info.wait_for_publish(timeout)
        assert info.is_published(), f"publish to {topic} (qos {qos}) not completed within {timeout}s"

    def get(self, timeout: float = 5.0) -> Msg:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message received within {timeout}s") from None

    def get_on(self, topic: str, timeout: float = 5.0) -> tuple[Msg, list]:
        """Wait for a message on `topic`; return it and the messages received before it."""
        deadline = time.monotonic() + timeout
        before = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no message on {topic} within {timeout}s; got {[m.topic for m in before]}")
            m = self.get(remaining)
            if m.topic == topic:
                return m, before
            before.append(m)

    def expect_no_message(self, duration: float = 0.5) -> None:
        try:
            m = self.messages.get(timeout=duration)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message on {m.topic!r}: {m.payload!r}")

    def drain(self) -> list:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def disconnect(self, reason: int | None = None, timeout: float = 5.0) -> None:
        if reason is not None and self.version == 5:
            from paho.mqtt.reasoncodes import ReasonCode
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=reason))
        else:
            self.client.disconnect()
        self.disconnected.wait(timeout)
        self.client.loop_stop()

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT (abnormal disconnect)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cleanup(self) -> None:
        try:
            self.client.disconnect()   # also wakes the network thread so loop_stop is quick
        except Exception:
            pass
        try:
            self.client.loop_stop()
        except Exception:
            pass
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def make_props(packet_type: int, values: dict | None) -> Properties:
    p = Properties(packet_type)
    for k, v in (values or {}).items():
        setattr(p, k, v)
    return p


def msg_prop(msg, name: str, default=None):
    """A v5 property of a received paho message (None/default if absent)."""
    props = getattr(msg, "properties", None)
    return getattr(props, name, default) if props is not None else default


_ids = itertools.count(1)


@pytest.fixture
def mqtt(broker, request):
    """Factory: mqtt(version=5|311, client_id=None, clean=True, connect=True, **kw) -> PahoClient."""
    made: list[PahoClient] = []
    base = re.sub(r"[^A-Za-z0-9]+", "", request.node.name)[-20:]

    def factory(version: int = 5, client_id: str | None = None, *, connect: bool = True, **kw) -> PahoClient:
        cid = client_id if client_id is not None else f"{base}-{next(_ids)}"
        c = PahoClient(broker.port, version=version, client_id=cid, **kw)
        made.append(c)
        if connect:
            c.connect()
        return c

    yield factory
    for c in made:
        c.cleanup()


@pytest.fixture
def raw(broker):
    """Factory: raw(version=5|4) -> mqtt_raw.RawClient (TCP connected, no CONNECT sent)."""
    made: list[mqtt_raw.RawClient] = []

    def factory(version: int = 5) -> mqtt_raw.RawClient:
        c = mqtt_raw.RawClient(broker.port, version=version)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()


@pytest.fixture
def sync_retained(mqtt):
    """Barrier for 'nothing retained arrived': returns fn(client) that subscribes the
    client to a fresh topic holding a retained message and waits for it. Anything the
    broker would have sent for earlier SUBSCRIBEs arrives before it; the function
    returns the messages received before the marker."""
    counter = itertools.count(1)
    pubs: dict[int, PahoClient] = {}

    def fn(client: PahoClient) -> list:
        n = next(counter)
        topic = f"zz-sync/{id(client)}/{n}"
        if client.version not in pubs:
            pubs[client.version] = mqtt(version=client.version)
        pubs[client.version].publish(topic, b"sync", qos=1, retain=True)
        client.subscribe(topic, 0)
        _, before = client.get_on(topic, 5.0)
        return before

    return fn


# ------------------------------------------------------------------ management plane (HTTPS web UI + REST API)

GATEWAY_DEFAULTS = {
    "session_idle_timeout": 600,
    "login_delay": 0.05,
}

STRONG_PASSWORD = "Corr3ct-Horse-Battery"


def source_adapter(source: str):
    """A requests HTTPAdapter whose connections leave from `source` (a 127.0.0.x address), so that a test can act
    as several clients of the log-in throttle, all on loopback."""
    from requests.adapters import HTTPAdapter

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            kwargs["source_address"] = (source, 0)
            super().init_poolmanager(*args, **kwargs)

    return _Adapter()


class Gateway(ManagedProcess):
    """`rampart run` with its HTTPS management plane on loopback, a fresh data directory and free ports.

    The web port is chosen by the gateway (--web-port 0) and read from its banner, so no port can be taken by
    someone else between choosing and binding it."""

    def __init__(self, name: str, workdir: Path, opts: dict[str, Any]):
        unknown = set(opts) - set(GATEWAY_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown gateway_opts: {unknown}")
        self.opts = {**GATEWAY_DEFAULTS, **opts}
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.mqtt_port = _free_port()
        self.web_port: int | None = None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-150:] + ".log")
        self.proc: subprocess.Popen | None = None
        self._logf = None
        self.initial_password: str | None = None
        self.console_token: str | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.web_port}"

    @property
    def cert(self) -> str:
        """The certificate the gateway publishes for local clients to pin."""
        return str(self.data_dir / "web-certificate.pem")

    def command(self) -> list[str]:
        o = self.opts
        return [str(RAMPART_BIN), "run", "--data-dir", str(self.data_dir),
                "--mqtt-port", str(self.mqtt_port), "--bind", "127.0.0.1",
                "--web-port", "0", "--web-bind", "127.0.0.1",
                "--system-changes", "off",
                "--session-idle-timeout", str(o["session_idle_timeout"]),
                "--login-delay", str(o["login_delay"]),
                "--log-level", "info"]

    def start(self) -> "Gateway":
        if not RAMPART_BIN.exists():
            raise RuntimeError(f"rampart binary not found at {RAMPART_BIN}: run `swift build` or set RAMPART_BIN")
        import requests

        cmd = self.command()
        self._logf = open(self.log_path, "wb")
        self._logf.write(("$ " + " ".join(cmd) + "\n").encode())
        self._logf.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, start_new_session=True)
        _live_brokers.add(self)
        deadline = time.monotonic() + READY_TIMEOUT
        last_error: Exception | None = None
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with code {self.proc.returncode} before it was ready; "
                                   f"log tail:\n{self.log_tail()}")
            if self.web_port is None:
                m = re.search(r"also https://127\.0\.0\.1:(\d+)/", self.log_path.read_text(errors="replace"))
                if m:
                    self.web_port = int(m.group(1))
            if self.web_port is not None and Path(self.cert).exists():
                try:
                    # Readiness only: whether the published certificate verifies is what the tests check.
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        r = requests.get(self.url + "/api/v1/openapi.json", verify=False, timeout=2)
                    if r.status_code == 200:
                        break
                except requests.RequestException as e:
                    last_error = e
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gateway's HTTPS did not answer within {READY_TIMEOUT}s ({last_error}); "
                                   f"log tail:\n{self.log_tail()}")
            time.sleep(0.05)
        self.initial_password = (self.data_dir / "initial-admin-password").read_text().strip()
        self.console_token = (self.data_dir / "console-token").read_text().strip()
        return self

    def session(self, source: str | None = None):
        """A new `requests` session (a new browser): verifies the gateway's published certificate, and leaves
        from `source` when given."""
        import requests

        s = requests.Session()
        s.verify = self.cert
        # Not the environment's proxies or CA bundle: with trust_env, REQUESTS_CA_BUNDLE would replace
        # `s.verify` (requests issue #3829), and a proxy has no business on loopback.
        s.trust_env = False
        if source is not None:
            s.mount("https://", source_adapter(source))
        return s

    def api(self, session, method: str, path: str, **kw):
        """`session.request` on `/api/v1<path>` with a bounded timeout."""
        kw.setdefault("timeout", 30)
        return session.request(method, self.url + "/api/v1" + path, **kw)

    def token_session(self, token: str | None = None):
        s = self.session()
        s.headers["Authorization"] = f"Bearer {token or self.console_token}"
        return s

    def log_in(self, session, password: str | None = None, user: str = "admin", timeout: float = 10.0):
        """POST /session; a 429 (a delay after an earlier failure: the attempt is not checked) is retried until
        the delay is over. Returns the last response."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.api(session, "POST", "/session",
                         json={"user": user, "password": password or self.initial_password})
            if r.status_code != 429 or time.monotonic() > deadline:
                return r
            time.sleep(0.02)


@pytest.fixture
def gateway(request, tmp_path) -> Gateway:
    """A fresh gateway with its management plane; options from @pytest.mark.gateway_opts(...)
    (session_idle_timeout, login_delay)."""
    if IS_MOSQUITTO:
        pytest.skip("the management plane is a gateway feature; Mosquitto has none")
    yield from _run_process(request, Gateway(f"gateway-{request.node.nodeid}", tmp_path,
                                             _marker_opts(request, "gateway_opts")))


@dataclass
class LoggedIn:
    """A browser session of `admin` after the forced password change."""
    gateway: Gateway
    session: Any
    csrf: str
    password: str

    def call(self, method: str, path: str, *, csrf: bool = True, **kw):
        headers = dict(kw.pop("headers", {}) or {})
        if csrf and method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.gateway.api(self.session, method, path, headers=headers, **kw)


@pytest.fixture
def logged_in(gateway) -> LoggedIn:
    """Logs `admin` in with the initial password and changes it to a strong one."""
    s = gateway.session()
    r = gateway.log_in(s)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mustChangePassword"] is True
    csrf = body["csrfToken"]
    r = gateway.api(s, "POST", "/account/password", headers={"X-CSRF-Token": csrf},
                    json={"current": gateway.initial_password, "new": STRONG_PASSWORD})
    assert r.status_code == 200, r.text
    yield LoggedIn(gateway, s, csrf, STRONG_PASSWORD)
    s.close()
