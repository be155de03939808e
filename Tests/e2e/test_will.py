"""Will messages: abnormal vs normal disconnect, v5 Will Delay Interval, and v5
DISCONNECT with reason 0x04 (Disconnect with Will Message)."""

import time

import pytest

import mqtt_raw as R


def _sync(mqtt, sub, topic="will/sync"):
    """Round-trip a marker message through the broker to `sub` (already subscribed
    to will/#); returns the messages `sub` got before the marker."""
    p = mqtt(sub.version)
    p.publish(topic, b"marker", qos=1)
    _, before = sub.get_on(topic, 5)
    return before


@pytest.mark.parametrize("version", [4, 5])
def test_will_on_abnormal_disconnect(mqtt, raw, version):
    sub = mqtt(5 if version == 5 else 311)
    sub.subscribe("will/#", 1)
    c = raw(version)
    c.connect("will-owner", will_topic="will/dead", will_payload=b"gone", will_qos=1)
    c.close()   # TCP close without DISCONNECT
    m = sub.get(5)
    assert (m.topic, m.payload, m.qos) == ("will/dead", b"gone", 1)


@pytest.mark.parametrize("version", [4, 5])
def test_will_retained(mqtt, raw, version):
    c = raw(version)
    c.connect("will-ret", will_topic="will/ret", will_payload=b"last", will_qos=1, will_retain=True)
    watcher = mqtt(5 if version == 5 else 311)
    watcher.subscribe("will/ret", 1)
    c.close()
    assert watcher.get(5).payload == b"last"
    late = mqtt(5 if version == 5 else 311)
    late.subscribe("will/ret", 1)
    m = late.get(5)
    assert (m.payload, m.retain) == (b"last", True)


@pytest.mark.parametrize("version", [4, 5])
def test_no_will_on_normal_disconnect(mqtt, raw, version):
    sub = mqtt(5 if version == 5 else 311)
    sub.subscribe("will/#", 1)
    c = raw(version)
    c.connect("will-polite", will_topic="will/dead", will_payload=b"gone", will_qos=1)
    c.send(R.disconnect(0, version=version))
    # the broker closes the connection after DISCONNECT; then the will would be due
    c.wait_closed(5)
    before = _sync(mqtt, sub)
    assert before == [], f"will published after a normal DISCONNECT: {[(m.topic, m.payload) for m in before]}"
    sub.expect_no_message(0.5)


def test_v5_disconnect_with_will_message_reason(mqtt, raw):
    sub = mqtt(5)
    sub.subscribe("will/#", 1)
    c = raw(5)
    c.connect("will-04", will_topic="will/asked", will_payload=b"please", will_qos=1)
    c.send(R.disconnect(R.RC_DISCONNECT_WITH_WILL))
    m = sub.get(5)
    assert (m.topic, m.payload) == ("will/asked", b"please")


def test_v5_will_delay_interval(mqtt, raw):
    """Session expiry (30 s) > will delay (2 s): the will is published only after the delay."""
    sub = mqtt(5)
    sub.subscribe("will/#", 1)
    c = raw(5)
    c.connect("will-delay", clean=True, props={R.SESSION_EXPIRY_INTERVAL: 30},
              will_topic="will/late", will_payload=b"delayed", will_qos=1,
              will_props={R.WILL_DELAY_INTERVAL: 2})
    t0 = time.monotonic()
    c.close()
    sub.expect_no_message(1.2)          # time-based behaviour: nothing during the delay
    m = sub.get(6)
    elapsed = m.received_at - t0
    assert (m.topic, m.payload) == ("will/late", b"delayed")
    assert 1.8 <= elapsed <= 6.0, f"will arrived {elapsed:.2f}s after the disconnect (delay 2s)"


def test_v5_will_delay_cancelled_by_reconnect(mqtt, raw):
    """Reconnecting to the same session (clean start 0) within the will delay: no will."""
    sub = mqtt(5)
    sub.subscribe("will/#", 1)
    c = raw(5)
    c.connect("will-back", clean=True, props={R.SESSION_EXPIRY_INTERVAL: 30},
              will_topic="will/back", will_payload=b"should not appear", will_qos=1,
              will_props={R.WILL_DELAY_INTERVAL: 2})
    c.close()
    c2 = raw(5)
    ack = c2.connect("will-back", clean=False, props={R.SESSION_EXPIRY_INTERVAL: 30})
    assert ack.session_present is True
    # wait past the original delay (time-based): the will must not come
    sub.expect_no_message(3.0)
    before = _sync(mqtt, sub)
    assert before == []


def test_v5_will_delay_longer_than_session_expiry(mqtt, raw):
    """Will delay (30 s) > session expiry (1 s): the will is published when the session
    ends, i.e. after about 1 s, not after 30 s."""
    sub = mqtt(5)
    sub.subscribe("will/#", 1)
    c = raw(5)
    c.connect("will-exp", clean=True, props={R.SESSION_EXPIRY_INTERVAL: 1},
              will_topic="will/session-end", will_payload=b"expired", will_qos=1,
              will_props={R.WILL_DELAY_INTERVAL: 30})
    t0 = time.monotonic()
    c.close()
    m = sub.get(8)
    assert (m.topic, m.payload) == ("will/session-end", b"expired")
    assert m.received_at - t0 >= 0.8
