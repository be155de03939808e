"""Broker profiles (SPEC BRK-4): switching the active profile keeps the connections of listeners that did not
change; an invalid profile never becomes active; deleting the active profile turns the broker off while the
gateway keeps running. Profiles are managed with `rampart profile …`, which signals the running gateway."""

import socket
import subprocess
import time

import pytest

from conftest import RAMPART_BIN, _free_port, wait_until

pytestmark = pytest.mark.rampart_only  # profiles are a gateway feature; Mosquitto has none


def profile(broker, *args, check=True):
    data_dir = broker.workdir / "data"
    result = subprocess.run([str(RAMPART_BIN), "profile", *args, "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=30)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def write_profile(broker, name, text):
    source = broker.workdir / f"{name}.conf"
    source.write_text(text)
    profile(broker, "put", name, str(source), "--as", "mosquitto.conf")


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_switch_keeps_unchanged_listener_connections(broker, mqtt):
    keeper = mqtt(5)
    keeper.subscribe("plant/#", 1)

    second = _free_port()
    profile(broker, "create", "two", "--from", "default")
    write_profile(broker, "two", f"listener {broker.port} 127.0.0.1\nallow_anonymous true\n"
                                 f"listener {second} 127.0.0.1\n")
    profile(broker, "activate", "two")
    assert wait_until(lambda: accepts(second), timeout=10), "the new listener did not come up"

    # The client on the unchanged listener is still connected and receives what arrives on the new listener.
    subprocess.run(["mosquitto_pub", "-p", str(second), "-t", "plant/line1", "-m", "after-switch", "-q", "1"],
                   check=True, timeout=10)
    message, _ = keeper.get_on("plant/line1", 10)
    assert message.payload == b"after-switch"
    assert not keeper.disconnected.is_set(), "the switch dropped a connection on an unchanged listener"
    listed = profile(broker, "list").stdout
    assert "two (active)" in listed, listed


def test_invalid_profile_is_refused_and_nothing_changes(broker, mqtt):
    keeper = mqtt(311)
    profile(broker, "create", "broken")
    write_profile(broker, "broken", "listener 1883\nno_such_option 1\n")
    result = profile(broker, "activate", "broken", check=False)
    assert result.returncode == 1
    assert "mosquitto.conf:2:" in result.stdout and "no_such_option" in result.stdout
    assert "default (active" in profile(broker, "list").stdout
    keeper.publish("still/here", b"1", qos=1)
    keeper.subscribe("still/#", 1)
    keeper.publish("still/here", b"2", qos=1)
    message, _ = keeper.get_on("still/here", 5)
    assert message.payload == b"2"


def test_deleting_the_active_profile_turns_the_broker_off(broker):
    assert accepts(broker.port)
    profile(broker, "create", "only", "--from", "default")
    profile(broker, "activate", "only")
    profile(broker, "delete", "default")
    profile(broker, "delete", "only")
    assert wait_until(lambda: not accepts(broker.port), timeout=10), "the listener is still open"
    assert broker.proc.poll() is None, "the gateway itself must keep running"
    # It comes back when a profile is activated again.
    profile(broker, "create", "again")
    write_profile(broker, "again", f"listener {broker.port} 127.0.0.1\nallow_anonymous true\n")
    profile(broker, "activate", "again")
    assert wait_until(lambda: accepts(broker.port), timeout=10)
