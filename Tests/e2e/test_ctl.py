"""`rampart ctl`: the REST API from a shell, against a running gateway (fixture `gateway`).

With `--data-dir` and a loopback URL, ctl uses the console token the gateway leaves in its data directory and pins
the certificate it publishes there; with `--token` and `--cacert` it works like any remote script."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess

import pytest

from conftest import RAMPART_BIN, _free_port, wait_until

pytestmark = pytest.mark.rampart_only  # the management plane is a gateway feature; Mosquitto has none


def ctl(gateway, *args, token: str | None = None, cacert: str | None = None, data_dir: bool = True,
        check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    """Runs `rampart ctl <args>` against `gateway`; options go after the subcommand, where ArgumentParser wants
    them."""
    cmd = [str(RAMPART_BIN), "ctl", *args, "--url", gateway.url]
    if data_dir:
        cmd += ["--data-dir", str(gateway.data_dir)]
    else:
        # Somewhere without a console token or a published certificate, so that nothing is picked up by default.
        cmd += ["--data-dir", str(gateway.workdir / "no-such-data-dir")]
    if token is not None:
        cmd += ["--token", token]
    if cacert is not None:
        cmd += ["--cacert", cacert]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(gateway.workdir)})
    if check:
        assert result.returncode == 0, f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def create_token(gateway, name: str) -> str:
    """`ctl tokens create NAME` with the console token (found through --data-dir); returns the printed secret."""
    out = ctl(gateway, "tokens", "create", name).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and len(lines[0].strip()) >= 32, f"expected one secret, got {out!r}"
    return lines[0].strip()


@pytest.mark.cli
def test_ctl_with_a_token_switches_the_broker_profile(gateway, tmp_path):
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        assert shutil.which(tool), f"{tool} is missing (apt-get install mosquitto-clients, or E2E_SKIP_CLI=1)"
    secret = create_token(gateway, "ci")
    remote = {"token": secret, "cacert": gateway.cert, "data_dir": False}

    listed = ctl(gateway, "profiles", "list", **remote).stdout
    assert "* default (read-only)" in listed.splitlines(), listed

    ctl(gateway, "profiles", "create", "p1", "--template", "default", **remote)
    new_port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {new_port} 127.0.0.1\nallow_anonymous true\n")
    uploaded = json.loads(ctl(gateway, "profiles", "upload", "p1", str(conf), **remote).stdout)
    assert uploaded["saved"] is True and uploaded["diagnostics"] == [], uploaded
    outcome = json.loads(ctl(gateway, "profiles", "activate", "p1", **remote).stdout)
    assert outcome["applied"] is True, outcome
    listed = ctl(gateway, "profiles", "list", **remote).stdout.splitlines()
    assert "* p1" in listed and "  default (read-only)" in listed, listed

    assert wait_until(lambda: accepts(new_port), timeout=10, message="the new listener")
    assert wait_until(lambda: not accepts(gateway.mqtt_port), timeout=10, message="the old listener to close")
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(new_port), "-t", "x", "-m", "via-p1", "-r",
                    "-q", "1"], check=True, timeout=10, capture_output=True)
    sub = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(new_port), "-t", "x", "-C", "1", "-W", "5"],
                         capture_output=True, text=True, timeout=15)
    assert sub.returncode == 0 and sub.stdout.strip() == "via-p1", sub

    state = json.loads(ctl(gateway, "status", **remote).stdout)
    assert state["broker"]["activeProfile"] == "p1" and state["broker"]["status"] == "configured", state


def test_ctl_sessions_revoke_ends_the_browser_session(gateway, logged_in):
    assert logged_in.call("GET", "/session").status_code == 200
    out = json.loads(ctl(gateway, "sessions", "revoke").stdout)
    assert out == {"revoked": 1}, out
    r = logged_in.call("GET", "/session")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated", r.text
    out = json.loads(ctl(gateway, "sessions", "revoke").stdout)
    assert out == {"revoked": 0}, out


def test_a_deleted_token_is_refused_with_the_api_message(gateway):
    secret = create_token(gateway, "short-lived")
    remote = {"token": secret, "cacert": gateway.cert, "data_dir": False}
    ctl(gateway, "status", **remote)

    tokens = json.loads(ctl(gateway, "tokens", "list").stdout)
    ids = [t["id"] for t in tokens["items"] if t["name"] == "short-lived"]
    assert len(ids) == 1, tokens
    assert all("secret" not in t for t in tokens["items"]), tokens
    ctl(gateway, "tokens", "delete", ids[0])

    result = ctl(gateway, "status", check=False, **remote)
    assert result.returncode != 0, result
    assert "the API token is unknown or was revoked" in result.stdout + result.stderr, result
    assert "401" in result.stdout + result.stderr, result
    # The console token still works.
    ctl(gateway, "status")


def test_ctl_without_a_usable_token_or_certificate_fails(gateway):
    result = ctl(gateway, "status", token="not-a-token", cacert=gateway.cert, data_dir=False, check=False)
    assert result.returncode != 0 and "unknown or was revoked" in result.stdout + result.stderr, result
    # Without --cacert, --insecure or the pinned certificate of --data-dir, the self-signed certificate is refused.
    result = ctl(gateway, "status", token=gateway.console_token, data_dir=False, check=False)
    assert result.returncode != 0, result
    assert '"broker"' not in result.stdout, result


def test_ctl_settings_get_and_set(gateway, tmp_path):
    got = json.loads(ctl(gateway, "settings", "get", "network").stdout)
    assert isinstance(got["version"], int) and got["settings"]["lan"]["address"], got

    got["settings"]["lan"]["address"] = "192.0.2.9"
    changed = tmp_path / "network.json"
    changed.write_text(json.dumps(got))
    report = json.loads(ctl(gateway, "settings", "set", "network", "--file", str(changed)).stdout)
    assert report["saved"] is True and report["applied"] is False and "saved, not applied" in report["detail"]
    again = json.loads(ctl(gateway, "settings", "get", "network").stdout)
    assert again["settings"]["lan"]["address"] == "192.0.2.9" and again["version"] == report["version"]

    # The same file again carries the old version: refused with the API's message.
    result = ctl(gateway, "settings", "set", "network", "--file", str(changed), check=False)
    assert result.returncode != 0 and "409" in result.stdout + result.stderr, result
