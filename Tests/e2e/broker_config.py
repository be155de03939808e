"""Start a broker from a mosquitto.conf text: `rampart broker -c FILE` or,
with E2E_BROKER=mosquitto, the real `mosquitto -c FILE`.

Used by test_config_broker.py, test_tls.py, test_websockets.py and
test_auth_acl.py. The configuration text may contain placeholders:

    {{port}}, {{port2}}, {{ws_port}}, ...   any name starting or ending with
                                           "port": a free 127.0.0.1 port,
                                           allocated on first use
    {{dir}}                                the broker's private temp directory

    def test_x(conf_broker):
        b = conf_broker.new()
        b.write("acl", "user alice\\ntopic readwrite alice/#\\n")
        b.start("listener {{port}} 127.0.0.1\\nacl_file {{dir}}/acl\\n")
        b.port        # == b.ports["port"]

start() waits (bounded) until every listener port of the configuration
(`listener N` / `port N` lines of the main file and of every file written
with write(), plus `-p N`) accepts TCP. The broker's stdout+stderr go to
Tests/e2e/artifacts/<test>.log; stop() sends SIGTERM, then SIGKILL.

The temp directory lives directly under the system temp dir (not under
pytest's 0700 tmp_path) and, when the tests run as root, is handed to the
`mosquitto` user before the broker starts: Mosquitto started as root drops
privileges to that user and must still be able to read the certificates,
password and ACL files and write pid/persistence files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

import mqtt_raw
from conftest import (ARTIFACTS, BROKER_KIND, IS_MOSQUITTO, RAMPART_BIN, ManagedProcess, PahoClient,
                      _free_port, _live_brokers, _mosquitto_bin)

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
STDBUF = ["stdbuf", "-oL", "-eL"] if shutil.which("stdbuf") else []

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_LISTENER_LINE = re.compile(r"^\s*(?:listener|port)\s+(\d+)\b", re.M)


def broker_command(conf: Path | str, *args: str) -> list[str]:
    """The command line that runs the broker under test on `conf`."""
    if IS_MOSQUITTO:
        return [_mosquitto_bin(), "-c", str(conf), *args]
    if not RAMPART_BIN.exists():
        raise RuntimeError(f"rampart binary not found at {RAMPART_BIN}: run `swift build` "
                           f"or set RAMPART_BIN (or E2E_BROKER=mosquitto)")
    return [str(RAMPART_BIN), "broker", "-c", str(conf), *args]


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _hand_to_mosquitto_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    for root, dirs, files in os.walk(path):
        for n in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(n, pw.pw_uid, pw.pw_gid)


class ConfBroker(ManagedProcess):
    """One broker process started from a mosquitto.conf text."""

    def __init__(self, name: str):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix="e2e-broker-"))
        os.chmod(self.dir, 0o755)
        self.ports: dict[str, int] = {}
        self.written: list[str] = []      # rendered texts of write()n files (for listener discovery)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-150:] + ".log")
        self.conf_path: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.cmd: list[str] = []
        self.listen_ports: list[int] = []
        self._logf = None
        self._clients: list[PahoClient] = []

    # -- configuration
    @property
    def port(self) -> int:
        return self.alloc("port")

    def alloc(self, key: str) -> int:
        if key not in self.ports:
            self.ports[key] = _free_port()
        return self.ports[key]

    def render(self, text: str) -> str:
        def sub(m: re.Match) -> str:
            key = m.group(1)
            if key == "dir":
                return str(self.dir)
            if key.startswith("port") or key.endswith("port"):
                return str(self.alloc(key))
            raise KeyError(f"unknown placeholder {{{{{key}}}}} in broker configuration")
        return _PLACEHOLDER.sub(sub, text)

    def path(self, rel: str) -> Path:
        return self.dir / rel

    def write(self, rel: str, text: str | bytes, *, render: bool = True, mode: int = 0o644) -> Path:
        """Write a file below the broker dir (placeholders rendered in text files)."""
        p = self.dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            if render:
                text = self.render(text)
            p.write_text(text)
            self.written.append(text)
        os.chmod(p, mode)
        return p

    # -- process
    def start(self, conf_text: str, *, args: tuple[str, ...] | list[str] = (),
              conf_name: str = "mosquitto.conf", wait_ports: list[int] | None = None,
              render: bool = True) -> "ConfBroker":
        self._start_args = (conf_text, dict(args=args, conf_name=conf_name, wait_ports=wait_ports,
                                            render=render))
        text = self.render(conf_text) if render else conf_text
        self.conf_path = self.dir / conf_name
        self.conf_path.parent.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(text)
        args = [self.render(a) for a in args]
        if wait_ports is None:
            ports = [int(p) for t in [text, *self.written] for p in _LISTENER_LINE.findall(t)]
            for i, a in enumerate(args[:-1]):
                if a == "-p":
                    ports.append(int(args[i + 1]))
            wait_ports = ports or [1883]     # no listener at all: Mosquitto's default port
        self.listen_ports = list(dict.fromkeys(wait_ports))
        _hand_to_mosquitto_user(self.dir)
        self.cmd = STDBUF + broker_command(self.conf_path, *args)
        self._logf = open(self.log_path, "ab")
        self._logf.write(("$ " + " ".join(self.cmd) + "\n").encode())
        self._logf.flush()
        self.proc = subprocess.Popen(self.cmd, stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir, start_new_session=True)
        _live_brokers.add(self)
        deadline = time.monotonic() + READY_TIMEOUT
        pending = list(self.listen_ports)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with code {self.proc.returncode} before accepting "
                                   f"connections on {pending}; log tail:\n{self.log_tail()}")
            pending = [p for p in pending if not port_accepts(p)]
            if not pending:
                break
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"broker did not accept connections on {pending} within "
                                   f"{READY_TIMEOUT}s; log tail:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def restart(self) -> "ConfBroker":
        """stop() (SIGTERM), then start again with the same configuration, files and ports."""
        self.stop()
        conf_text, kw = self._start_args
        return self.start(conf_text, **kw)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self) -> str:
        if self._logf:
            self._logf.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_text()
        return "\n".join(text.splitlines()[-lines:]) if text else f"(no log at {self.log_path})"

    # -- clients
    def client(self, port: int | None = None, **kw) -> PahoClient:
        c = make_client(port or self.port, **kw)
        self._clients.append(c)
        return c


class ConfBrokerFactory:
    def __init__(self, request):
        self.request = request
        self.brokers: list[ConfBroker] = []
        request.node._e2e_brokers = self.brokers   # conftest appends log tails on failure

    def new(self) -> ConfBroker:
        n = len(self.brokers)
        suffix = f"-{n + 1}" if n else ""
        b = ConfBroker(f"{BROKER_KIND}-{self.request.node.nodeid}{suffix}")
        try:
            b.log_path.unlink()
        except OSError:
            pass
        self.brokers.append(b)
        return b

    def start(self, conf_text: str, **kw) -> ConfBroker:
        """new() + start() in one step."""
        return self.new().start(conf_text, **kw)

    def close(self) -> None:
        for b in self.brokers:
            for c in b._clients:
                c.cleanup()
            b.cleanup()


@pytest.fixture
def conf_broker(request):
    """Factory for brokers started from mosquitto.conf text (see module docstring)."""
    f = ConfBrokerFactory(request)
    try:
        yield f
    finally:
        f.close()


# ------------------------------------------------------------------ clients

_CALLBACKS = ("on_connect", "on_disconnect", "on_message", "on_subscribe", "on_unsubscribe")


def make_client(port: int, *, version: int = 5, client_id: str = "", transport: str = "tcp",
                ws_path: str = "/mqtt", ca: Path | str | None = None, cert: Path | str | None = None,
                key: Path | str | None = None, username: str | None = None,
                password: str | None = None, **kw) -> PahoClient:
    """A conftest.PahoClient, optionally over WebSockets and/or TLS, with credentials."""
    c = PahoClient(port, version=version, client_id=client_id, **kw)
    if transport != "tcp":
        proto = paho.MQTTv5 if version == 5 else paho.MQTTv311
        extra = {} if version == 5 else {"clean_session": c.clean}
        new = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto,
                          transport=transport, **extra)
        for name in _CALLBACKS:
            setattr(new, name, getattr(c.client, name))
        if transport == "websockets":
            new.ws_set_options(path=ws_path)
        c.client = new
    if ca is not None:
        c.client.tls_set(ca_certs=str(ca), certfile=str(cert) if cert else None,
                         keyfile=str(key) if key else None)
    if username is not None:
        c.client.username_pw_set(username, password)
    return c


class TLSRawClient(mqtt_raw.RawClient):
    """mqtt_raw.RawClient over TLS. The handshake happens in the constructor
    (raises ssl.SSLError / OSError if it fails)."""

    def __init__(self, port: int, *, ca: Path | str, cert: Path | str | None = None,
                 key: Path | str | None = None, version: int = 5, server_hostname: str = "localhost",
                 timeout: float = 5.0):
        ctx = ssl.create_default_context(cafile=str(ca))
        if cert:
            ctx.load_cert_chain(str(cert), str(key) if key else None)
        self.version = 5 if version == 5 else 4
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        self._buf = bytearray()
        self.closed = False
        self._next_id = 0
        self.aliases = {}

    def _fill(self, deadline: float) -> bool:
        try:
            return super()._fill(deadline)
        except ssl.SSLError:
            # e.g. the server's "certificate required" alert after a TLS 1.3 handshake
            self.closed = True
            return False


# ------------------------------------------------------------------ PKI

def generate_pki(out: Path, clients: tuple[str, ...] = ("alice", "bob")) -> dict[str, Path]:
    """A CA, a server certificate (CN=localhost, SAN localhost + 127.0.0.1) and
    one client certificate per name (CN=name), as PEM files in `out`.
    Returns {"ca": ..., "server_cert": ..., "server_key": ..., "<name>_cert": ..., "<name>_key": ...}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    files: dict[str, Path] = {}

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def save_key(name: str, k) -> None:
        p = out / f"{name}.key"
        p.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        files[f"{name}_key"] = p

    def save_cert(name: str, c) -> Path:
        p = out / f"{name}.pem"
        p.write_bytes(c.public_bytes(serialization.Encoding.PEM))
        return p

    ca_key = key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rampart e2e test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    files["ca"] = save_cert("ca", ca_cert)
    save_key("ca", ca_key)

    def leaf(name: str, cn: str, server: bool):
        k = key()
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(ca_name).public_key(k.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                            critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                   else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        c = b.sign(ca_key, hashes.SHA256())
        files[f"{name}_cert"] = save_cert(name, c)
        save_key(name, k)

    leaf("server", "localhost", True)
    for cn in clients:
        leaf(cn, cn, False)
    return files


@pytest.fixture(scope="session")
def pki_pem(tmp_path_factory) -> dict[str, bytes]:
    """Generated once per session: {"ca": PEM, "server_cert": PEM, ...} (see generate_pki)."""
    files = generate_pki(tmp_path_factory.mktemp("pki"))
    return {k: p.read_bytes() for k, p in files.items()}


def install_pki(b: ConfBroker, pem: dict[str, bytes], sub: str = "certs") -> dict[str, Path]:
    """Copy the PEM files into the broker dir (readable by the broker); return their paths."""
    out = {}
    for k, data in pem.items():
        name = k.replace("_cert", ".pem").replace("_key", ".key") if k != "ca" else "ca.pem"
        out[k] = b.write(f"{sub}/{name}", data, mode=0o600 if k.endswith("_key") else 0o644)
    return out


# ------------------------------------------------------------------ misc

def mosquitto_passwd(path: Path, users: dict[str, str]) -> None:
    """Create a password file with the real mosquitto_passwd (-c for the first user, -b batch)."""
    exe = shutil.which("mosquitto_passwd")
    if not exe:
        pytest.fail("mosquitto_passwd not found (apt-get install -y mosquitto)")
    first = True
    for user, pw in users.items():
        args = [exe, *(["-c"] if first else []), "-b", str(path), user, pw]
        r = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, f"{args} failed: {r.stdout}{r.stderr}"
        first = False
