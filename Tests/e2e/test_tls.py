"""TLS listeners configured with mosquitto.conf options: `cafile`, `certfile`,
`keyfile`, `require_certificate`, `use_identity_as_username` (`rampart broker -c`)."""

from __future__ import annotations

import queue
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

import mqtt_raw as R
from broker_config import TLSRawClient, conf_broker, generate_pki, install_pki, pki_pem  # noqa: F401

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed")
STDBUF = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []

TLS_CONF = """\
# TLS listener, anonymous clients allowed
listener {{port}} 127.0.0.1
cafile {{dir}}/certs/ca.pem
certfile {{dir}}/certs/server.pem
keyfile {{dir}}/certs/server.key
allow_anonymous true
"""

MTLS_CONF = """\
listener {{port}} 127.0.0.1
cafile {{dir}}/certs/ca.pem
certfile {{dir}}/certs/server.pem
keyfile {{dir}}/certs/server.key
require_certificate true
use_identity_as_username true
allow_anonymous false
acl_file {{dir}}/acl
"""

# Only the user "alice" (= the CN of alice's certificate) gets any access.
MTLS_ACL = """\
user alice
topic readwrite alice/#
"""


@pytest.fixture
def tls_broker(conf_broker, pki_pem):
    b = conf_broker.new()
    b.certs = install_pki(b, pki_pem)
    return b.start(TLS_CONF)


@pytest.fixture
def mtls_broker(conf_broker, pki_pem):
    b = conf_broker.new()
    b.certs = install_pki(b, pki_pem)
    b.write("acl", MTLS_ACL)
    return b.start(MTLS_CONF)


def s_client(port: int, ca: Path, *extra: str, timeout: float = 15.0) -> tuple[int, str]:
    r = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(ca), *extra],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def negotiated(out: str) -> str | None:
    """The protocol of a completed handshake from s_client's 'New, TLSv1.3, Cipher is X' line."""
    m = re.search(r"^New, (TLSv[\d.]+), Cipher is (\S+)", out, re.M)
    return m.group(1) if m and m.group(2) != "(NONE)" else None


# ------------------------------------------------------------------ server-only TLS

@needs_openssl
@pytest.mark.parametrize("version_flag,expected", [
    ([], ("TLSv1.2", "TLSv1.3")),
    (["-tls1_2"], ("TLSv1.2",)),
    (["-tls1_3"], ("TLSv1.3",)),
])
def test_openssl_s_client_verifies_server_certificate(tls_broker, version_flag, expected):
    rc, out = s_client(tls_broker.port, tls_broker.certs["ca"], *version_flag)
    assert rc == 0, f"s_client failed (rc {rc}):\n{out}"
    assert "Verify return code: 0 (ok)" in out, out
    assert negotiated(out) in expected, f"expected one of {expected}:\n{out}"
    assert re.search(r"^subject=.*CN ?= ?localhost", out, re.M), out


