"""Publisher flow control: a subscriber slower than its publisher loses nothing at QoS 1.

When a connected subscriber's queue (--max-queued-messages) is full, the broker stops reading from the publisher
until the queue has drained to half, instead of dropping. A stalled subscriber is covered by
test_slow_consumer.py: after the pause limit its overflow is dropped and the publisher carries on.
"""

import threading
import time

import pytest

import mqtt_raw as R
from conftest import wait_for_sys_counter

MESSAGES = 3000


@pytest.mark.rampart_only  # Mosquitto drops what does not fit in max_queued_messages
@pytest.mark.broker_opts(max_queued_messages=50, sys_interval=1)
def test_slow_subscriber_loses_nothing_at_qos1(mqtt, raw):
    subscriber = raw(4)
    subscriber.connect("slow")
    subscriber.subscribe("flow/t", 1)

    publisher = raw(4)
    publisher.connect("fast")
    acks: list[int] = []
    failure: list[BaseException] = []

    def publish_all():
        try:
            # All at once: the broker, not this client, limits what is in flight.
            publisher.send(b"".join(
                R.publish("flow/t", b"%06d" % i, qos=1, packet_id=i % 65535 + 1, version=4)
                for i in range(MESSAGES)))
            while len(acks) < MESSAGES:
                ack = publisher.recv(30)
                assert ack is not None and ack.name == "PUBACK", ack
                acks.append(ack.packet_id)
        except BaseException as error:  # reported by the main thread
            failure.append(error)

    sender = threading.Thread(target=publish_all, daemon=True)
    sender.start()

    received: list[int] = []
    while len(received) < MESSAGES:
        packet = subscriber.recv(30)
        assert packet is not None, f"subscriber closed after {len(received)} messages"
        if packet.name != "PUBLISH":
            continue
        received.append(int(packet.payload))
        subscriber.send(R.puback(packet.packet_id, version=4))
        if len(received) % 100 == 0:
            time.sleep(0.02)  # a consumer slower than the publisher: at most ~5,000 messages/s

    sender.join(30)
    assert not failure, failure
    assert not sender.is_alive(), "publisher did not get all its PUBACKs"
    assert received == list(range(MESSAGES)), "lost, duplicated or reordered messages"

    # Flow control did engage (else this test proves nothing), and nothing was dropped. The statistics are
    # published every second: wait for a report that shows the pauses.
    stats = mqtt(5)
    stats.subscribe("$SYS/broker/publishers/paused", 0)
    wait_for_sys_counter(stats, "$SYS/broker/publishers/paused",
                         "the publisher was never paused: the subscriber kept up")
    stats.subscribe("$SYS/broker/messages/dropped", 0)
    dropped, _ = stats.get_on("$SYS/broker/messages/dropped", 10)
    assert int(dropped.payload) == 0
