"""Proves the rsyslog receiver fixture (rsyslog_receiver.py) with independent senders: util-linux
`logger` for UDP and TCP, Python's ssl module for TLS, so that the gateway's forwarding tests can
trust what the fixture reports.

Run: cd Tests/e2e && python3 -m pytest -x -q test_rsyslog_fixture.py
(needs: apt-get install -y rsyslog rsyslog-gnutls; scripts/setup does it)
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest

from rsyslog_receiver import RsyslogReceiver, rsyslog  # noqa: F401  (rsyslog is the fixture)

LOGGER = shutil.which("logger")


def _logger(receiver: RsyslogReceiver, kind: str, text: str) -> None:
    if LOGGER is None:
        pytest.fail("util-linux logger is not installed (package bsdutils)")
    transport = ["-T", "--octet-count"] if kind == "tcp" else ["-d"]
    subprocess.run([LOGGER, "--rfc5424", *transport, "-n", "127.0.0.1", "-P", str(receiver.port(kind)),
                    "-t", "fixture-test", text], check=True, timeout=10)


def _tls_frames(receiver: RsyslogReceiver, messages: list[str], server_name: str | None = None) -> None:
    """Sends octet-counted frames (RFC 5425) over TLS, verifying the receiver against receiver.ca_pem."""
    context = ssl.create_default_context(cadata=receiver.ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", receiver.port("tls")), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name or receiver.server_name) as tls:
            for message in messages:
                data = message.encode()
                tls.sendall(str(len(data)).encode() + b" " + data)
            # No unwrap(): rsyslog closes without answering close_notify.


def _marker() -> str:
    return uuid.uuid4().hex


def test_udp_message_arrives_as_sent(rsyslog):
    text = f"udp {_marker()}"
    _logger(rsyslog, "udp", text)
    lines = rsyslog.wait_for("udp", lambda ls: any(text in line for line in ls))
    line = next(line for line in lines if text in line)
    assert line.startswith("<13>1 "), line  # user.notice, RFC 5424 version 1: the raw message, no prefix added
    assert "fixture-test" in line
    assert rsyslog.lines("tcp") == [] and rsyslog.lines("tls") == []


def test_tcp_octet_counted_message_arrives_without_its_count(rsyslog):
    text = f"tcp {_marker()}"
    _logger(rsyslog, "tcp", text)
    lines = rsyslog.wait_for("tcp", lambda ls: any(text in line for line in ls))
    line = next(line for line in lines if text in line)
    assert line.startswith("<13>1 "), line
    assert line.endswith(text)


def test_tls_frames_arrive_in_order_newlines_and_utf8_intact(rsyslog):
    marker = _marker()
    messages = [f"<14>1 - host app - - - {marker} #{i}" for i in range(20)]
    messages.append(f"<14>1 - host app - - - {marker} two\nlines and \"quotes\" \\ and UTF-8: äöü €")
    _tls_frames(rsyslog, messages)
    lines = rsyslog.wait_for("tls", lambda ls: len([line for line in ls if marker in line]) >= len(messages))
    assert [line for line in lines if marker in line] == messages


def test_tls_receiver_certificate_names_localhost_and_is_issued_by_ca_pem(rsyslog):
    context = ssl.create_default_context(cadata=rsyslog.ca_pem)
    with socket.create_connection(("127.0.0.1", rsyslog.port("tls")), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            with context.wrap_socket(raw, server_hostname="not-the-receiver.example"):
                pass
    other = ssl.create_default_context()  # the system's CAs do not know the fixture's CA
    with socket.create_connection(("127.0.0.1", rsyslog.port("tls")), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            with other.wrap_socket(raw, server_hostname=rsyslog.server_name):
                pass


def test_stop_and_restart_keep_ports_and_received_lines(rsyslog):
    before = f"before {_marker()}"
    _logger(rsyslog, "tcp", before)
    rsyslog.wait_for("tcp", lambda ls: any(before in line for line in ls))
    pid = rsyslog.proc.pid
    ports = dict(rsyslog.ports)

    rsyslog.stop()
    assert not rsyslog.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ports["tcp"]), timeout=5).close()
    assert not _process_exists(pid)

    rsyslog.start()
    assert rsyslog.ports == ports and rsyslog.proc.pid != pid
    after = f"after {_marker()}"
    _logger(rsyslog, "tcp", after)
    _tls_frames(rsyslog, [f"<14>1 - host app - - - {after}"])
    _logger(rsyslog, "udp", after)
    lines = rsyslog.wait_for("tcp", lambda ls: any(after in line for line in ls))
    assert [i for i, line in enumerate(lines) if before in line] < [i for i, line in enumerate(lines) if after in line]
    rsyslog.wait_for("tls", lambda ls: any(after in line for line in ls))
    rsyslog.wait_for("udp", lambda ls: any(after in line for line in ls))

    rsyslog.restart()
    assert rsyslog.ports == ports
    again = f"again {_marker()}"
    _logger(rsyslog, "tcp", again)
    rsyslog.wait_for("tcp", lambda ls: any(again in line for line in ls))


def test_stop_leaves_no_rsyslogd_behind(tmp_path):
    receiver = RsyslogReceiver(tmp_path / "own")
    receiver.start()
    pid = receiver.proc.pid
    assert _process_exists(pid)
    assert receiver.pid_path.read_text().strip() == str(pid)
    receiver.close()
    assert not _process_exists(pid)
    assert not any(str(receiver.config_path) in cmdline for cmdline in _command_lines())


def test_configuration_leaves_the_system_logger_alone(rsyslog):
    config = rsyslog.config_path.read_text()
    assert "imuxsock" not in config and "imklog" not in config
    assert f'workDirectory="{rsyslog.work_directory}"' in config
    assert "/var/" not in config and "/dev/log" not in config


def _process_exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _command_lines() -> list[str]:
    result = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                result.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return result
