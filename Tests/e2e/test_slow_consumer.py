"""A subscriber that stops reading never stalls publishers or other subscribers.

Each session has a bounded queue (--max-queued-messages); when a stalled
subscriber's socket and queue are full, further messages for it are dropped and
counted in $SYS/broker/messages/dropped, while everyone else carries on.
"""

import time

import pytest

import mqtt_raw as R
from conftest import wait_for_sys_counter

PAYLOAD = b"x" * 4096
MESSAGES = 10_000  # 40 MB: far beyond what the stalled subscriber's socket buffers can hold


@pytest.mark.rampart_only  # Mosquitto has no $SYS/broker/messages/dropped counter of this name
@pytest.mark.broker_opts(max_queued_messages=100, sys_interval=1)
def test_stalled_subscriber_does_not_stall_publisher_or_others(mqtt, raw):
    stalled = raw(4)
    stalled.connect("stalled")
    stalled.subscribe("load/#", 0)
    # From here on the stalled client never reads again.

    healthy = mqtt(5)
    healthy.subscribe("marker", 1)
    healthy.subscribe("$SYS/broker/messages/dropped", 0)

    publisher = raw(4)
    publisher.connect("flood")
    started = time.monotonic()
    chunk = b"".join(R.publish("load/a", PAYLOAD, version=4) for _ in range(100))
    for _ in range(MESSAGES // 100):
        publisher.send(chunk)  # blocks only if the broker stops reading from the publisher
    publisher.send(R.publish("marker", b"done", qos=1, packet_id=1, version=4))
    ack = publisher.recv(30)
    assert ack is not None and ack.name == "PUBACK", ack
    elapsed = time.monotonic() - started

    marker, _ = healthy.get_on("marker", 10)
    assert marker.payload == b"done"

    # Drops are counted: the periodic statistics report a positive figure.
    dropped = wait_for_sys_counter(healthy, "$SYS/broker/messages/dropped",
                                   "messages/dropped stayed 0 although a subscriber was stalled")
    assert dropped <= MESSAGES
    print(f"published {MESSAGES} x {len(PAYLOAD)} B in {elapsed:.2f} s; dropped for the stalled subscriber: {dropped}")
