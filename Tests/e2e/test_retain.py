"""Retained messages: set / replace / delete, retain flag on delivery, and the MQTT 5
subscription options Retain Handling and Retain As Published."""

import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions


@pytest.mark.parametrize("version", [311, 5])
def test_new_subscriber_gets_retained_with_flag(mqtt, version):
    pub = mqtt(version)
    pub.publish("ret/a", b"kept", qos=1, retain=True)
    sub = mqtt(version)
    sub.subscribe("ret/a", 1)
    m = sub.get(5)
    assert (m.topic, m.payload) == ("ret/a", b"kept")
    assert m.retain is True
    assert m.qos == 1


@pytest.mark.parametrize("version", [311, 5])
def test_retained_replace_and_wildcard(mqtt, version):
    pub = mqtt(version)
    pub.publish("ret/x", b"first", qos=1, retain=True)
    pub.publish("ret/x", b"second", qos=1, retain=True)
    pub.publish("ret/y", b"other", qos=1, retain=True)
    sub = mqtt(version)
    sub.subscribe("ret/#", 1)
    got = {}
    for _ in range(2):
        m = sub.get(5)
        assert m.retain
        assert m.topic not in got, f"two retained messages for {m.topic}"
        got[m.topic] = m.payload
    assert got == {"ret/x": b"second", "ret/y": b"other"}
    sub.expect_no_message(0.3)


@pytest.mark.parametrize("version", [311, 5])
def test_retained_delete_by_empty_payload(mqtt, sync_retained, version):
    pub = mqtt(version)
    pub.publish("ret/del", b"soon gone", qos=1, retain=True)
    pub.publish("ret/del", b"", qos=1, retain=True)
    sub = mqtt(version)
    sub.subscribe("ret/del", 1)
    before = sync_retained(sub)
    assert before == [], f"deleted retained message was delivered: {before}"
    # the empty retained publish is still forwarded to existing subscribers
    pub.publish("ret/del", b"live", qos=1)
    m = sub.get(5)
    assert (m.topic, m.payload, m.retain) == ("ret/del", b"live", False)


@pytest.mark.parametrize("version", [311, 5])
def test_live_delivery_clears_retain_flag(mqtt, version):
    """A retained PUBLISH forwarded to an already established subscription carries
    RETAIN=0 (v3.1.1 3.3.1.3; v5 with Retain As Published = 0)."""
    sub = mqtt(version)
    sub.subscribe("ret/live", 1)
    pub = mqtt(version)
    pub.publish("ret/live", b"now", qos=1, retain=True)
    m = sub.get(5)
    assert m.payload == b"now"
    assert m.retain is False


def test_v5_retain_as_published(mqtt):
    rap = mqtt(5)
    rap.subscribe("ret/rap", options=SubscribeOptions(qos=1, retainAsPublished=True))
    norap = mqtt(5)
    norap.subscribe("ret/rap", options=SubscribeOptions(qos=1, retainAsPublished=False))
    pub = mqtt(5)
    pub.publish("ret/rap", b"r", qos=1, retain=True)
    pub.publish("ret/rap", b"n", qos=1, retain=False)
    a1, a2 = rap.get(5), rap.get(5)
    assert (a1.payload, a1.retain) == (b"r", True)
    assert (a2.payload, a2.retain) == (b"n", False)
    b1, b2 = norap.get(5), norap.get(5)
    assert (b1.payload, b1.retain) == (b"r", False)
    assert (b2.payload, b2.retain) == (b"n", False)


def test_v5_retain_handling_0_sends_on_every_subscribe(mqtt):
    pub = mqtt(5)
    pub.publish("ret/rh0", b"v", qos=1, retain=True)
    sub = mqtt(5)
    opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_ON_SUBSCRIBE)
    sub.subscribe("ret/rh0", options=opts)
    m = sub.get(5)
    assert (m.payload, m.retain) == (b"v", True)
    sub.subscribe("ret/rh0", options=opts)   # re-subscribe: sent again
    m = sub.get(5)
    assert (m.payload, m.retain) == (b"v", True)


def test_v5_retain_handling_1_only_for_new_subscription(mqtt, sync_retained):
    pub = mqtt(5)
    pub.publish("ret/rh1", b"v", qos=1, retain=True)
    sub = mqtt(5)
    opts = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
    sub.subscribe("ret/rh1", options=opts)
    m = sub.get(5)
    assert (m.topic, m.payload, m.retain) == ("ret/rh1", b"v", True)
    sub.subscribe("ret/rh1", options=opts)   # subscription already exists: not resent
    before = sync_retained(sub)
    assert before == [], f"retained message resent on re-subscribe with retain handling 1: {before}"
    # a different client's new subscription does get it
    other = mqtt(5)
    other.subscribe("ret/rh1", options=opts)
    assert other.get(5).payload == b"v"


def test_v5_retain_handling_2_never(mqtt, sync_retained):
    pub = mqtt(5)
    pub.publish("ret/rh2", b"v", qos=1, retain=True)
    sub = mqtt(5)
    sub.subscribe("ret/rh2", options=SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND))
    before = sync_retained(sub)
    assert before == [], f"retained message sent despite retain handling 2: {before}"
    # the subscription itself works
    pub.publish("ret/rh2", b"live", qos=1)
    m = sub.get(5)
    assert (m.payload, m.retain) == (b"live", False)