@needs_openssl
def test_tls_1_1_is_refused(tls_broker):
    # SECLEVEL=0 so that it is the server, not OpenSSL 3's client defaults, that
    # has to refuse TLS 1.1 (Mosquitto 2.0 allows only TLS 1.2 and 1.3 by default).
    rc, out = s_client(tls_broker.port, tls_broker.certs["ca"], "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert rc != 0 and negotiated(out) is None, f"TLS 1.1 handshake was accepted:\n{out}"
    assert "no protocols available" not in out, f"the client, not the server, refused TLS 1.1:\n{out}"


class CliSub:
    """mosquitto_sub -d in the background; stdout lines go to a queue."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(STDBUF + ["mosquitto_sub", "-d", "-W", "30", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True)
        self.lines: "queue.Queue[str | None]" = queue.Queue()
        self.transcript: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, pred, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None:
                raise AssertionError("mosquitto_sub exited:\n" + "\n".join(self.transcript))
            self.transcript.append(line)
            if pred(line):
                return line
            if time.monotonic() > deadline:
                raise AssertionError("mosquitto_sub output never matched:\n" + "\n".join(self.transcript))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()


@pytest.mark.cli
@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_pub_sub_round_trip_over_tls(tls_broker, version):
    ca = str(tls_broker.certs["ca"])
    common = ["--cafile", ca, "-h", "localhost", "-p", str(tls_broker.port), "-V", version]
    sub = CliSub(common + ["-t", "tls/t", "-q", "1", "-i", f"tls-sub-{version}"])
    try:
        sub.wait_line(lambda l: "received SUBACK" in l)
        r = subprocess.run(["mosquitto_pub", *common, "-t", "tls/t", "-m", "over-tls", "-q", "1"],
                           capture_output=True, text=True, timeout=15)
        assert r.returncode == 0, f"mosquitto_pub failed: {r.stdout}{r.stderr}"
        sub.wait_line(lambda l: l == "over-tls")
    finally:
        sub.stop()


@pytest.mark.cli
def test_mosquitto_pub_rejects_server_signed_by_other_ca(tls_broker, tmp_path):
    # The client side of verification: a CA that did not sign the server cert fails.
    other = generate_pki(tmp_path / "other", clients=())
    r = subprocess.run(["mosquitto_pub", "--cafile", str(other["ca"]), "-h", "localhost",
                        "-p", str(tls_broker.port), "-t", "t", "-m", "x"],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode != 0, f"mosquitto_pub trusted a server cert from another CA: {r.stdout}{r.stderr}"


def _read_until_eof(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Everything the peer sends until it closes; (data, closed_within_timeout)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return data, False
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            return data, False
        except (ConnectionResetError, ConnectionAbortedError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


@pytest.mark.parametrize("version", [4, 5])
def test_plain_mqtt_to_tls_port_fails(tls_broker, version):
    with socket.create_connection(("127.0.0.1", tls_broker.port), timeout=5) as s:
        s.sendall(R.connect("plain-on-tls", version=version))
        data, closed = _read_until_eof(s, 10.0)
    assert not data.startswith(b"\x20"), f"broker answered plain MQTT on the TLS port: {data!r}"
    assert closed, f"broker kept the plain-TCP connection open for 10s (received {data!r})"


def test_paho_tls_client_round_trip(tls_broker):
    c = tls_broker.client(version=5, client_id="paho-tls", ca=tls_broker.certs["ca"])
    c.connect()
    c.subscribe("tls/paho", 1)
    c.publish("tls/paho", b"hello", qos=1)
    m = c.get()
    assert (m.topic, m.payload) == ("tls/paho", b"hello")


# ------------------------------------------------------------------ mutual TLS

def _mqtt_over_tls_refused(port: int, ca: Path, cert=None, key=None, version: int = 4) -> str:
    """Try TLS + MQTT CONNECT; return why it was refused. Fails if a CONNACK 0 arrives."""
    try:
        c = TLSRawClient(port, ca=ca, cert=cert, key=key, version=version)
    except (ssl.SSLError, OSError) as e:
        return f"handshake failed: {e!r}"
    try:
        try:
            c.send(R.connect("no-cert", version=version))
        except (ssl.SSLError, OSError) as e:
            return f"send failed: {e!r}"
        try:
            pkt = c.recv(10.0)
        except (ssl.SSLError, OSError) as e:
            return f"read failed: {e!r}"
        if pkt is None:
            return "closed after handshake"
        assert pkt.type == R.CONNACK and pkt.reason != 0, f"client was accepted: {pkt!r}"
        return f"refused with {pkt!r}"
    finally:
        c.close()


@pytest.mark.parametrize("version", [4, 5])
def test_mtls_client_without_certificate_is_refused(mtls_broker, version):
    why = _mqtt_over_tls_refused(mtls_broker.port, mtls_broker.certs["ca"], version=version)
    assert why
    print("refused:", why)


def test_mtls_client_certificate_from_untrusted_ca_is_refused(mtls_broker, tmp_path):
    rogue = generate_pki(tmp_path / "rogue", clients=("alice",))   # same CN, wrong CA
    why = _mqtt_over_tls_refused(mtls_broker.port, mtls_broker.certs["ca"],
                                 cert=rogue["alice_cert"], key=rogue["alice_key"])
    assert why
    print("refused:", why)


@pytest.mark.parametrize("version", [311, 5])
def test_mtls_certificate_cn_becomes_username(mtls_broker, version):
    certs = mtls_broker.certs
    alice = mtls_broker.client(version=version, client_id=f"alice-{version}", ca=certs["ca"],
                               cert=certs["alice_cert"], key=certs["alice_key"])
    alice.connect()
    alice.subscribe("alice/x", 1)
    # Not readable for alice: Mosquitto grants the SUBSCRIBE and filters delivery;
    # Rampart may refuse it (0x80/0x87) - either way nothing may arrive on it.
    alice.subscribe("bob/x", 1, expect_granted=False)

    # bob has a valid certificate but no ACL entry: he can connect but not write alice/x.
    bob = mtls_broker.client(version=version, client_id=f"bob-{version}", ca=certs["ca"],
                             cert=certs["bob_cert"], key=certs["bob_key"])
    bob.connect()
    bob.publish("alice/x", b"from-bob", qos=1)

    alice.publish("bob/x", b"denied", qos=1)          # not writable for alice
    alice.publish("alice/x", b"allowed", qos=1)
    m, before = alice.get_on("alice/x", 5.0)
    assert m.payload == b"allowed"
    assert before == [], f"alice received messages the ACL should have blocked: " \
                         f"{[(x.topic, x.payload) for x in before]}"
    alice.expect_no_message(0.3)
