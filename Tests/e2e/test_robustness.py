"""Protocol violations close only the offending connection; graceful shutdown."""

import itertools

import pytest

import mqtt_raw as R
from conftest import IS_MOSQUITTO


@pytest.fixture
def bystanders(mqtt):
    """A paho publisher/subscriber pair; check() proves the broker still routes."""
    sub = mqtt(5)
    sub.subscribe("bystander/#", 1)
    pub = mqtt(311)
    counter = itertools.count()

    def check():
        n = next(counter)
        pub.publish(f"bystander/{n}", f"{n}".encode(), qos=1)
        m, before = sub.get_on(f"bystander/{n}", 5)
        assert m.payload == f"{n}".encode() and before == []

    return check


def _topic(t: str) -> bytes:
    return R.utf8(t)


# (id, versions, bytes sent after a successful CONNECT, acceptable v5 DISCONNECT reasons)
MALFORMED = [
    ("garbage", [4, 5], b"\x00\x00\xde\xad\xbe\xef", {0x81, 0x82}),
    ("bad-remaining-length", [4, 5], b"\x30\xff\xff\xff\xff\x7f", {0x81, 0x82}),
    ("reserved-type-15", [4], b"\xf0\x00", set()),
    ("unexpected-auth", [5], b"\xf0\x00", {0x81, 0x82}),
    ("publish-qos-3", [4, 5], bytes([0x36]) + R.varint(2 + 3 + 2 + 1) + _topic("a/b") + b"\x00\x01" + b"\x00", {0x81, 0x82}),
    ("subscribe-bad-flags", [4, 5], None, {0x81, 0x82}),
    ("pubrel-bad-flags", [4, 5], b"\x60\x02\x00\x01", {0x81, 0x82}),
    ("server-only-packet", [4, 5], b"\x20\x02\x00\x00", {0x81, 0x82}),   # CONNACK from a client
]


def _bad_subscribe(version: int) -> bytes:
    good = R.subscribe(1, [("a/b", 0)], version=version)
    return bytes([0x80]) + good[1:]   # flags must be 0b0010


@pytest.mark.parametrize("case,version", [(c[0], v) for c in MALFORMED for v in c[1]])
def test_malformed_packet_closes_only_that_connection(raw, bystanders, case, version):
    name, versions, data, reasons = next(c for c in MALFORMED if c[0] == case)
    if data is None:
        data = _bad_subscribe(version)
    bystanders()
    c = raw(version)
    c.connect(f"bad-{case}")
    c.try_send(data)
    got = c.wait_closed(5)
    if version == 5:
        for p in got:
            assert p.type == R.DISCONNECT and p.reason in reasons, f"unexpected before close: {got!r}"
    else:
        assert got == [], f"v3.1.1 has no server DISCONNECT; got {got!r}"
    bystanders()
    # and new connections still work
    again = raw(version)
    again.connect(f"after-{case}")
    again.send(R.pingreq())
    assert again.recv(5).type == R.PINGRESP


@pytest.mark.parametrize("version", [4, 5])
def test_publish_with_wildcard_topic_is_rejected(raw, bystanders, mqtt, version):
    watcher = mqtt(5)
    watcher.subscribe("#", 1)
    c = raw(version)
    c.connect("wild-pub")
    c.try_send(R.publish("wild/#", b"x", qos=0, version=version))
    got = c.wait_closed(5)
    for p in got:
        # 0x90 Topic Name invalid is also a legitimate reason here
        assert p.type == R.DISCONNECT and p.reason in (0x81, 0x82, 0x90), got
    bystanders()
    leaked = [m.topic for m in watcher.drain() if not m.topic.startswith("bystander/")]
    assert leaked == []


@pytest.mark.parametrize("version", [4, 5])
def test_first_packet_must_be_connect(raw, bystanders, version):
    c = raw(version)
    c.send(R.pingreq())
    got = c.wait_closed(5)
    assert all(p.type == R.DISCONNECT for p in got), f"broker answered before CONNECT: {got!r}"
    bystanders()


@pytest.mark.parametrize("version", [4, 5])
def test_second_connect_is_protocol_error(raw, bystanders, version):
    c = raw(version)
    c.connect("twice")
    c.try_send(R.connect("twice", version=version))
    got = c.wait_closed(5)
    for p in got:
        assert p.type == R.DISCONNECT and p.reason == R.RC_PROTOCOL_ERROR, got
    bystanders()


def test_unsupported_protocol_level_refused(raw):
    c = raw(4)
    pkt = bytearray(R.connect("lvl", version=4))
    idx = pkt.index(b"MQTT") + 4
    pkt[idx] = 9                           # protocol level 9 does not exist
    c.send(bytes(pkt))
    got = c.wait_closed(5)
    # 3.1.1: CONNACK 0x01 (unacceptable protocol version) then close; closing is mandatory
    for p in got:
        assert p.type == R.CONNACK and p.reason in (0x01, 0x84), got


def test_many_clients_burst(mqtt):
    """A modest burst: 20 publishers x 10 QoS 1 messages to one subscriber."""
    sub = mqtt(5)
    sub.subscribe("burst/#", 1)
    pubs = [mqtt(311 if i % 2 else 5) for i in range(20)]
    for i, p in enumerate(pubs):
        for j in range(10):
            p.client.publish(f"burst/{i}", f"{i}:{j}".encode(), qos=1)
    got = {}
    for _ in range(200):
        m = sub.get(10)
        got.setdefault(m.topic, []).append(m.payload)
    # per-publisher order is preserved
    for i in range(20):
        assert got[f"burst/{i}"] == [f"{i}:{j}".encode() for j in range(10)]


# ------------------------------------------------------------------ shutdown


def _shutdown(broker, raw):
    v5 = raw(5)
    v5.connect("shutdown-v5")
    v4 = raw(4)
    v4.connect("shutdown-v4")
    broker.sigterm()
    got5 = v5.wait_closed(10)
    got4 = v4.wait_closed(10)
    rc = broker.wait_exit(10)
    assert rc is not None, "broker did not exit within 10s of SIGTERM"
    assert rc == 0, f"broker exit code {rc} after SIGTERM"
    assert got4 == [], got4
    return got5


def test_sigterm_closes_clients_and_exits(broker, raw):
    got5 = _shutdown(broker, raw)
    for p in got5:
        assert p.type == R.DISCONNECT and p.reason == R.RC_SERVER_SHUTTING_DOWN, got5


# rampart_only: Mosquitto 2.0.11 closes client sockets on SIGTERM without sending
# an MQTT 5 DISCONNECT; Rampart's spec requires DISCONNECT 0x8B (Server shutting down).
@pytest.mark.rampart_only(reason="Mosquitto 2.0.11 sends no DISCONNECT 0x8B on SIGTERM")
def test_sigterm_sends_v5_disconnect_0x8b(broker, raw):
    got5 = _shutdown(broker, raw)
    assert [(p.type, p.reason) for p in got5] == [(R.DISCONNECT, R.RC_SERVER_SHUTTING_DOWN)], got5
