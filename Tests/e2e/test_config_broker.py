"""`rampart broker -c FILE [-p PORT] [-v] [-d]`: the broker run from an
unchanged mosquitto.conf - configuration errors, include_dir, -p, -v, -d,
and Mosquitto's own example configuration files."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import mqtt_raw as R
from broker_config import (ConfBroker, _hand_to_mosquitto_user, broker_command,  # noqa: F401
                           conf_broker, port_accepts)
from conftest import IS_MOSQUITTO, _free_port, wait_until

DEBIAN_CONF = Path("/etc/mosquitto/mosquitto.conf")
EXAMPLE_CONF = Path("/usr/share/doc/mosquitto/examples/mosquitto.conf")


def run_broker_expecting_exit(b: ConfBroker, conf_text: str, *args: str,
                              timeout: float = 15.0) -> subprocess.CompletedProcess:
    """Run the broker on conf_text (rendered, written to b.dir/mosquitto.conf) and
    wait for it to exit by itself; the output also goes to the test's log."""
    conf = b.write("mosquitto.conf", conf_text)
    cmd = broker_command(conf, *[b.render(a) for a in args])
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, cwd=b.dir)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"broker still running after {timeout}s on an invalid configuration:\n"
                             f"{(e.stderr or b'')[-2000:]!r}") from None
    with open(b.log_path, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n--- exit code {r.returncode}\n--- stdout\n{r.stdout}\n"
                f"--- stderr\n{r.stderr}\n")
    return r


# ------------------------------------------------------------------ invalid configurations

# (name, main conf, {included file: text}, file with the error ("main" or the include), line)
BROKEN = [
    ("unknown option",
     "# comment\n\nlistener {{port}} 127.0.0.1\nfoo bar\nallow_anonymous true\n", {}, "main", 4),
    ("port out of range",
     "allow_anonymous true\n\n# the listener\nlistener 70000 127.0.0.1\n", {}, "main", 4),
    ("bad boolean",
     "listener {{port}} 127.0.0.1\nallow_anonymous maybe\n", {}, "main", 2),
    ("missing value",
     "listener {{port}} 127.0.0.1\n\n\nmax_keepalive\n", {}, "main", 4),
    ("bad protocol",
     "listener {{port}} 127.0.0.1\nprotocol bogus\nallow_anonymous true\n", {}, "main", 2),
    ("bad log_type",
     "# logging\nlog_type bogus\nlistener {{port}} 127.0.0.1\n", {}, "main", 2),
    ("bad use_identity_as_username",
     "listener {{port}} 127.0.0.1\nrequire_certificate true\nuse_identity_as_username yes\n", {}, "main", 3),
    ("missing include_dir",
     "listener {{port}} 127.0.0.1\ninclude_dir {{dir}}/does-not-exist\n", {}, "main", 2),
    ("error in included file",
     "listener {{port}} 127.0.0.1\ninclude_dir {{dir}}/conf.d\n",
     {"conf.d/10-ok.conf": "allow_anonymous true\n",
      "conf.d/20-bad.conf": "# included\n\nbogus_option 1\n"},
     "conf.d/20-bad.conf", 3),
]


@pytest.mark.parametrize("name,conf,includes,bad_file,line", BROKEN, ids=[c[0] for c in BROKEN])
def test_invalid_configuration_is_rejected_with_file_and_line(conf_broker, name, conf, includes,
                                                             bad_file, line):
    b = conf_broker.new()
    for rel, text in includes.items():
        b.write(rel, text)
    r = run_broker_expecting_exit(b, conf)
    assert r.returncode != 0, f"{name}: broker exited 0"
    path = b.path("mosquitto.conf" if bad_file == "main" else bad_file)
    assert f"{path}:{line}" in r.stderr, \
        f"{name}: expected '{path}:{line}' on stderr; got stderr:\n{r.stderr}\nstdout:\n{r.stdout}"
    if "{{port}}" in conf:
        assert not port_accepts(b.port), "the listener of the rejected configuration is open"


@pytest.mark.rampart_only(reason="Mosquitto exits with 3 (MOSQ_ERR_INVAL) on configuration errors; "
                                 "Rampart's contract is exit code 1")
@pytest.mark.parametrize("name,conf,includes,bad_file,line", BROKEN, ids=[c[0] for c in BROKEN])
def test_invalid_configuration_exit_code_is_1(conf_broker, name, conf, includes, bad_file, line):
    b = conf_broker.new()
    for rel, text in includes.items():
        b.write(rel, text)
    r = run_broker_expecting_exit(b, conf)
    assert r.returncode == 1, f"{name}: exit code {r.returncode}, expected 1; stderr:\n{r.stderr}"
    # file:line: message
    path = b.path("mosquitto.conf" if bad_file == "main" else bad_file)
    assert re.search(re.escape(f"{path}:{line}:") + r" ?\S", r.stderr), r.stderr


def test_missing_config_file_is_an_error(conf_broker):
    b = conf_broker.new()
    missing = b.path("nope/mosquitto.conf")
    r = subprocess.run(broker_command(missing), stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=15)
    assert r.returncode != 0
    assert str(missing) in r.stderr + r.stdout


