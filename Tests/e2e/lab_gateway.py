"""A gateway inside the lab's `rampart-gw` namespace, its firewall applied to the lab's real interfaces, and a way
for the test process (in the root namespace) to reach its web UI as a LAN or a WAN operator would.

The test process cannot open sockets in another namespace, so each side gets a relay: `socat` inside rampart-lan
(or rampart-wan) connects to the gateway's web port from a lab address, and a second `socat` in the root namespace
offers it on a loopback port; the two meet on a Unix socket, which is not bound to a network namespace. The gateway
therefore sees the LAN device 192.0.2.10 (or the WAN host 198.51.100.10) as the operator's address, as it would on a
real network.

Helpers, not tests. Only one lab exists at a time: `lab_session` holds /tmp/rampart-lab.lock while the lab is up.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import lab
from conftest import RAMPART_BIN, Gateway, _free_port, wait_until

LOCK_FILE = "/tmp/rampart-lab.lock"
WEB_PORT = 8443
MQTT_PORT = 1883


@contextmanager
def lab_session():
    """The lab, up for the duration, under the lab lock; taken down afterwards."""
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lab.lab_down(RAMPART_BIN)
        lab.lab_up(RAMPART_BIN)
        try:
            yield
        finally:
            lab.lab_down(RAMPART_BIN)


class Relay:
    """Offers `target_host:target_port`, reached from inside namespace `ns`, on 127.0.0.1:<port>."""

    def __init__(self, ns: str, source: str, target_host: str, target_port: int):
        self.ns, self.source, self.target_host, self.target_port = ns, source, target_host, target_port
        self.dir = Path(tempfile.mkdtemp(prefix="rampart-relay-"))
        self.socket = self.dir / "relay.sock"
        self.port = _free_port()
        self.procs: list[subprocess.Popen] = []

    def start(self) -> "Relay":
        socat = shutil.which("socat") or "/usr/bin/socat"
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.ns, socat, f"UNIX-LISTEN:{self.socket},fork,unlink-early",
             f"TCP:{self.target_host}:{self.target_port},bind={self.source}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_until(self.socket.exists, timeout=10, message=f"relay socket in {self.ns}")
        self.procs.append(subprocess.Popen(
            [socat, f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{self.socket}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class LabGateway(Gateway):
    """`rampart run` in rampart-gw on the lab's interfaces, with its firewall applied (--system-changes apply).

    `url` reaches the web UI as the LAN device 192.0.2.10; `wan_url` as the WAN host 198.51.100.10 (through which
    only what the firewall admits from the WAN gets in)."""

    def __init__(self, name: str, workdir: Path, device_type: str = "router", confirm_seconds: int = 60):
        super().__init__(name, workdir, {})
        self.device_type = device_type
        self.confirm_seconds = confirm_seconds
        self.mqtt_port = MQTT_PORT
        self.lan_relay = Relay(lab.LAN_NS, lab.LAN_V4[0], lab.GW_LAN_V4, WEB_PORT)
        self.wan_relay = Relay(lab.WAN_NS, lab.WAN_V4[1], lab.GW_WAN_V4, WEB_PORT)

    def command(self) -> list[str]:
        return ["ip", "netns", "exec", lab.GW_NS, str(RAMPART_BIN), "run", "--data-dir", str(self.data_dir),
                "--mqtt-port", str(MQTT_PORT), "--bind", "0.0.0.0", "--web-port", str(WEB_PORT),
                "--web-bind", "0.0.0.0", "--device-type", self.device_type,
                "--firewall-confirm-seconds", str(self.confirm_seconds), "--login-delay", "0.05",
                "--log-level", "info"]

    def start(self) -> "LabGateway":
        self.lan_relay.start()
        self.wan_relay.start()
        # Readiness goes through the LAN relay: the firewall admits the web UI from the LAN from the start.
        self.web_port = self.lan_relay.port
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.lan_relay.stop()
        self.wan_relay.stop()

    @property
    def wan_url(self) -> str:
        return f"https://127.0.0.1:{self.wan_relay.port}"

    def wan_api(self, method: str, path: str, timeout: float = 3, **kw):
        """A request as the WAN host 198.51.100.10 with the console token; raises on a connection that the firewall
        drops (the relay's connection times out)."""
        import requests
        s = requests.Session()
        s.verify = False
        s.trust_env = False
        s.headers["Authorization"] = f"Bearer {self.console_token}"
        return s.request(method, self.wan_url + "/api/v1" + path, timeout=timeout, **kw)

    def firewall_state(self, session) -> dict:
        r = self.api(session, "GET", "/firewall")
        assert r.status_code == 200, r.text
        return r.json()

    def wait_applied(self, session, timeout: float = 10) -> dict:
        return wait_until(lambda: (s := self.firewall_state(session))["state"]["applied"] and s,
                          timeout=timeout, message="the firewall ruleset applied")
