"""Message inspection (SPEC BRK-5): the rules of the `inspection.conf` beside the configuration drop violating
messages; the QoS flow completes, MQTT 5 clients learn why (0x99 payload format invalid, 0x97 quota exceeded),
subscribers never see them, and refusals are counted in $SYS/broker/messages/rejected."""

import subprocess

import pytest

import mqtt_raw as R
from broker_config import conf_broker  # noqa: F401  (fixture)
from conftest import RAMPART_BIN, wait_until

pytestmark = pytest.mark.rampart_only  # a gateway feature; Mosquitto has no message inspection

CONF = "listener {{port}} 127.0.0.1\nallow_anonymous true\nsys_interval 1\n"
RULES = """
rule telemetry
topic sensors/#
max_payload 64
payload json
deny_pattern "DROP TABLE"

rule flood
topic flood/#
rate 5/s burst 5
"""


def test_violations_are_dropped_with_a_reason(conf_broker):
    broker = conf_broker.new()
    broker.write("inspection.conf", RULES)
    broker.start(CONF)
    subscriber = broker.client(version=5)
    subscriber.connect()
    subscriber.subscribe("sensors/#", 1)
    subscriber.subscribe("$SYS/broker/messages/rejected", 0)

    publisher = R.RawClient(broker.port, version=5)
    publisher.connect("inspected")
    assert publisher.publish("sensors/t", b'{"t": 21.5}', qos=1).reason == 0x00
    assert publisher.publish("sensors/t", b"21.5 degrees", qos=1).reason == 0x99  # not JSON
    assert publisher.publish("sensors/t", b'{"q": "DROP TABLE x"}', qos=1).reason == 0x99  # denied pattern
    assert publisher.publish("sensors/t", b'{"x": "' + b"a" * 80 + b'"}', qos=1).reason == 0x97  # too large
    assert publisher.publish("other/t", b"not json, other topic", qos=1).reason in (0x00, 0x10)  # no rule applies
    # Five messages pass the flood rule's burst, the sixth in the same instant does not.
    codes = [publisher.publish("flood/x", b"%d" % i, qos=1).reason for i in range(6)]
    assert codes[:5] == [0x10] * 5 and codes[5] == 0x97, codes

    publisher.publish("sensors/t", b'{"marker": true}', qos=1)
    # On sensors/t the subscriber sees the valid message, then the marker: none of the refused ones between.
    first, _ = subscriber.get_on("sensors/t", 5)
    second, _ = subscriber.get_on("sensors/t", 5)
    assert (first.payload, second.payload) == (b'{"t": 21.5}', b'{"marker": true}')

    def rejected():
        counts = [int(m.payload) for m in subscriber.drain() if m.topic == "$SYS/broker/messages/rejected"]
        return counts and max(counts) >= 4

    wait_until(rejected, timeout=10, message="$SYS/broker/messages/rejected to count the refusals")


def test_a_profile_with_broken_rules_is_not_activated(broker):
    data = broker.workdir / "data"
    run = lambda *args: subprocess.run([str(RAMPART_BIN), "profile", *args, "--data-dir", str(data)],
                                       capture_output=True, text=True, timeout=30)
    assert run("create", "strict", "--from", "default").returncode == 0
    rules = broker.workdir / "inspection.conf"
    rules.write_text("rule r\nmax_payload lots\n")
    assert run("put", "strict", str(rules)).returncode == 0
    result = run("activate", "strict")
    assert result.returncode == 1
    assert "inspection.conf:2:" in result.stdout and "max_payload" in result.stdout, result.stdout
