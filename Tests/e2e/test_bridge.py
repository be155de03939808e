"""Bridges (mosquitto.conf `connection`): the broker under test bridges to a real Mosquitto started on another
loopback port; messages cross in, out and both ways with their prefixes rewritten, and QoS 1 messages published
while Mosquitto is down are delivered once it is back."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from broker_config import conf_broker, port_accepts  # noqa: F401  (fixture)
from conftest import _free_port, wait_until

BRIDGE = """
listener {{port}} 127.0.0.1
allow_anonymous true
connection upstream
address 127.0.0.1:{remote}
topic sensors/# out 1 local/ remote/
topic cmd/# in 1 loc/ rem/
topic sync/# both 1
restart_timeout 1 2
"""


class Upstream:
    """A real Mosquitto: the remote end of the bridge. Persistence keeps its sessions across a restart."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="e2e-upstream-"))
        os.chmod(self.dir, 0o777)
        self.port = _free_port()
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {self.dir}/\n")
        self.proc = None

    def start(self):
        self.log = open(self.dir / "log", "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: port_accepts(self.port), timeout=10, message="Mosquitto to listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # Mosquitto saves its sessions on the way out
            self.proc.wait(10)
        self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def upstream():
    remote = Upstream()
    remote.start()
    yield remote
    remote.cleanup()


def collector(port, topics, client_id="", clean=True):
    received = []
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                         protocol=paho.MQTTv311)
    client.on_message = lambda c, u, m: received.append((m.topic, m.payload.decode()))
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe([(t, 1) for t in topics])
    assert subscribed.wait(10)
    return client, received


def publish(port, topic, payload):
    subprocess.run(["mosquitto_pub", "-p", str(port), "-t", topic, "-m", payload, "-q", "1"], check=True, timeout=10)


def test_messages_cross_in_out_and_both_with_prefixes(conf_broker, upstream):
    local = conf_broker.start(BRIDGE.replace("{remote}", str(upstream.port)))
    remote_sink, remote_received = collector(upstream.port, ["remote/#", "sync/#", "sensors/#"])
    local_sink, local_received = collector(local.port, ["loc/#", "sync/#", "cmd/#"])

    # The bridge subscribes remotely once connected; publish until the first message crosses.
    wait_until(lambda: publish(upstream.port, "rem/cmd/probe", "p") or ("loc/cmd/probe", "p") in local_received,
               timeout=15, interval=0.3, message="the bridge to come up")
    publish(local.port, "local/sensors/t1", "21.5")
    publish(upstream.port, "rem/cmd/open", "valve")
    publish(local.port, "sync/a", "from-local")
    publish(upstream.port, "sync/b", "from-remote")

    wait_until(lambda: ("remote/sensors/t1", "21.5") in remote_received, timeout=10, message="out with prefixes")
    wait_until(lambda: ("loc/cmd/open", "valve") in local_received, timeout=10, message="in with prefixes")
    wait_until(lambda: ("sync/a", "from-local") in remote_received, timeout=10, message="both: local to remote")
    wait_until(lambda: ("sync/b", "from-remote") in local_received, timeout=10, message="both: remote to local")
    # Prefixes are rewritten, not added: nothing crosses under its original name, and nothing echoes back.
    assert ("sensors/t1", "21.5") not in remote_received
    assert ("cmd/open", "valve") not in local_received
    assert remote_received.count(("sync/a", "from-local")) == 1
    assert local_received.count(("sync/b", "from-remote")) == 1
    for client in (remote_sink, local_sink):
        client.disconnect()
        client.loop_stop()


def test_qos1_messages_survive_an_upstream_restart(conf_broker, upstream):
    local = conf_broker.start(BRIDGE.replace("{remote}", str(upstream.port)))
    # A persistent subscriber on Mosquitto, offline during the test: it collects what the bridge delivers.
    catcher, _ = collector(upstream.port, ["remote/#"], client_id="catcher", clean=False)
    probe, probed = collector(upstream.port, ["remote/#"])
    wait_until(lambda: publish(local.port, "local/sensors/probe", "p") or ("remote/sensors/probe", "p") in probed,
               timeout=15, interval=0.3, message="the bridge to come up")
    probe.disconnect()
    probe.loop_stop()
    catcher.disconnect()
    catcher.loop_stop()

    upstream.stop()
    count = 100
    for i in range(count):
        publish(local.port, f"local/sensors/q{i}", f"m{i}")
    upstream.start()

    catcher, received = collector(upstream.port, ["remote/#"], client_id="catcher", clean=False)
    expected = {(f"remote/sensors/q{i}", f"m{i}") for i in range(count)}
    wait_until(lambda: expected <= set(received), timeout=30,
               message="every QoS 1 message published while Mosquitto was down")
    catcher.disconnect()
    catcher.loop_stop()
