"""Persistent sessions (v3.1.1 clean session 0, v5 clean start 0 + session expiry),
clean sessions, in-flight redelivery, and session take-over."""

import time

import pytest

import mqtt_raw as R


def _offline_publish(mqtt, topic="sess/t"):
    # QoS 0 first: once the QoS 2 flow completes, the broker has handled all three
    pub = mqtt(5)
    pub.publish(topic, b"m-qos0", qos=0)
    pub.publish(topic, b"m-qos1", qos=1)
    pub.publish(topic, b"m-qos2", qos=2)


def _queued(sub, n=2, timeout=5.0):
    """The next `n` messages, ignoring QoS 0 ones (queueing QoS 0 for offline
    clients is optional: Mosquitto doesn't by default)."""
    out = []
    while len(out) < n:
        m = sub.get(timeout)
        if m.qos > 0:
            out.append(m)
    return out


def test_v311_persistent_session_queues_qos1_qos2(mqtt):
    sub = mqtt(311, "ps-311", clean=False)
    assert sub.connack.session_present is False
    sub.subscribe("sess/t", 2)
    sub.disconnect()
    _offline_publish(mqtt)
    sub2 = mqtt(311, "ps-311", clean=False)
    assert sub2.connack.session_present is True
    got = _queued(sub2)
    assert [(m.payload, m.qos) for m in got] == [(b"m-qos1", 1), (b"m-qos2", 2)]
    # the subscription survived too, and nothing is delivered twice
    mqtt(311).publish("sess/t", b"after", qos=1)
    assert [m.payload for m in _queued(sub2, 1)] == [b"after"]


def test_v5_persistent_session_queues_qos1_qos2(mqtt):
    sub = mqtt(5, "ps-5", clean=False, session_expiry=60)
    assert sub.connack.session_present is False
    sub.subscribe("sess/t", 2)
    sub.disconnect()
    _offline_publish(mqtt)
    sub2 = mqtt(5, "ps-5", clean=False, session_expiry=60)
    assert sub2.connack.session_present is True
    got = _queued(sub2)
    assert [(m.payload, m.qos) for m in got] == [(b"m-qos1", 1), (b"m-qos2", 2)]


def test_v311_clean_session_discards_queue(mqtt, sync_retained):
    sub = mqtt(311, "cs-311", clean=False)
    sub.subscribe("sess/t", 2)
    sub.disconnect()
    _offline_publish(mqtt)
    sub2 = mqtt(311, "cs-311", clean=True)
    assert sub2.connack.session_present is False
    before = sync_retained(sub2)
    assert before == [], f"clean session still got queued messages: {[m.payload for m in before]}"
    # and the old subscription is gone
    mqtt(311).publish("sess/t", b"after", qos=1)
    sub2.expect_no_message(0.5)


def test_v5_clean_start_discards_queue(mqtt, sync_retained):
    sub = mqtt(5, "cs-5", clean=False, session_expiry=60)
    sub.subscribe("sess/t", 2)
    sub.disconnect()
    _offline_publish(mqtt)
    sub2 = mqtt(5, "cs-5", clean=True)
    assert sub2.connack.session_present is False
    before = sync_retained(sub2)
    assert before == []


def test_v5_session_expiry_zero_ends_session_at_disconnect(mqtt, sync_retained):
    """clean start 0 but no Session Expiry Interval (= 0): the session ends with the
    connection, so nothing is kept."""
    sub = mqtt(5, "se0", clean=False)
    sub.subscribe("sess/t", 2)
    sub.disconnect()
    _offline_publish(mqtt)
    sub2 = mqtt(5, "se0", clean=False, session_expiry=60)
    assert sub2.connack.session_present is False
    assert sync_retained(sub2) == []


def test_v5_session_expires(mqtt):
    sub = mqtt(5, "se1", clean=False, session_expiry=1)
    sub.subscribe("sess/t", 2)
    sub.disconnect()
    time.sleep(2.2)    # time-based: let the 1 s session expiry pass
    sub2 = mqtt(5, "se1", clean=False, session_expiry=60)
    assert sub2.connack.session_present is False


