"""`rampart lab`: the three-namespace lab network is built, forwards between LAN and WAN, and leaves nothing behind.

Root only (CI runs the e2e tests as root); the lab's names are global, so this module takes the lab down before and
after its test."""

from __future__ import annotations

import time

import pytest

import lab
from conftest import RAMPART_BIN

_can_run, _why_not = lab.can_run_lab()
pytestmark = [
    pytest.mark.rampart_only(reason="the lab is a rampart command"),
    pytest.mark.skipif(not _can_run, reason=_why_not),
]


@pytest.fixture
def clean_lab():
    lab.lab_down(RAMPART_BIN)
    try:
        yield
    finally:
        lab.lab_down(RAMPART_BIN)


def _ping(ns: str, address: str, source: str, timeout: float = 10.0) -> bool:
    """One answered ping before `timeout`; the first may wait for neighbour discovery."""
    deadline = time.monotonic() + timeout
    while True:
        if lab.in_ns(ns, "ping", "-c", "1", "-W", "1", "-I", source, address).returncode == 0:
            return True
        if time.monotonic() > deadline:
            return False


def test_up_status_ping_down(clean_lab):
    up = lab.lab_up(RAMPART_BIN)
    assert "ip netns exec rampart-gw rampart run" in up.stdout

    status = lab.lab_status(RAMPART_BIN)
    assert status.returncode == 0, status.stdout + status.stderr
    for ns in lab.NAMESPACES:
        assert f"{ns}:" in status.stdout
    assert lab.LAN_V4[1] in status.stdout and lab.WAN_V6[1] in status.stdout
    assert lab.NAMESPACES[0] in lab.namespaces()

    # Across the gateway, both ways and both families.
    assert _ping(lab.WAN_NS, lab.LAN_V4[0], source=lab.WAN_V4[1])
    assert _ping(lab.LAN_NS, lab.WAN_V4[0], source=lab.LAN_V4[1])
    assert _ping(lab.WAN_NS, lab.LAN_V6[0], source=lab.WAN_V6[1])
    # The WAN has no default route: only the LAN is reachable from there.
    assert lab.in_ns(lab.WAN_NS, "ip", "route", "get", "203.0.113.1").returncode != 0

    again = lab.lab_up(RAMPART_BIN)
    assert "already up" in again.stdout

    down = lab.lab_down(RAMPART_BIN)
    assert "rampart-gw" in down.stdout
    assert not set(lab.NAMESPACES) & lab.namespaces()
    assert not {lab.GW_LAN_IF, lab.GW_WAN_IF} & lab.root_links()

    after = lab.lab_status(RAMPART_BIN)
    assert after.returncode == 1
    assert "down" in after.stdout


def test_partial_lab_status_and_repair(clean_lab):
    lab.lab_up(RAMPART_BIN)
    lab.in_ns(lab.GW_NS, "ip", "link", "set", lab.GW_WAN_IF, "down", check=True)

    status = lab.lab_status(RAMPART_BIN)
    assert status.returncode == 1
    assert "partial" in status.stdout and "wan0 is down" in status.stdout

    repaired = lab.lab_up(RAMPART_BIN)
    assert "rebuilt" in repaired.stdout
    assert lab.lab_status(RAMPART_BIN).returncode == 0