# ------------------------------------------------------------------ include_dir

def test_include_dir_files_are_read_in_sorted_order(conf_broker):
    b = conf_broker.new()
    # Created in reverse order so that directory order (creation order / hash order)
    # is unlikely to equal the sorted order. The last file in sorted order has the
    # last word on the global allow_anonymous; a non-.conf file is ignored.
    b.write("conf.d/zz-not-a-conf.txt", "this is not configuration\n")
    b.write("conf.d/30-last.conf", "allow_anonymous true\n")
    b.write("conf.d/20-second.conf", "listener {{port2}} 127.0.0.1\nallow_anonymous false\n")
    b.write("conf.d/10-first.conf", "listener {{port1}} 127.0.0.1\nallow_anonymous false\n")
    b.start("# main file\nallow_anonymous false\ninclude_dir {{dir}}/conf.d\n")
    assert b.listen_ports == [b.ports["port2"], b.ports["port1"]] or \
        sorted(b.listen_ports) == sorted([b.ports["port1"], b.ports["port2"]])
    for port in (b.ports["port1"], b.ports["port2"]):
        c = R.RawClient(port, version=4)
        try:
            ack = c.connect(f"anon-{port}", expect_success=False)
            assert ack.reason == 0, f"anonymous refused on {port}: 30-last.conf was not read last ({ack!r})"
        finally:
            c.close()
    # and both listeners belong to one broker
    sub = b.client(b.ports["port1"], version=5, client_id="sub-1")
    sub.connect()
    sub.subscribe("inc/t", 1)
    pub = b.client(b.ports["port2"], version=5, client_id="pub-2")
    pub.connect()
    pub.publish("inc/t", b"across listeners", qos=1)
    assert sub.get().payload == b"across listeners"


# ------------------------------------------------------------------ -p and -v

def test_dash_p_listens_when_config_has_no_listener(conf_broker):
    b = conf_broker.new()
    b.start("allow_anonymous true\n", args=["-p", "{{port}}"])
    c = b.client(version=5, client_id="dash-p")
    c.connect()


@pytest.mark.rampart_only(reason="Mosquitto 2.0.11 ignores -p when the config file defines listeners")
def test_dash_p_adds_a_listener(conf_broker):
    b = conf_broker.new()
    b.start("listener {{port}} 127.0.0.1\nallow_anonymous true\n", args=["-p", "{{extra_port}}"])
    assert b.listen_ports == [b.port, b.ports["extra_port"]]
    sub = b.client(b.port, version=5, client_id="on-config-listener")
    sub.connect()
    sub.subscribe("p/t", 1)
    pub = b.client(b.ports["extra_port"], version=311, client_id="on-dash-p")
    pub.connect()
    pub.publish("p/t", b"via -p", qos=1)
    assert sub.get().payload == b"via -p"


def test_verbose_logs_every_packet(conf_broker):
    b = conf_broker.new()
    b.start("listener {{port}} 127.0.0.1\nallow_anonymous true\n", args=["-v"])
    c = b.client(version=5, client_id="verbose-client")
    c.connect()
    c.subscribe("v/t", 1)
    c.publish("v/t", b"hi", qos=1)
    c.get()
    wait_until(lambda: "Received PUBLISH from verbose-client" in b.log_text(), 5.0,
               message="'Received PUBLISH from verbose-client' in the broker log")
    log = b.log_text()
    assert "Sending CONNACK to verbose-client" in log, b.log_tail()
    assert "'v/t'" in log, b.log_tail()


def test_without_verbose_no_packet_log(conf_broker):
    b = conf_broker.new()
    b.start("listener {{port}} 127.0.0.1\nallow_anonymous true\n")
    c = b.client(version=5, client_id="quiet-client")
    c.connect()
    c.subscribe("q/t", 1)
    c.publish("q/t", b"hi", qos=1)
    c.get()     # the broker has handled the PUBLISH (and would have logged it by now)
    assert "Received PUBLISH from" not in b.log_text(), b.log_tail()


# ------------------------------------------------------------------ -d

def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_daemon_mode(conf_broker):
    b = conf_broker.new()
    conf = b.write("mosquitto.conf", "pid_file {{dir}}/broker.pid\nlistener {{port}} 127.0.0.1\n"
                                     "allow_anonymous true\n")
    _hand_to_mosquitto_user(b.dir)
    cmd = broker_command(conf, "-d")
    pid = None
    with open(b.log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        t0 = time.monotonic()
        # stdout/stderr to a file, not pipes: the daemon inherits them
        parent = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  cwd=b.dir, start_new_session=True)
        try:
            rc = parent.wait(10)
        except subprocess.TimeoutExpired:
            parent.kill()
            parent.wait(5)
            pytest.fail("the parent process did not exit within 10s with -d")
    try:
        assert rc == 0, f"parent exited {rc}; log:\n{b.log_tail()}"
        assert time.monotonic() - t0 < 10
        pid_file = b.path("broker.pid")
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip().isdigit(), 10.0,
                   message="pid_file written")
        pid = int(pid_file.read_text().strip())
        assert pid != parent.pid, "pid_file names the exited parent, not the daemon"
        assert _alive(pid), f"no process {pid}"
        wait_until(lambda: port_accepts(b.port), 10.0, message=f"daemon listening on {b.port}")
        c = b.client(version=5, client_id="to-daemon")
        c.connect()
        c.subscribe("d/t", 1)
        c.publish("d/t", b"daemon", qos=1)
        assert c.get().payload == b"daemon"
        c.cleanup()
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _alive(pid), 10.0, message=f"daemon {pid} exiting after SIGTERM")
        wait_until(lambda: not port_accepts(b.port), 5.0, message="port closed after SIGTERM")
    finally:
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ Mosquitto's own files

