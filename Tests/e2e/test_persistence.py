"""Durability (SPEC BRK-6): with `persistence true`, a QoS 1 message the broker acknowledged survives a
SIGKILL at any moment. The durability rule: PUBACK/PUBREC is sent only after the message is synced to disk.

Mosquitto saves its database at `autosave_interval` and at shutdown only, so a SIGKILL loses what it had
acknowledged since: these tests are rampart_only.
"""

import os
import random
import signal
import threading

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker_config import conf_broker  # noqa: F401  (fixture)
from conftest import wait_until

pytestmark = pytest.mark.rampart_only

MESSAGES = 10_000
CONF = """
listener {{port}} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {{dir}}/store
max_queued_messages 0
"""


def persistent_subscriber(port, client_id, received):
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                         protocol=paho.MQTTv311)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.on_message = lambda c, u, m: received.append(m.payload.decode())
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(10), "subscriber did not connect"
    return client


@pytest.mark.parametrize("round_number", range(3))
def test_acknowledged_messages_survive_sigkill(conf_broker, round_number):
    broker = conf_broker.start(CONF)
    (broker.dir / "store").mkdir(exist_ok=True)

    # A persistent session subscribes, then goes away: everything published now is queued for it.
    setup = []
    subscriber = persistent_subscriber(broker.port, "durable-sub", setup)
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *a: subscribed.set()
    subscriber.subscribe("load/#", qos=1)
    assert subscribed.wait(10)
    subscriber.disconnect()
    subscriber.loop_stop()

    kill_after = random.randint(MESSAGES // 10, MESSAGES * 9 // 10)
    acknowledged_ids: set[int] = set()  # packet ids PUBACKed; ids do not wrap below 65,535 messages
    payloads: dict[int, str] = {}
    killed = threading.Event()

    def on_publish(client, userdata, mid, reason_code, properties):
        acknowledged_ids.add(mid)
        if len(acknowledged_ids) >= kill_after and not killed.is_set():
            killed.set()
            os.kill(broker.proc.pid, signal.SIGKILL)

    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id="flood", protocol=paho.MQTTv311)
    publisher.max_inflight_messages_set(100)
    publisher.max_queued_messages_set(0)
    publisher.on_publish = on_publish
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    for sequence in range(MESSAGES):
        if killed.is_set():
            break
        payload = f"{round_number}-{sequence}"
        payloads[publisher.publish(f"load/{sequence % 16}", payload, qos=1).mid] = payload
    assert killed.wait(60), f"only {len(acknowledged_ids)} of {kill_after} messages acknowledged"
    broker.proc.wait(10)
    publisher.loop_stop()
    owed = {payloads[mid] for mid in set(acknowledged_ids)}
    assert len(owed) >= kill_after

    broker.restart()
    received: list[str] = []
    subscriber = persistent_subscriber(broker.port, "durable-sub", received)
    try:
        wait_until(lambda: owed <= set(received), timeout=90,
                   message=f"the subscriber to get all {len(owed)} acknowledged messages")
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
    missing = owed - set(received)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    print(f"round {round_number}: killed after {len(owed)} acknowledged; {len(received)} delivered after restart")
