"""The lab network of `rampart lab` for the e2e tests: helpers, not tests.

Three network namespaces: rampart-lan (devices) <-> rampart-gw (the gateway, forwarding) <-> rampart-wan (the
outside), with documentation addresses only. The names are global, so tests that use the lab must not run at the
same time as other lab users, and must take it down when they end (see `lab_down`).

The rampart binary is the one conftest.RAMPART_BIN names (env RAMPART_BIN, default <repo>/.build/debug/rampart).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

LAN_NS = "rampart-lan"
GW_NS = "rampart-gw"
WAN_NS = "rampart-wan"
NAMESPACES = (LAN_NS, GW_NS, WAN_NS)

# rampart-gw: lan0 faces the LAN, wan0 the WAN.
GW_LAN_IF = "lan0"
GW_WAN_IF = "wan0"
GW_LAN_V4 = "192.0.2.1"
GW_LAN_V6 = "2001:db8:1::1"
GW_WAN_V4 = "198.51.100.2"
GW_WAN_V6 = "2001:db8:2::2"

# rampart-lan eth0: two devices' addresses per family; default routes via the gateway.
LAN_IF = "eth0"
LAN_V4 = ("192.0.2.10", "192.0.2.11")
LAN_V6 = ("2001:db8:1::10", "2001:db8:1::11")
LAN_NET_V4 = "192.0.2.0/24"
LAN_NET_V6 = "2001:db8:1::/64"

# rampart-wan eth0: routes to the LAN via the gateway, no default route.
WAN_IF = "eth0"
WAN_V4 = ("198.51.100.1", "198.51.100.10")
WAN_V6 = ("2001:db8:2::1", "2001:db8:2::10")

LAB_TIMEOUT = 30.0


def _ip() -> str:
    return shutil.which("ip") or "/usr/sbin/ip"


def can_run_lab() -> tuple[bool, str]:
    """Whether this process may build the lab, and why not."""
    if os.geteuid() != 0:
        return False, "the lab needs root"
    if not Path(_ip()).exists():
        return False, "ip (iproute2) is not installed"
    return True, ""


def _rampart(rampart_binary: Path | str, *args: str, check: bool) -> subprocess.CompletedProcess:
    result = subprocess.run([str(rampart_binary), "lab", *args], capture_output=True, text=True,
                            timeout=LAB_TIMEOUT, stdin=subprocess.DEVNULL)
    if check:
        assert result.returncode == 0, (f"rampart lab {' '.join(args)} exited {result.returncode}:\n"
                                        f"{result.stdout}{result.stderr}")
    return result


def lab_up(rampart_binary: Path | str) -> subprocess.CompletedProcess:
    """`rampart lab up`; fails the test when it does not exit 0."""
    return _rampart(rampart_binary, "up", check=True)


def lab_down(rampart_binary: Path | str) -> subprocess.CompletedProcess:
    """`rampart lab down`; fails the test when it does not exit 0."""
    return _rampart(rampart_binary, "down", check=True)


def lab_status(rampart_binary: Path | str) -> subprocess.CompletedProcess:
    """`rampart lab status`; exit code 0 when complete, 1 when down or partial."""
    return _rampart(rampart_binary, "status", check=False)


def in_ns(ns: str, *cmd: str, **kw) -> subprocess.CompletedProcess:
    """Runs `cmd` in network namespace `ns` (`ip netns exec`); keyword arguments go to subprocess.run, which by
    default captures text output and times out after LAB_TIMEOUT seconds."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", LAB_TIMEOUT)
    return subprocess.run([_ip(), "netns", "exec", ns, *cmd], **kw)


def namespaces() -> set[str]:
    """The network namespaces of this machine."""
    out = subprocess.run([_ip(), "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def root_links() -> set[str]:
    """The interface names of the root namespace (without the `@peer` suffix)."""
    out = subprocess.run([_ip(), "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line.count(":") >= 2}
