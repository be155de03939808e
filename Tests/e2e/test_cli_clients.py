"""Interoperability with the mosquitto_pub / mosquitto_sub command line clients."""

import queue
import shutil
import subprocess
import threading
import time

import pytest

pytestmark = pytest.mark.cli

STDBUF = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []


class Sub:
    """mosquitto_sub in the background; its stdout lines are read into a queue."""

    def __init__(self, port: int, args: list[str]):
        cmd = STDBUF + ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-d", "-W", "30"] + args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.transcript: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, predicate, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"mosquitto_sub output never matched; transcript:\n" + "\n".join(self.transcript))
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("mosquitto_sub exited; transcript:\n" + "\n".join(self.transcript))
            self.transcript.append(line)
            if predicate(line):
                return line

    def wait_subscribed(self):
        self.wait_line(lambda l: "received SUBACK" in l)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(autouse=True)
def _require_cli():
    missing = [c for c in ("mosquitto_pub", "mosquitto_sub") if not shutil.which(c)]
    if missing:
        pytest.fail(f"{missing} not installed: apt-get install -y mosquitto-clients "
                    f"(or set E2E_SKIP_CLI=1 to skip these tests)")


@pytest.fixture
def cli_sub(broker):
    made = []

    def factory(args):
        s = Sub(broker.port, args)
        made.append(s)
        return s

    yield factory
    for s in made:
        s.stop()


def pub(port: int, args: list[str]) -> None:
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port)] + args,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, f"mosquitto_pub failed ({r.returncode}): {r.stdout}{r.stderr}"


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
@pytest.mark.parametrize("qos", ["0", "1", "2"])
def test_pub_sub_round_trip(broker, cli_sub, version, qos):
    s = cli_sub(["-t", "a/#", "-v", "-V", version, "-q", qos, "-C", "1"])
    s.wait_subscribed()
    pub(broker.port, ["-t", "a/b", "-m", "hi", "-V", version, "-q", qos])
    s.wait_line(lambda l: l == "a/b hi")
    assert s.proc.wait(10) == 0     # -C 1: exits after exactly one message


def test_retained_via_cli(broker, cli_sub):
    pub(broker.port, ["-t", "cli/ret", "-m", "stored", "-r", "-q", "1"])
    # a new subscriber gets it, flagged as retained (debug line "PUBLISH (d0, q1, r1, ...")
    s = cli_sub(["-t", "cli/ret", "-v", "-q", "1", "-C", "1"])
    line = s.wait_line(lambda l: "received PUBLISH" in l)
    assert "r1" in line, line
    s.wait_line(lambda l: l == "cli/ret stored")


def test_paho_and_cli_interoperate(broker, cli_sub, mqtt):
    s = cli_sub(["-t", "mix/#", "-v", "-V", "mqttv5", "-q", "2", "-C", "1"])
    s.wait_subscribed()
    p = mqtt(311)
    p.publish("mix/one", b"from paho", qos=2)
    s.wait_line(lambda l: l == "mix/one from paho")
    sub = mqtt(5)
    sub.subscribe("mix2/#", 2)
    pub(broker.port, ["-t", "mix2/x", "-m", "from cli", "-q", "2", "-V", "mqttv311"])
    m = sub.get(5)
    assert (m.topic, m.payload, m.qos) == ("mix2/x", b"from cli", 2)