@pytest.mark.parametrize("version", [4, 5])
def test_unacked_qos1_redelivered_with_dup_on_reconnect(mqtt, raw, version):
    props = {R.SESSION_EXPIRY_INTERVAL: 60} if version == 5 else None
    c = raw(version)
    c.connect("redeliver", clean=False, props=props)
    c.subscribe("sess/r", 1)
    mqtt(5).publish("sess/r", b"ack me", qos=1)
    first = c.recv_publish(5, auto_ack=False)
    assert (first.payload, first.dup) == (b"ack me", False)
    c.close()      # never acknowledged
    c2 = raw(version)
    ack = c2.connect("redeliver", clean=False, props=props)
    assert ack.session_present is True
    again = c2.recv_publish(5, auto_ack=False)
    assert again.payload == b"ack me"
    assert again.qos == 1
    assert again.dup is True
    assert again.packet_id == first.packet_id
    c2.send(R.puback(again.packet_id, version))
    c2.expect_silence(0.5)


def _take_over(raw, mqtt, version):
    props = {R.SESSION_EXPIRY_INTERVAL: 60} if version == 5 else None
    first = raw(version)
    first.connect("takeover", clean=False, props=props)
    first.subscribe("sess/take", 1)
    second = raw(version)
    ack = second.connect("takeover", clean=False, props=props)
    assert ack.session_present is True
    got = first.wait_closed(5)
    # the session (with its subscription) now belongs to the second connection
    mqtt(5).publish("sess/take", b"to second", qos=1)
    m = second.recv_publish(5)
    assert m.payload == b"to second"
    return got


@pytest.mark.parametrize("version", [4, 5])
def test_session_takeover_closes_first_connection(raw, mqtt, version):
    got = _take_over(raw, mqtt, version)
    if version == 5:
        # a DISCONNECT before the close is optional here, but if sent it must say 0x8E
        assert all(p.type == R.DISCONNECT and p.reason == R.RC_SESSION_TAKEN_OVER for p in got), got
    else:
        assert got == [], f"v3.1.1 connection got packets before close: {got!r}"


# rampart_only: Mosquitto 2.0.11 closes the old connection silently ("Client ... already
# connected, closing old connection.") without sending DISCONNECT 0x8E, which MQTT 5
# only says the server SHOULD send; Rampart's spec requires it.
@pytest.mark.rampart_only(reason="Mosquitto 2.0.11 sends no DISCONNECT 0x8E on take-over")
def test_v5_session_takeover_sends_disconnect_0x8e(raw, mqtt):
    got = _take_over(raw, mqtt, 5)
    assert [p.type for p in got] == [R.DISCONNECT], f"first connection got {got!r}"
    assert got[0].reason == R.RC_SESSION_TAKEN_OVER


@pytest.mark.broker_opts(max_queued_messages=5)
@pytest.mark.parametrize("version", [311, 5])
def test_offline_queue_is_bounded(mqtt, version):
    """--max-queued-messages 5: at most 5 QoS 1 messages are kept for an offline
    client; later ones are dropped, the kept ones arrive in order."""
    kw = {"session_expiry": 60} if version == 5 else {}
    sub = mqtt(version, "bounded", clean=False, **kw)
    sub.subscribe("sess/q", 1)
    sub.disconnect()
    pub = mqtt(5)
    for i in range(12):
        pub.publish("sess/q", str(i).encode(), qos=1)
    sub2 = mqtt(version, "bounded", clean=False, **kw)
    assert sub2.connack.session_present
    got = [sub2.get(5).payload]
    while True:
        try:
            got.append(sub2.get(0.7).payload)
        except AssertionError:
            break
    nums = [int(p) for p in got]
    assert nums == sorted(nums), nums
    assert len(nums) == 5, f"expected exactly 5 queued messages, got {nums}"
