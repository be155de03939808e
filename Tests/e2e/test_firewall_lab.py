"""The firewall end to end in the lab (SPEC FW-1…FW-5): a gateway in rampart-gw applies its policy to the lab's real
interfaces, and real TCP, UDP and ICMP flows between rampart-lan, rampart-gw and rampart-wan show what the kernel
does with them. Every flow of the matrices is also described to `POST /firewall/explain`, which must name the same
verdict, and the stage and rule the test expects from the normative stage order.

Root only; the lab is global, so the module holds the lab lock (`lab_session`) while it runs. One gateway runs at a
time (it owns the lab's ports and the table `inet rampart`): the router's tests come first, then the unidirectional
gateway replaces it. Each test starts from an empty policy, reset through the API.
"""

from __future__ import annotations

import datetime as dt
import select
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import lab
from conftest import wait_until
from lab_gateway import LabGateway, lab_session

_can_run, _why_not = lab.can_run_lab()
pytestmark = [
    pytest.mark.rampart_only(reason="the firewall is a gateway feature"),
    pytest.mark.skipif(not _can_run, reason=_why_not),
    # The first test also brings the lab, its servers and a gateway up.
    pytest.mark.timeout(150),
    # LabGateway.wan_api does not verify the certificate: the WAN relay's only job is to be dropped or not.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

NETPROBE = Path(__file__).resolve().parent / "netprobe.py"
CONFIRM_SECONDS = 8
PROBE_TIMEOUT = 1.0

LAN_HOST, LAN_OTHER = lab.LAN_V4  # 192.0.2.10 is also the operator (the LAN relay's source)
LAN_ALLOWLISTED = "192.0.2.20"  # extra LAN addresses this module adds to rampart-lan
LAN_DENYLISTED = "192.0.2.21"
LAN_HOST6 = lab.LAN_V6[0]
WAN_SERVER, WAN_OPERATOR = lab.WAN_V4  # 198.51.100.10 is the WAN relay's source
WAN_SERVER6, WAN_HOST6 = lab.WAN_V6
GATEWAY_ADDRESSES = {lab.GW_LAN_V4, lab.GW_LAN_V6, lab.GW_WAN_V4, lab.GW_WAN_V6}

# Servers of the lab: (namespace, transport, address, port, extra arguments). Ports without a rule in a policy
# still have a server, so a timeout there is the firewall's doing, not a closed port's.
SERVERS = [
    (lab.WAN_NS, "tcp", "0.0.0.0", 7000, []),
    (lab.WAN_NS, "tcp", "::", 7000, []),
    (lab.WAN_NS, "udp", "0.0.0.0", 7001, []),
    (lab.WAN_NS, "tcp", "0.0.0.0", 7002, []),
    (lab.WAN_NS, "tcp", "::", 7002, []),
    (lab.WAN_NS, "udp", "0.0.0.0", 7003, []),
    (lab.WAN_NS, "tcp", "0.0.0.0", 502, []),
    (lab.WAN_NS, "tcp", "0.0.0.0", 7300, ["--peer"]),
    (lab.LAN_NS, "tcp", "0.0.0.0", 7100, []),
    (lab.LAN_NS, "tcp", "::", 7100, []),
    (lab.LAN_NS, "udp", "0.0.0.0", 7101, []),
    (lab.LAN_NS, "tcp", "0.0.0.0", 7102, []),
    (lab.LAN_NS, "tcp", "0.0.0.0", 8081, []),
]


# ------------------------------------------------------------------ the lab and its servers

def _start_server(ns: str, transport: str, address: str, port: int, extra: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(NETPROBE), "serve", transport, address,
                             str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline().strip() if ready else ""
    if line != "listening":
        proc.kill()
        raise RuntimeError(f"server {transport} {address}:{port} in {ns} did not start: {line!r}")
    return proc


def _no_tentative_addresses() -> bool:
    """IPv6 duplicate address detection is over in every namespace: tentative addresses cannot send yet."""
    return all(not lab.in_ns(ns, "ip", "-6", "addr", "show", "tentative").stdout.strip() for ns in lab.NAMESPACES)


@pytest.fixture(scope="module")
def lab_servers():
    """The lab under its lock, with two extra LAN addresses and the echo servers of `SERVERS`."""
    with lab_session():
        for address in (LAN_ALLOWLISTED, LAN_DENYLISTED):
            lab.in_ns(lab.LAN_NS, "ip", "addr", "add", f"{address}/24", "dev", lab.LAN_IF, check=True)
        wait_until(_no_tentative_addresses, timeout=15, interval=0.1, message="IPv6 duplicate address detection")
        servers: list[subprocess.Popen] = []
        try:
            for spec in SERVERS:
                servers.append(_start_server(*spec))
            yield
        finally:
            for proc in servers:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()


class Gateways:
    """One LabGateway at a time: asking for another device type stops the running one first."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.current: LabGateway | None = None

    def get(self, device_type: str) -> LabGateway:
        if self.current is not None and self.current.device_type == device_type:
            return self.current
        self.stop()
        gateway = LabGateway(f"firewall-lab-{device_type}", self.tmp_path_factory.mktemp(f"fw-{device_type}"),
                             device_type=device_type, confirm_seconds=CONFIRM_SECONDS)
        try:
            gateway.start()
        except BaseException:
            gateway.stop()
            raise
        self.current = gateway
        return gateway

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture(scope="module")
def gateways(lab_servers, tmp_path_factory):
    manager = Gateways(tmp_path_factory)
    try:
        yield manager
    finally:
        manager.stop()


def flush_conntrack() -> None:
    """Forgets the gateway's tracked connections, so no earlier connection decides a later probe."""
    result = lab.in_ns(lab.GW_NS, "conntrack", "-F")
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ the firewall API

class Firewall:
    """The firewall API of a lab gateway, as the LAN operator 192.0.2.10 (through the LAN relay)."""

    def __init__(self, gateway: LabGateway):
        self.gateway = gateway
        self.session = gateway.token_session()

    def call(self, method: str, path: str, **kw):
        return self.gateway.api(self.session, method, path, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw):
        r = self.call(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    def change(self, method: str, path: str, status: int = 200, confirm: bool = True, **kw) -> dict:
        """A change; confirmed when it asks for it (and `confirm`). Returns the answer."""
        body = self.ok(method, path, status, **kw)
        report = body.get("report", body)
        assert report["applied"] is True, body
        if confirm and report.get("confirmBy"):
            self.ok("POST", "/firewall/confirm")
        return body

    def state(self) -> dict:
        return self.ok("GET", "/firewall")

    def add_rule(self, **rule) -> int:
        return self.change("POST", "/firewall/rules", 201, json=rule)["id"]

    def explain(self, **packet) -> dict:
        return self.ok("POST", "/firewall/explain", json=packet)

    def reset(self) -> None:
        """The empty policy of the gateway's device type, and no tracked connections."""
        state = self.state()
        if state.get("pending"):
            self.ok("POST", "/firewall/confirm")
        settings = {**state["configuration"], "emergency": False, "masquerade": False, "blockedProtocols": [],
                    "allowlist": [], "denylist": [], "natRules": [], "rules": []}
        self.change("PUT", "/firewall", json={"version": state["version"], "settings": settings, "force": True})
        state = self.state()
        assert state["state"]["applied"] and not state.get("pending"), state
        flush_conntrack()


def _firewall(request, gateways: Gateways, device_type: str) -> Firewall:
    gateway = gateways.get(device_type)
    request.node._e2e_brokers = [gateway]  # its log tail is shown when the test fails (conftest)
    firewall = Firewall(gateway)
    firewall.reset()
    return firewall


@pytest.fixture
def router(request, gateways) -> Firewall:
    return _firewall(request, gateways, "router")


@pytest.fixture
def unidirectional(request, gateways) -> Firewall:
    return _firewall(request, gateways, "unidirectional")


def wan_reaches_web_ui(gateway: LabGateway) -> bool:
    """Whether the WAN host 198.51.100.10 gets an answer from the web UI (the firewall drops it otherwise)."""
    import requests
    try:
        return gateway.wan_api("GET", "/firewall", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def fields(entry: dict) -> dict[str, list[str]]:
    """An audit entry's fields, name → values (a change has one `change` field per line)."""
    out: dict[str, list[str]] = {}
    for f in entry["event"]["fields"]:
        out.setdefault(f["name"], []).append(f["value"])
    return out


def parse_date(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# ------------------------------------------------------------------ flows

def _zone(address: str) -> str:
    if address in GATEWAY_ADDRESSES:
        return "gateway"
    return "lan" if address.startswith(("192.0.2.", "2001:db8:1:")) else "wan"


@dataclass
class Flow:
    """A packet flow through the lab: probed for real and explained; `reply_of` makes it the reply direction of
    another flow's echo (state established), whose outcome is that echo's."""

    name: str
    transport: str  # tcp, udp, icmp
    source: str
    destination: str
    port: int | None
    verdict: str
    stage: str
    rule: str
    echo: bool = False
    reply_of: "Flow | None" = None
    probed: str = field(default="", init=False)
    output: str = field(default="", init=False)
    explained: dict = field(default_factory=dict, init=False)

    @property
    def namespace(self) -> str:
        return lab.LAN_NS if _zone(self.source) == "lan" else lab.WAN_NS

    def packet(self) -> dict:
        if self.reply_of is not None:
            original = self.reply_of
            packet = {"ingress": _zone(original.destination), "egress": _zone(original.source),
                      "source": original.destination, "destination": original.source,
                      "protocol": original.transport, "state": "established"}
            if original.port is not None:
                packet["sourcePort"] = original.port
            return packet
        packet = {"ingress": _zone(self.source), "egress": _zone(self.destination), "source": self.source,
                  "destination": self.destination, "protocol": self.transport, "state": "new"}
        if self.port is not None:
            packet["destinationPort"] = self.port
        return packet

    def probe(self) -> str:
        """`accept` when the probe's packets got through, `drop` when they timed out."""
        if self.transport == "icmp":
            family = ["-6"] if ":" in self.destination else []
            command = ["ping", *family, "-c", "1", "-W", "1", "-I", self.source, self.destination]
        else:
            command = [sys.executable, str(NETPROBE), "probe", self.transport, self.destination, str(self.port),
                       "--source", self.source, "--timeout", str(PROBE_TIMEOUT)]
            if self.echo:
                command.append("--echo")
        result = lab.in_ns(self.namespace, *command, timeout=15)
        self.output = result.stdout.strip()
        if result.returncode not in (0, 1):
            raise AssertionError(f"probe of {self.name} failed ({result.returncode}): "
                                 f"{result.stdout}{result.stderr}")
        return "accept" if result.returncode == 0 else "drop"

    @property
    def explained_text(self) -> str:
        e = self.explained
        return f"{e.get('verdict')} {e.get('stage')}/{e.get('rule')}"

    @property
    def correct(self) -> bool:
        e = self.explained
        return (self.probed == self.verdict and e.get("verdict") == self.verdict and e.get("stage") == self.stage
                and e.get("rule") == self.rule)


def run_matrix(firewall: Firewall, flows: list[Flow], title: str) -> None:
    """Probes every flow (in parallel: a dropped probe waits out its timeout), explains it, prints the table and
    fails on any row whose probe or explanation differs from the expectation."""
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(lambda f: f.probe() if f.reply_of is None else None, flows))
    for flow, outcome in zip(flows, outcomes):
        flow.probed = outcome if flow.reply_of is None else ""
    for flow in flows:
        if flow.reply_of is not None:
            # The echo came back (intact, for TCP) only if the replies passed; a refusal is no echo.
            echoed = flow.reply_of.output == "echo ok" or flow.reply_of.output.startswith("reply ")
            flow.probed = "accept" if echoed else "drop"
        flow.explained = firewall.explain(**flow.packet())
    width = max(len(f.name) for f in flows)
    lines = [f"{title}: {len(flows)} flows",
             f"{'flow':<{width}}  {'expected':<8} {'probe':<6} explain (verdict stage/rule)",
             f"{'-' * width}  {'-' * 8} {'-' * 6} {'-' * 40}"]
    for f in flows:
        expected = f"{f.verdict} {f.stage}/{f.rule}"
        lines.append(f"{f.name:<{width}}  {f.verdict:<8} {f.probed:<6} {f.explained_text}"
                     + ("" if f.correct else f"   <-- expected {expected}"))
    table = "\n".join(lines)
    print(table)
    wrong = [f.name for f in flows if not f.correct]
    assert not wrong, f"{len(wrong)} flow(s) differ from the expectation: {wrong}\n{table}"


def accepted(name, transport, source, destination, port, stage, rule, **kw) -> Flow:
    return Flow(name, transport, source, destination, port, "accept", stage, rule, **kw)


def dropped(name, transport, source, destination, port, stage="final-block", rule="final", **kw) -> Flow:
    return Flow(name, transport, source, destination, port, "drop", stage, rule, **kw)


def reply(of: Flow, stage: str, rule: str) -> Flow:
    return Flow(f"  reply of the above ({of.destination} → {of.source})", of.transport, of.destination, of.source,
                None, "accept", stage, rule, reply_of=of)


# The policy both matrices start from (the WAN rules only for the router, which alone has them).
LAN_RULES = {
    "deny_other": dict(action="deny", zone="lan", protocol="tcp", source=LAN_OTHER, destinationPort="7000"),
    "deny_allowlisted": dict(action="deny", zone="lan", source=LAN_ALLOWLISTED),
    "allow_tcp": dict(action="allow", zone="lan", protocol="tcp", destination=WAN_SERVER, destinationPort="7000"),
    "allow_udp": dict(action="allow", zone="lan", protocol="udp", destination=WAN_SERVER, destinationPort="7001"),
    "allow_ping": dict(action="allow", zone="lan", protocol="icmp", destination=WAN_SERVER),
    "allow_tcp6": dict(action="allow", zone="lan", protocol="tcp", destination=WAN_SERVER6, destinationPort="7000"),
    "allow_denylisted": dict(action="allow", zone="lan", source=LAN_DENYLISTED),
    "allow_modbus": dict(action="allow", zone="lan", protocol="tcp", destinationPort="502"),
}
WAN_RULES = {
    "allow_wan_tcp": dict(action="allow", zone="wan", protocol="tcp", destination=LAN_HOST, destinationPort="7100"),
    "allow_wan_udp": dict(action="allow", zone="wan", protocol="udp", destination=LAN_HOST, destinationPort="7101"),
    "allow_wan_ping6": dict(action="allow", zone="wan", protocol="icmp", destination=LAN_HOST6),
}


def apply_matrix_policy(firewall: Firewall, with_wan_rules: bool) -> dict[str, str]:
    """Adds the rules, blocks Modbus, allowlists 192.0.2.20 and denylists 192.0.2.21; returns `rule:<id>` by
    rule name."""
    rules = {**LAN_RULES, **(WAN_RULES if with_wan_rules else {})}
    ids = {name: f"rule:{firewall.add_rule(**body)}" for name, body in rules.items()}
    firewall.change("PUT", "/firewall/protocols", json={"blocked": ["modbus"]})
    firewall.change("POST", "/firewall/lists/allowlist", 201, json={"address": LAN_ALLOWLISTED})
    firewall.change("POST", "/firewall/lists/denylist", 201, json={"address": LAN_DENYLISTED})
    flush_conntrack()
    return ids


def router_flows(ids: dict[str, str]) -> list[Flow]:
    gw_lan, gw_wan = lab.GW_LAN_V4, lab.GW_WAN_V4
    tcp_echo = accepted("LAN→WAN tcp 7000, echo", "tcp", LAN_HOST, WAN_SERVER, 7000, "custom-allow",
                        ids["allow_tcp"], echo=True)
    udp_echo = accepted("LAN→WAN udp 7001, echo", "udp", LAN_HOST, WAN_SERVER, 7001, "custom-allow",
                        ids["allow_udp"])
    tcp6_echo = accepted("LAN→WAN tcp6 7000, echo", "tcp", LAN_HOST6, WAN_SERVER6, 7000, "custom-allow",
                         ids["allow_tcp6"], echo=True)
    wan_tcp = accepted("WAN→LAN tcp 7100, echo", "tcp", WAN_SERVER, LAN_HOST, 7100, "custom-allow",
                       ids["allow_wan_tcp"], echo=True)
    return [
        # LAN → WAN, forwarded
        tcp_echo,
        reply(tcp_echo, "established", "preset:established"),
        udp_echo,
        reply(udp_echo, "established", "preset:established"),
        tcp6_echo,
        reply(tcp6_echo, "established", "preset:established"),
        dropped("LAN(.11)→WAN tcp 7000", "tcp", LAN_OTHER, WAN_SERVER, 7000, "custom-deny", ids["deny_other"]),
        dropped("LAN→WAN tcp 7002 (no rule)", "tcp", LAN_HOST, WAN_SERVER, 7002),
        dropped("LAN→WAN udp 7003 (no rule)", "udp", LAN_HOST, WAN_SERVER, 7003),
        dropped("LAN→WAN tcp6 7002 (no rule)", "tcp", LAN_HOST6, WAN_SERVER6, 7002),
        accepted("LAN→WAN icmp echo", "icmp", LAN_HOST, WAN_SERVER, None, "custom-allow", ids["allow_ping"]),
        dropped("LAN(.11)→WAN(.10) icmp echo", "icmp", LAN_OTHER, WAN_OPERATOR, None),
        accepted("LAN→WAN udp 53 (DNS)", "udp", LAN_HOST, WAN_SERVER, 53, "preset-services-allow", "preset:dns"),
        # Stage order
        accepted("LAN(allowlisted)→WAN tcp 7000", "tcp", LAN_ALLOWLISTED, WAN_SERVER, 7000, "allowlist",
                 "allowlist"),
        dropped("LAN(denylisted)→WAN tcp 7000", "tcp", LAN_DENYLISTED, WAN_SERVER, 7000, "denylist", "denylist"),
        dropped("LAN→WAN tcp 502 (modbus)", "tcp", LAN_HOST, WAN_SERVER, 502, "application-deny", "app:modbus"),
        # WAN → LAN, forwarded
        wan_tcp,
        reply(wan_tcp, "established", "preset:established"),
        accepted("WAN→LAN udp 7101", "udp", WAN_SERVER, LAN_HOST, 7101, "custom-allow", ids["allow_wan_udp"]),
        dropped("WAN→LAN tcp 7102 (no rule)", "tcp", WAN_SERVER, LAN_HOST, 7102),
        accepted("WAN→LAN icmpv6 echo", "icmp", WAN_HOST6, LAN_HOST6, None, "custom-allow", ids["allow_wan_ping6"]),
        dropped("WAN→LAN icmp echo", "icmp", WAN_SERVER, LAN_HOST, None),
        dropped("WAN→LAN tcp6 7100", "tcp", WAN_HOST6, LAN_HOST6, 7100),
        # LAN → gateway
        accepted("LAN→gateway tcp 8443 (web UI)", "tcp", LAN_OTHER, gw_lan, 8443, "preset-allow", "preset:web"),
        accepted("LAN→gateway tcp 8444 (management)", "tcp", LAN_OTHER, gw_lan, 8444, "preset-allow",
                 "preset:management"),
        accepted("LAN→gateway tcp 1883 (MQTT)", "tcp", LAN_HOST, gw_lan, 1883, "preset-services-allow",
                 "preset:mqtt"),
        dropped("LAN→gateway tcp 9999", "tcp", LAN_HOST, gw_lan, 9999),
        accepted("LAN→gateway icmp echo", "icmp", LAN_HOST, gw_lan, None, "preset-allow", "preset:icmp"),
        accepted("LAN→gateway icmpv6 echo", "icmp", LAN_HOST6, lab.GW_LAN_V6, None, "preset-allow",
                 "preset:icmpv6"),
        # WAN → gateway
        dropped("WAN→gateway tcp 8443 (web UI)", "tcp", WAN_OPERATOR, gw_wan, 8443),
        accepted("WAN→gateway tcp 8444 (management)", "tcp", WAN_OPERATOR, gw_wan, 8444, "preset-allow",
                 "preset:management"),
        accepted("WAN→gateway tcp 1883 (MQTT)", "tcp", WAN_SERVER, gw_wan, 1883, "preset-services-allow",
                 "preset:mqtt"),
        accepted("WAN→gateway icmp echo", "icmp", WAN_SERVER, gw_wan, None, "preset-allow", "preset:icmp"),
        dropped("WAN→gateway udp 9999", "udp", WAN_SERVER, gw_wan, 9999),
    ]


def unidirectional_flows(ids: dict[str, str]) -> list[Flow]:
    gw_lan, gw_wan = lab.GW_LAN_V4, lab.GW_WAN_V4
    tcp_echo = accepted("LAN→WAN tcp 7000, echo", "tcp", LAN_HOST, WAN_SERVER, 7000, "custom-allow",
                        ids["allow_tcp"], echo=True)
    udp_echo = accepted("LAN→WAN udp 7001, echo", "udp", LAN_HOST, WAN_SERVER, 7001, "custom-allow",
                        ids["allow_udp"])
    tcp6_echo = accepted("LAN→WAN tcp6 7000, echo", "tcp", LAN_HOST6, WAN_SERVER6, 7000, "custom-allow",
                         ids["allow_tcp6"], echo=True)
    return [
        tcp_echo,
        reply(tcp_echo, "outgoing-allow", "preset:outgoing-replies"),
        udp_echo,
        reply(udp_echo, "outgoing-allow", "preset:outgoing-replies"),
        tcp6_echo,
        reply(tcp6_echo, "outgoing-allow", "preset:outgoing-replies"),
        dropped("LAN(.11)→WAN tcp 7000", "tcp", LAN_OTHER, WAN_SERVER, 7000, "custom-deny", ids["deny_other"]),
        dropped("LAN→WAN tcp 7002 (no rule)", "tcp", LAN_HOST, WAN_SERVER, 7002),
        accepted("LAN→WAN icmp echo", "icmp", LAN_HOST, WAN_SERVER, None, "custom-allow", ids["allow_ping"]),
        dropped("LAN→WAN udp 53 (no DNS preset)", "udp", LAN_HOST, WAN_SERVER, 53),
        accepted("LAN(allowlisted)→WAN tcp 7000", "tcp", LAN_ALLOWLISTED, WAN_SERVER, 7000, "allowlist",
                 "allowlist"),
        dropped("LAN(denylisted)→WAN tcp 7000", "tcp", LAN_DENYLISTED, WAN_SERVER, 7000, "denylist", "denylist"),
        dropped("LAN→WAN tcp 502 (modbus)", "tcp", LAN_HOST, WAN_SERVER, 502, "application-deny", "app:modbus"),
        # Nothing the WAN starts gets in, but ICMP to the gateway.
        dropped("WAN→LAN tcp 7100", "tcp", WAN_SERVER, LAN_HOST, 7100),
        dropped("WAN→LAN udp 7101", "udp", WAN_SERVER, LAN_HOST, 7101),
        dropped("WAN→LAN icmp echo", "icmp", WAN_SERVER, LAN_HOST, None),
        dropped("WAN→LAN tcp6 7100", "tcp", WAN_HOST6, LAN_HOST6, 7100),
        dropped("WAN→gateway tcp 8443 (web UI)", "tcp", WAN_OPERATOR, gw_wan, 8443),
        dropped("WAN→gateway tcp 8444 (management)", "tcp", WAN_OPERATOR, gw_wan, 8444),
        dropped("WAN→gateway tcp 1883 (MQTT)", "tcp", WAN_SERVER, gw_wan, 1883),
        accepted("WAN→gateway icmp echo", "icmp", WAN_SERVER, gw_wan, None, "preset-allow", "preset:icmp"),
        accepted("WAN→gateway icmpv6 echo", "icmp", WAN_SERVER6, lab.GW_WAN_V6, None, "preset-allow",
                 "preset:icmpv6"),
        # LAN → gateway: the management path, not the broker (no MQTT preset on this path).
        accepted("LAN→gateway tcp 8443 (web UI)", "tcp", LAN_OTHER, gw_lan, 8443, "preset-allow", "preset:web"),
        accepted("LAN→gateway tcp 8444 (management)", "tcp", LAN_OTHER, gw_lan, 8444, "preset-allow",
                 "preset:management"),
        dropped("LAN→gateway tcp 1883 (MQTT)", "tcp", LAN_HOST, gw_lan, 1883),
        accepted("LAN→gateway icmp echo", "icmp", LAN_HOST, gw_lan, None, "preset-allow", "preset:icmp"),
    ]


# ------------------------------------------------------------------ router

def test_router_flow_matrix(router):
    ids = apply_matrix_policy(router, with_wan_rules=True)
    run_matrix(router, router_flows(ids), "router")


def test_emergency_mode_drops_all_but_the_management_path(router):
    ids = apply_matrix_policy(router, with_wan_rules=True)
    before = [f for f in router_flows(ids) if f.verdict == "accept" and f.reply_of is None]
    run_matrix(router, before, "router, before emergency mode")

    router.change("PUT", "/firewall/emergency", json={"enabled": True})
    assert router.state()["configuration"]["emergency"] is True  # the API still answers through the LAN relay
    flush_conntrack()
    during = [Flow(f.name, f.transport, f.source, f.destination, f.port,
                   *(("accept", f.stage, f.rule) if f.stage == "preset-allow" else ("drop", "emergency-deny",
                                                                                     "emergency")))
              for f in before]
    assert {f.rule for f in during if f.verdict == "accept"} == {"preset:web", "preset:management", "preset:icmp",
                                                                "preset:icmpv6"}
    run_matrix(router, during, "router, emergency mode")

    router.change("PUT", "/firewall/emergency", json={"enabled": False})
    flush_conntrack()
    after = [Flow(f.name, f.transport, f.source, f.destination, f.port, f.verdict, f.stage, f.rule, echo=f.echo)
             for f in before]
    run_matrix(router, after, "router, emergency mode off again")


def test_port_forward_reaches_the_lan_service(router):
    forward = dropped("WAN→gateway tcp 8080 (no forward)", "tcp", WAN_OPERATOR, lab.GW_WAN_V4, 8080, echo=True)
    run_matrix(router, [forward], "router, before the port forward")

    created = router.change("POST", "/firewall/nat", 201, json={"protocol": "tcp", "wanPort": "8080",
                                                                "lanAddress": LAN_HOST, "lanPort": "8081"})
    nat = f"nat:{created['id']}"
    run_matrix(router, [accepted("WAN→gateway tcp 8080 → 192.0.2.10:8081, echo", "tcp", WAN_OPERATOR,
                                 lab.GW_WAN_V4, 8080, "nat-allow", nat, echo=True)], "router, port forward")
    explained = router.explain(ingress="wan", source=WAN_OPERATOR, destination=lab.GW_WAN_V4, protocol="tcp",
                               destinationPort=8080)
    assert explained["translation"] == {"rule": nat, "destination": LAN_HOST, "destinationPort": 8081}
    assert explained["hook"] == "forward"


def _peer_seen(port: int = 7300) -> str:
    result = lab.in_ns(lab.LAN_NS, sys.executable, str(NETPROBE), "probe", "tcp", WAN_SERVER, str(port),
                       "--source", LAN_HOST, "--timeout", str(PROBE_TIMEOUT), "--send", "who am I")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("reply "), result.stdout
    return result.stdout.split(" ", 1)[1].strip()


def test_masquerading_rewrites_the_source_seen_on_the_wan(router):
    router.add_rule(action="allow", zone="lan", protocol="tcp", destination=WAN_SERVER, destinationPort="7300")
    flush_conntrack()
    assert _peer_seen() == LAN_HOST

    router.change("PUT", "/firewall/masquerade", json={"enabled": True})
    flush_conntrack()
    assert _peer_seen() == lab.GW_WAN_V4

    router.change("PUT", "/firewall/masquerade", json={"enabled": False})
    flush_conntrack()
    assert _peer_seen() == LAN_HOST


def test_denylist_entry_with_a_lifetime_blocks_until_it_expires(router):
    rule = "rule:{}".format(router.add_rule(action="allow", zone="lan", protocol="tcp", destination=WAN_SERVER,
                                            destinationPort="7000"))

    def flow(verdict: str, stage: str, rule_id: str) -> Flow:
        return Flow("LAN→WAN tcp 7000, echo", "tcp", LAN_HOST, WAN_SERVER, 7000, verdict, stage, rule_id, echo=True)

    run_matrix(router, [flow("accept", "custom-allow", rule)], "router, before the denylist entry")

    added = router.change("POST", "/firewall/lists/denylist", 201, json={"address": WAN_SERVER, "ttlSeconds": 5})
    assert "confirmBy" not in added and added["detail"] == "applied (list update)", added
    entries = router.state()["configuration"]["denylist"]
    assert [e["address"] for e in entries] == [WAN_SERVER] and entries[0]["expires"], entries
    flush_conntrack()
    run_matrix(router, [flow("drop", "denylist", "denylist")], "router, denylisted for 5 s")

    # The kernel drops the set element on its own once the timeout is over.
    wait_until(lambda: flow("accept", "", "").probe() == "accept", timeout=15, interval=0.2,
               message="the flow passing again after the denylist entry expired")
    wait_until(lambda: router.state()["configuration"]["denylist"] == [], timeout=5, interval=0.2,
               message="the expired entry leaving GET /firewall")
    run_matrix(router, [flow("accept", "custom-allow", rule)], "router, after the entry expired")


def test_a_ruleset_the_kernel_refuses_changes_nothing(router):
    router.add_rule(action="allow", zone="lan", protocol="tcp", destination=WAN_SERVER, destinationPort="7000")
    before = router.state()

    def table() -> str:
        return lab.in_ns(lab.GW_NS, "nft", "list", "table", "inet", "rampart", check=True).stdout

    table_before = table()

    # Two networks: the same kernel set (an interval set), whose elements must not overlap.
    overlapping = [{"address": "203.0.113.0/24", "comment": "", "source": "manual"},
                   {"address": "203.0.113.0/25", "comment": "", "source": "manual"}]
    settings = {**before["configuration"], "denylist": overlapping, "masquerade": True}
    # Without force, validation refuses overlapping entries before the kernel sees them.
    refused = router.call("PUT", "/firewall", json={"version": before["version"], "settings": settings})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid", refused.text
    assert "overlaps" in refused.json()["message"], refused.text

    r = router.call("PUT", "/firewall", json={"version": before["version"], "settings": settings, "force": True})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "ruleset_rejected", body
    assert "conflicting intervals" in body["message"], body  # nft's own error
    assert "ruleset line" in body["message"] and "203.0.113.0/25" in body["message"], body  # the line it names

    assert table() == table_before
    after = router.state()
    assert after["version"] == before["version"]
    assert after["configuration"] == before["configuration"]
    assert after["state"]["applied"] is True


def test_commit_confirm_reverts_an_unconfirmed_change(router):
    gateway = router.gateway
    assert not wan_reaches_web_ui(gateway)

    created = router.change("POST", "/firewall/rules", 201, confirm=False,
                            json={"action": "allow", "zone": "wan", "protocol": "tcp", "destinationPort": "8443",
                                  "comment": "web UI from the WAN"})
    rule_id, deadline = created["id"], parse_date(created["report"]["confirmBy"])
    assert router.state().get("pending", {}).get("deadline")
    busy = router.call("PUT", "/firewall/masquerade", json={"enabled": True})
    assert busy.status_code == 409 and busy.json()["code"] == "confirmation_pending", busy.text
    assert wan_reaches_web_ui(gateway)

    # Not confirmed: the rule goes once the deadline has passed, and the WAN host with it.
    wait_until(lambda: (s := router.state()).get("pending") is None
               and all(r["id"] != rule_id for r in s["configuration"]["rules"]),
               timeout=CONFIRM_SECONDS + 10, interval=0.25, message="the unconfirmed rule reverting")
    assert dt.datetime.now(dt.timezone.utc) >= deadline
    flush_conntrack()
    assert not wan_reaches_web_ui(gateway)
    reverted = router.ok("GET", "/audit", params={"limit": 1000})["items"]
    assert any(e["event"]["type"] == "FirewallChangeReverted" for e in reverted)

    # Confirmed: it stays past its deadline.
    created = router.change("POST", "/firewall/rules", 201, confirm=False,
                            json={"action": "allow", "zone": "wan", "protocol": "tcp", "destinationPort": "8443"})
    rule_id, deadline = created["id"], parse_date(created["report"]["confirmBy"])
    router.ok("POST", "/firewall/confirm")
    assert router.state().get("pending") is None
    while dt.datetime.now(dt.timezone.utc) < deadline + dt.timedelta(seconds=1.5):
        assert any(r["id"] == rule_id for r in router.state()["configuration"]["rules"])
        time.sleep(0.25)
    assert wan_reaches_web_ui(gateway)


def test_lockout_is_refused_unless_forced(router):
    gateway = router.gateway
    router.add_rule(action="allow", zone="wan", protocol="tcp", destinationPort="8443")  # confirmed
    assert wan_reaches_web_ui(gateway)

    refused = gateway.wan_api("POST", "/firewall/lists/denylist", json={"address": WAN_OPERATOR})
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "lockout" and WAN_OPERATOR in refused.json()["message"], refused.text
    assert router.state()["configuration"]["denylist"] == []

    forced = gateway.wan_api("POST", "/firewall/lists/denylist", json={"address": WAN_OPERATOR, "force": True})
    assert forced.status_code == 201, forced.text
    assert forced.json()["applied"] is True

    # From the LAN side: the entry is in force and the WAN operator is cut off.
    state = router.state()
    assert [e["address"] for e in state["configuration"]["denylist"]] == [WAN_OPERATOR]
    if state.get("pending"):
        router.ok("POST", "/firewall/confirm")
    flush_conntrack()
    assert not wan_reaches_web_ui(gateway)
    explained = router.explain(ingress="wan", source=WAN_OPERATOR, destination=lab.GW_WAN_V4, protocol="tcp",
                               destinationPort=8443)
    assert (explained["verdict"], explained["stage"], explained["rule"]) == ("drop", "denylist", "denylist")


def test_counters_count_the_packets_a_custom_rule_matched(router):
    used = router.add_rule(action="allow", zone="lan", protocol="tcp", destination=WAN_SERVER, destinationPort="7000")
    unused = router.add_rule(action="allow", zone="lan", protocol="udp", destinationPort="7999")
    flush_conntrack()
    probe = accepted("LAN→WAN tcp 7000, echo", "tcp", LAN_HOST, WAN_SERVER, 7000, "custom-allow", f"rule:{used}",
                     echo=True)
    run_matrix(router, [probe, probe], "router, counted")

    counters = {c["rule"]: c for c in router.ok("GET", "/firewall/counters")}
    assert set(counters) == {used, unused}
    # Stateful rules count the first packet of each connection only: one SYN per probe.
    assert counters[used]["packets"] == 2 and counters[used]["bytes"] > 0, counters
    assert counters[unused]["packets"] == 0, counters


def test_every_change_is_audited_with_its_diff(router):
    rule_id = router.add_rule(action="allow", zone="lan", protocol="tcp", destination=WAN_SERVER,
                              destinationPort="7000")
    router.change("PUT", "/firewall/masquerade", json={"enabled": True})
    router.change("POST", "/firewall/lists/denylist", 201, json={"address": "203.0.113.9", "comment": "audit"})
    router.change("DELETE", f"/firewall/rules/{rule_id}")

    summary = f"allow LAN TCP any → {WAN_SERVER}:7000"
    expected = [
        ("POST /api/v1/firewall/rules", f"rule {rule_id} added: {summary}"),
        ("PUT /api/v1/firewall/masquerade", "masquerading: off → on"),
        ("POST /api/v1/firewall/lists/denylist", '203.0.113.9 (manual) "audit"'),
        (f"DELETE /api/v1/firewall/rules/{rule_id}", f"rule {rule_id} deleted: {summary}"),
    ]
    entries = router.ok("GET", "/audit", params={"limit": 1000, "sort": "oldestFirst"})["items"]
    changes = [fields(e) for e in entries if e["event"]["type"] == "ConfigurationChange" and "change" in fields(e)]
    for action, line in expected:
        found = [f for f in changes if f["action"] == [action] and any(line in c for c in f["change"])]
        assert found, f"no audit record of {action} with a change line containing {line!r}; records: {changes}"
        assert found[-1]["user"][0].startswith("token:") and found[-1]["src"] == [LAN_HOST], found[-1]
    # The reset before this test is a change too, with one line per rule it removed.
    assert any(f["action"] == ["PUT /api/v1/firewall"] for f in changes)


# ------------------------------------------------------------------ unidirectional

def test_unidirectional_flow_matrix(unidirectional):
    # WAN rules and port forwards are refused for this device type.
    r = unidirectional.call("POST", "/firewall/rules", json=dict(action="allow", zone="wan", protocol="tcp",
                                                                  destinationPort="7100"))
    assert r.status_code == 422 and r.json()["code"] == "invalid", r.text
    r = unidirectional.call("POST", "/firewall/nat", json={"protocol": "tcp", "wanPort": "8080",
                                                           "lanAddress": LAN_HOST})
    assert r.status_code == 422 and r.json()["code"] == "invalid", r.text
    assert unidirectional.state()["configuration"]["rules"] == []

    ids = apply_matrix_policy(unidirectional, with_wan_rules=False)
    run_matrix(unidirectional, unidirectional_flows(ids), "unidirectional")