def _debian_conf_with_temp_paths(b: ConfBroker) -> tuple[str, dict[str, Path]]:
    """Debian's /etc/mosquitto/mosquitto.conf with only its paths moved to b.dir."""
    text = DEBIAN_CONF.read_text()
    paths = {
        "pid_file": b.path("run/mosquitto.pid"),
        "persistence_location": b.path("lib/"),
        "log_file": b.path("log/mosquitto.log"),
        "include_dir": b.path("conf.d"),
    }
    subs = [
        (r"^pid_file .*$", f"pid_file {paths['pid_file']}"),
        (r"^persistence_location .*$", f"persistence_location {paths['persistence_location']}/"),
        (r"^log_dest file .*$", f"log_dest file {paths['log_file']}"),
        (r"^include_dir .*$", f"include_dir {paths['include_dir']}"),
    ]
    for pat, repl in subs:
        text, n = re.subn(pat, repl.replace("\\", "\\\\"), text, flags=re.M)
        assert n == 1, f"{DEBIAN_CONF} has no single '{pat}' line"
    for d in ("run", "lib", "log", "conf.d"):
        b.path(d).mkdir(parents=True, exist_ok=True)
    # Debian ships conf.d/README; include_dir must skip it (not *.conf)
    readme = Path("/etc/mosquitto/conf.d/README")
    if readme.exists():
        b.write("conf.d/README", readme.read_text(), render=False)
    return text, paths


needs_debian_conf = pytest.mark.skipif(not DEBIAN_CONF.exists(), reason=f"{DEBIAN_CONF} not installed")


@needs_debian_conf
def test_debian_default_config_runs(conf_broker):
    # The stock file defines no listener. Rather than editing it, the listener
    # goes where Debian wants local configuration: a file in the include_dir.
    # (A stock file with no listener at all listens on localhost:1883, see
    # test_debian_default_config_without_listener_uses_1883.)
    b = conf_broker.new()
    text, paths = _debian_conf_with_temp_paths(b)
    b.write("conf.d/local.conf", "listener {{port}} 127.0.0.1\nallow_anonymous true\n")
    b.start(text, render=False)

    pid = wait_until(lambda: paths["pid_file"].exists() and paths["pid_file"].read_text().strip(), 10.0,
                     message="pid_file written")
    assert int(pid) == b.proc.pid, f"pid_file has {pid}, broker is {b.proc.pid}"
    c = b.client(version=311, client_id="debian-client", clean=True)
    c.connect()
    c.subscribe("debian/t", 1)
    c.publish("debian/retained", b"kept across restart", qos=1, retain=True)
    c.publish("debian/t", b"hello", qos=1)
    assert c.get().payload == b"hello"
    wait_until(lambda: paths["log_file"].exists() and paths["log_file"].stat().st_size > 0, 10.0,
               message=f"log_dest file {paths['log_file']} written")
    c.cleanup()

    # persistence true + persistence_location: a retained message survives a restart
    b.restart()
    c2 = b.client(version=5, client_id="debian-client-2")
    c2.connect()
    c2.subscribe("debian/retained", 1)
    m = c2.get(10.0)
    assert (m.payload, m.retain) == (b"kept across restart", True)


@needs_debian_conf
def test_debian_default_config_without_listener_uses_1883(conf_broker):
    if port_accepts(1883) or not _port_free(1883):
        pytest.skip("port 1883 is in use on this machine")
    b = conf_broker.new()
    text, _ = _debian_conf_with_temp_paths(b)
    b.start(text, render=False, wait_ports=[1883])
    c = b.client(1883, version=5, client_id="debian-1883")
    c.connect()


def _port_free(port: int) -> bool:
    import socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.mark.skipif(not EXAMPLE_CONF.exists(), reason=f"{EXAMPLE_CONF} not installed")
def test_annotated_example_config_runs_unchanged(conf_broker):
    # Every line of the annotated example is a comment or blank. It is copied
    # unchanged; -p gives it a free port instead of the default 1883.
    b = conf_broker.new()
    text = EXAMPLE_CONF.read_text()
    assert all(not l.strip() or l.lstrip().startswith("#") for l in text.splitlines())
    b.start(text, render=False, args=["-p", "{{port}}"])
    c = b.client(version=5, client_id="example-client")
    c.connect()
    c.subscribe("ex/t", 0)
    c.publish("ex/t", b"ok", qos=0)
    assert c.get().payload == b"ok"
