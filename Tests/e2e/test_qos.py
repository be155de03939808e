"""QoS 0/1/2 delivery with paho (MQTT 3.1.1 and 5) and at the packet level."""

import pytest

import mqtt_raw as R


@pytest.mark.parametrize("version", [311, 5])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_round_trip_paho(mqtt, version, qos):
    sub = mqtt(version)
    pub = mqtt(version)
    sub.subscribe("qos/rt", 2)
    payload = f"hello v{version} q{qos}".encode()
    pub.publish("qos/rt", payload, qos=qos)
    m = sub.get(5)
    assert m.topic == "qos/rt"
    assert m.payload == payload
    assert m.qos == qos          # min(publish QoS, granted QoS 2)
    assert not m.retain
    sub.expect_no_message(0.3)   # exactly one copy


@pytest.mark.parametrize("version", [311, 5])
def test_mixed_versions_and_qos_downgrade(mqtt, version):
    """A v3.1.1 subscriber gets a v5 publisher's message and vice versa; the delivery
    QoS is the minimum of the publish QoS and the granted QoS."""
    other = 5 if version == 311 else 311
    sub0 = mqtt(version)
    sub1 = mqtt(version)
    pub = mqtt(other)
    assert sub0.subscribe("qos/down", 0) == [0]
    assert sub1.subscribe("qos/down", 1) == [1]
    pub.publish("qos/down", b"x", qos=2)
    m0, m1 = sub0.get(5), sub1.get(5)
    assert (m0.qos, m0.payload) == (0, b"x")
    assert (m1.qos, m1.payload) == (1, b"x")


@pytest.mark.parametrize("version", [4, 5])
def test_qos2_packet_flow_and_exactly_once(raw, version):
    """Publisher side: PUBLISH -> PUBREC, a DUP re-send of the same packet id before
    PUBREL must not create a second delivery; PUBREL -> PUBCOMP.
    Subscriber side: PUBLISH(qos 2) -> PUBREC -> PUBREL -> PUBCOMP."""
    sub = raw(version)
    sub.connect("q2-sub")
    sub.subscribe("qos/two", 2)
    pub = raw(version)
    pub.connect("q2-pub")

    pub.send(R.publish("qos/two", b"once", qos=2, packet_id=7, version=version))
    rec = pub.recv_type(R.PUBREC)
    assert rec.packet_id == 7 and rec.reason == 0
    # retransmission with DUP before the flow completes
    pub.send(R.publish("qos/two", b"once", qos=2, packet_id=7, dup=True, version=version))
    rec2 = pub.recv_type(R.PUBREC)
    assert rec2.packet_id == 7
    pub.send(R.pubrel(7, version))
    comp = pub.recv_type(R.PUBCOMP)
    assert comp.packet_id == 7 and comp.reason == 0

    msg = sub.recv_publish(5, auto_ack=False)
    assert (msg.topic, msg.payload, msg.qos) == ("qos/two", b"once", 2)
    assert msg.packet_id
    sub.send(R.pubrec(msg.packet_id, version))
    rel = sub.recv_type(R.PUBREL)
    assert rel.packet_id == msg.packet_id
    assert rel.flags == 0x02
    sub.send(R.pubcomp(msg.packet_id, version))
    # no second copy of the message
    sub.expect_silence(0.5)


@pytest.mark.parametrize("version", [4, 5])
def test_qos1_puback(raw, version):
    sub = raw(version)
    sub.connect("q1-sub")
    sub.subscribe("qos/one", 1)
    pub = raw(version)
    pub.connect("q1-pub")
    ack = pub.publish("qos/one", b"p1", qos=1)
    assert ack.type == R.PUBACK and ack.reason == 0
    msg = sub.recv_publish(5, auto_ack=False)
    assert (msg.topic, msg.payload, msg.qos, msg.dup) == ("qos/one", b"p1", 1, False)
    sub.send(R.puback(msg.packet_id, version))
    sub.expect_silence(0.3)
