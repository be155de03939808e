"""A real rsyslog as the receiver of the gateway's syslog forwarding.

`RsyslogReceiver` runs its own `rsyslogd -n` (Debian 12: rsyslog 8.2302, TLS through the
rsyslog-gnutls package) from a generated configuration in a private directory, listening on
127.0.0.1 on three free ports:

- "udp": imudp, RFC 5426;
- "tcp": imtcp, plain TCP (octet counting, RFC 6587, or LF-terminated frames);
- "tls": imtcp with the gtls driver in TLS-only mode (RFC 5425), anonymous client
  authentication; the server certificate (names "localhost" and 127.0.0.1) is issued by a CA
  made here, whose PEM is `receiver.ca_pem` (file: `receiver.ca_path`).

Each input has its own ruleset writing every received message's raw text (`%rawmsg%`: the
message as it came off the wire, without the octet-count prefix) to `<kind>.log`, one message
per line. So that a message containing newlines still takes one line, the template writes the
raw text with rsyslog's `json` property option (JSON string escaping, without the quotes);
`lines()` undoes it. rsyslog's own reception-time changes are switched off
(parser.escapeControlCharactersOnReceive, parser.dropTrailingLFOnReception), so `lines()`
returns exactly the bytes sent, as text.

It leaves the system's rsyslog alone: own configuration file, pid file and work directory
(`global(workDirectory=...)`), and no imuxsock or imklog, so it reads neither /dev/log nor the
kernel log. `stop()` ends the process (SIGTERM, SIGKILL if it does not exit) and waits for it.

Use it as the pytest fixture `rsyslog` of this module (import it into the test module:
`from rsyslog_receiver import rsyslog`), or as a context manager.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KINDS = ("udp", "tcp", "tls")
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def rsyslogd_path() -> str | None:
    return shutil.which("rsyslogd") or next(
        (p for p in ("/usr/sbin/rsyslogd", "/sbin/rsyslogd") if Path(p).exists()), None)


class RsyslogReceiver:
    """One private rsyslogd with a UDP, a TCP and a TLS input; see the module's description."""

    server_name = "localhost"

    def __init__(self, directory: Path | None = None):
        self._own_directory = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="rsyslog-")) if directory is None else Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.work_directory = self.directory / "work"
        self.work_directory.mkdir(exist_ok=True)
        self.config_path = self.directory / "rsyslog.conf"
        self.pid_path = self.directory / "rsyslogd.pid"
        self.log_path = self.directory / "rsyslogd.log"
        self.internal_log_path = self.directory / "rsyslogd-internal.log"
        self.ca_path = self.directory / "ca.pem"
        self.cert_path = self.directory / "server.pem"
        self.key_path = self.directory / "server.key"
        self.ports = {"udp": _free_port(socket.SOCK_DGRAM), "tcp": _free_port(socket.SOCK_STREAM)}
        self.ports["tls"] = _free_port(socket.SOCK_STREAM, besides=self.ports["tcp"])
        self.ca_pem = _write_certificates(self.ca_path, self.cert_path, self.key_path, self.server_name)
        self.config_path.write_text(self._config())
        self.proc: subprocess.Popen | None = None
        self._logf = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Starts rsyslogd and returns once all three inputs listen."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("rsyslogd is already running")
        binary = rsyslogd_path()
        if binary is None:
            raise RuntimeError("rsyslogd is not installed (scripts/setup installs rsyslog and rsyslog-gnutls)")
        check = subprocess.run([binary, "-N1", "-f", str(self.config_path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"rsyslogd rejects {self.config_path}:\n{check.stdout}{check.stderr}")
        self.pid_path.unlink(missing_ok=True)
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "-n", "-f", str(self.config_path), "-i", str(self.pid_path)],
            stdout=self._logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._listening():
            if self.proc.poll() is not None:
                self._close_log()
                raise RuntimeError(f"rsyslogd exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rsyslogd did not listen on {self.ports} within {READY_TIMEOUT} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Ends rsyslogd (SIGTERM; SIGKILL after STOP_TIMEOUT) and waits for it. The received lines stay."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        self._close_log()

    def restart(self) -> None:
        """Stops and starts again on the same ports."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stops and, when it made its directory itself, removes it."""
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "RsyslogReceiver":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ what arrived

    def port(self, kind: str) -> int:
        return self.ports[_kind(kind)]

    def output_path(self, kind: str) -> Path:
        return self.directory / f"{_kind(kind)}.log"

    def lines(self, kind: str) -> list[str]:
        """The raw text of every message received on `kind`'s input so far (across restarts), in order."""
        try:
            data = self.output_path(kind).read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return []
        # rsyslog writes whole lines; a last line without its newline is still being written.
        complete = data.split("\n")[:-1]
        return [json.loads(f'"{line}"') for line in complete]

    def wait_for(self, kind: str, predicate: Callable[[list[str]], object], timeout: float = 10.0) -> list[str]:
        """Waits until `predicate(lines(kind))` is true and returns those lines; fails with what arrived."""
        deadline = time.monotonic() + timeout
        while True:
            received = self.lines(kind)
            if predicate(received):
                return received
            if time.monotonic() > deadline:
                tail = "\n".join(repr(line) for line in received[-10:])
                raise AssertionError(
                    f"rsyslog {kind} input ({self.port(kind)}): condition not met within {timeout} s; "
                    f"{len(received)} messages, the last ones:\n{tail}\nrsyslogd log:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, count: int = 40) -> str:
        """The end of rsyslogd's output and of its own messages (errors about inputs, TLS sessions ...)."""
        lines = []
        for path in (self.log_path, self.internal_log_path):
            try:
                lines += path.read_text(errors="replace").splitlines()
            except OSError:
                pass
        return "\n".join(lines[-count:]) or "(rsyslogd wrote nothing)"

    # ------------------------------------------------------------------ internals

    def _config(self) -> str:
        output = {kind: self.output_path(kind) for kind in KINDS}
        return f"""# Generated by Tests/e2e/rsyslog_receiver.py: a private rsyslogd for the tests.
global(
    workDirectory="{self.work_directory}"
    maxMessageSize="64k"
    net.enableDNS="off"
    parser.escapeControlCharactersOnReceive="off"
    parser.dropTrailingLFOnReception="off"
)

module(load="imudp")
module(load="imtcp" maxSessions="200")

template(name="rawJSONLine" type="string" string="%rawmsg:::json%\\n")

input(type="imudp" address="127.0.0.1" port="{self.ports['udp']}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{self.ports['tcp']}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{self.ports['tls']}" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="{self.ca_path}" streamDriver.CertFile="{self.cert_path}"
      streamDriver.KeyFile="{self.key_path}")

ruleset(name="udp") {{ action(type="omfile" file="{output['udp']}" template="rawJSONLine") }}
ruleset(name="tcp") {{ action(type="omfile" file="{output['tcp']}" template="rawJSONLine") }}
ruleset(name="tls") {{ action(type="omfile" file="{output['tls']}" template="rawJSONLine") }}

# The default ruleset gets only rsyslogd's own messages (every input has its ruleset): errors for log_tail().
*.* action(type="omfile" file="{self.internal_log_path}")
"""

    def _listening(self) -> bool:
        return (self.ports["udp"] in _bound_ports("/proc/net/udp", None)
                and {self.ports["tcp"], self.ports["tls"]} <= _bound_ports("/proc/net/tcp", "0A"))

    def _close_log(self) -> None:
        if self._logf is not None:
            self._logf.close()
            self._logf = None


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown input {kind!r}: one of {', '.join(KINDS)}")
    return kind


def _free_port(kind: int, besides: int | None = None) -> int:
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != besides:
            return port


def _bound_ports(table: str, state: str | None) -> set[int]:
    """Ports bound on 127.0.0.1 in /proc/net/{tcp,udp}, in `state` (0A: LISTEN) when given."""
    ports = set()
    with open(table) as f:
        next(f)
        for row in f:
            fields = row.split()
            address, port = fields[1].split(":")
            if address == "0100007F" and (state is None or fields[3] == state):
                ports.add(int(port, 16))
    return ports


def _write_certificates(ca_path: Path, cert_path: Path, key_path: Path, server_name: str) -> str:
    """A CA and a server certificate it issued for `server_name` and 127.0.0.1 (P-256). Returns the CA PEM."""
    now = datetime.datetime.now(datetime.timezone.utc)
    validity = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rampart e2e syslog CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(validity[0]).not_valid_after(validity[1])
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(validity[0]).not_valid_after(validity[1])
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(server_name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))

    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    ca_path.write_text(ca_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_pem


@pytest.fixture
def rsyslog(tmp_path) -> Iterator[RsyslogReceiver]:
    """A started RsyslogReceiver in the test's tmp_path; stopped (no rsyslogd left) after the test."""
    if rsyslogd_path() is None:
        pytest.fail("rsyslogd is not installed: run scripts/setup (it installs rsyslog and rsyslog-gnutls)")
    receiver = RsyslogReceiver(tmp_path / "rsyslog")
    try:
        receiver.start()
        yield receiver
    finally:
        receiver.close()
