"""MQTT over WebSockets: `listener PORT 127.0.0.1` + `protocol websockets`
in a mosquitto.conf run by `rampart broker -c`.

Against Mosquitto (E2E_BROKER=mosquitto) these tests need a Mosquitto built
with websockets support. Debian 12's mosquitto 2.0.11 package is built
without it ("Opening websockets listen socket" then "Unable to start any
listening sockets"), so there the whole module is skipped; the probe below
decides that by actually starting such a listener.
"""

from __future__ import annotations

import socket
import time

import pytest

from broker_config import ConfBroker, conf_broker  # noqa: F401
from conftest import IS_MOSQUITTO

WS_CONF = """\
listener {{ws_port}} 127.0.0.1
protocol websockets
allow_anonymous true
"""

MIXED_CONF = """\
# one plain MQTT and one MQTT-over-WebSockets listener
listener {{port}} 127.0.0.1
protocol mqtt

listener {{ws_port}} 127.0.0.1
protocol websockets

allow_anonymous true
"""

_ws_support: dict[str, bool] = {}


def _mosquitto_has_websockets() -> bool:
    if "ok" not in _ws_support:
        b = ConfBroker("mosquitto-websockets-probe")
        try:
            b.start(WS_CONF)
            _ws_support["ok"] = True
        except RuntimeError:
            _ws_support["ok"] = False
        finally:
            b.cleanup()
    return _ws_support["ok"]


@pytest.fixture(autouse=True)
def _require_websockets():
    if IS_MOSQUITTO and not _mosquitto_has_websockets():
        pytest.skip("this Mosquitto build has no websockets support (Debian 12's 2.0.11 package); "
                    "the tests cannot be cross-checked here")


@pytest.mark.parametrize("version", [311, 5])
def test_websockets_publish_and_receive(conf_broker, version):
    b = conf_broker.start(WS_CONF)
    port = b.ports["ws_port"]
    sub = b.client(port, version=version, client_id=f"ws-sub-{version}", transport="websockets")
    sub.connect()
    sub.subscribe("ws/+/t", 1)
    pub = b.client(port, version=version, client_id=f"ws-pub-{version}", transport="websockets")
    pub.connect()
    pub.publish("ws/a/t", b"over websockets", qos=1)
    pub.publish("ws/b/t", bytes(range(256)) * 300, qos=0)     # 76.8 kB: several frames' worth
    m1, m2 = sub.get(), sub.get()
    assert (m1.topic, m1.payload, m1.qos) == ("ws/a/t", b"over websockets", 1)
    assert (m2.topic, m2.payload) == ("ws/b/t", bytes(range(256)) * 300)


@pytest.mark.parametrize("version", [311, 5])
def test_websockets_and_tcp_listeners_share_one_broker(conf_broker, version):
    b = conf_broker.start(MIXED_CONF)
    ws_sub = b.client(b.ports["ws_port"], version=version, client_id="ws-sub", transport="websockets")
    ws_sub.connect()
    ws_sub.subscribe("mixed/#", 1)
    tcp_sub = b.client(b.port, version=version, client_id="tcp-sub")
    tcp_sub.connect()
    tcp_sub.subscribe("mixed/#", 1)

    tcp_pub = b.client(b.port, version=version, client_id="tcp-pub")
    tcp_pub.connect()
    tcp_pub.publish("mixed/from-tcp", b"tcp", qos=1)
    m, _ = ws_sub.get_on("mixed/from-tcp")
    assert m.payload == b"tcp"

    ws_pub = b.client(b.ports["ws_port"], version=version, client_id="ws-pub", transport="websockets")
    ws_pub.connect()
    ws_pub.publish("mixed/from-ws", b"ws", qos=1)
    m, _ = tcp_sub.get_on("mixed/from-ws")
    assert m.payload == b"ws"


def test_plain_mqtt_on_websockets_port_is_not_accepted(conf_broker):
    import mqtt_raw as R
    b = conf_broker.start(WS_CONF)
    with socket.create_connection(("127.0.0.1", b.ports["ws_port"]), timeout=5) as s:
        s.sendall(R.connect("raw-on-ws", version=4))
        s.settimeout(5)
        try:
            data = s.recv(4096)
        except socket.timeout:
            data = b""            # waiting for the rest of an HTTP request: fine
        except ConnectionResetError:
            data = b""
    assert not data.startswith(b"\x20"), f"websockets listener answered raw MQTT with {data!r}"


def test_plain_http_get_does_not_hang(conf_broker):
    # A browser/health-check style GET without "Upgrade: websocket" must get an
    # HTTP error status or a closed connection, within a bound - not a hang.
    b = conf_broker.start(WS_CONF)
    deadline = time.monotonic() + 10.0
    data = b""
    closed = False
    with socket.create_connection(("127.0.0.1", b.ports["ws_port"]), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        while b"\r\n" not in data and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
    status_line = data.split(b"\r\n", 1)[0]
    if status_line:
        parts = status_line.split()
        assert len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit(), \
            f"not an HTTP response: {data[:200]!r}"
        assert int(parts[1]) >= 400, f"plain GET got a non-error status: {status_line!r}"
    else:
        assert closed, "plain HTTP GET to the websockets listener got no answer within 10s"
    # the broker is still serving websockets afterwards
    c = b.client(b.ports["ws_port"], version=5, client_id="after-get", transport="websockets")
    c.connect()
