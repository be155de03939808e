"""Security events, the audit trail and MQTT notifications (SPEC EVT-1, EVT-2, EVT-4, EVT-6), through the REST API
of a running gateway (fixture `gateway`), with real MQTT clients for the notifications."""

from __future__ import annotations

import csv
import io
import json
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import RAMPART_BIN, wait_until

pytestmark = pytest.mark.rampart_only  # the management plane is a gateway feature; Mosquitto has none

COMPONENTS = {"MQTT broker", "Web server", "Store", "Event bus", "Audit", "Syslog forwarder", "Push forwarder", "Firewall",
              "MQTT notifications"}


def ok(response, status: int = 200):
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if "json" in response.headers.get("content-type", "") else response


def change(gateway, session, name: str):
    """One audited configuration change: the device name."""
    return gateway.api(session, "PUT", "/settings/device", json={"settings": {"name": name}})


def audit(gateway, session, **params):
    params.setdefault("limit", 1000)
    return ok(gateway.api(session, "GET", "/audit", params=params))


def fields(entry_or_event) -> dict:
    event = entry_or_event.get("event", entry_or_event)
    return {f["name"]: f["value"] for f in event["fields"]}


def export(gateway, session) -> list[dict]:
    r = gateway.api(session, "POST", "/audit/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="audit.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert len(rows) == int(r.headers["x-rampart-exported"])
    return rows


def test_a_change_and_a_failed_log_in_are_audited_with_user_and_source(gateway):
    t = gateway.token_session()
    browser = gateway.session()
    assert gateway.log_in(browser, password="not-the-password").status_code == 401
    ok(change(gateway, t, "plant-7"))

    entries = audit(gateway, t)["items"]
    failure = next(e for e in entries if e["event"]["type"] == "LoginError")
    assert failure["event"]["entity"] == "Auth server"
    assert failure["event"]["severity"] == "warning"
    assert fields(failure) == {"user": "admin", "src": "127.0.0.1"}
    saved = next(e for e in entries if e["event"]["type"] == "ConfigurationChange")
    assert saved["event"]["title"] == "Save the device name"
    assert fields(saved)["user"].startswith("token:")
    assert fields(saved)["src"] == "127.0.0.1"
    assert fields(saved)["action"] == "PUT /api/v1/settings/device"

    events = ok(gateway.api(t, "GET", "/events", params={"entity": "Auth server"}))
    assert [e["type"] for e in events["items"]] == ["LoginError"]
    assert events["byEntity"]["Auth server"] == 1
    assert ok(gateway.api(t, "GET", "/audit/verify")).get("firstBroken") is None


def test_start_up_is_audited_once_every_component_runs(gateway):
    t = gateway.token_session()

    def started():
        return [e for e in audit(gateway, t)["items"] if e["event"]["type"] == "Started"]

    wait_until(started, timeout=10)
    assert started()[0]["event"]["title"] == "All components started and running"
    components = {c["name"]: c for c in ok(gateway.api(t, "GET", "/components"))}
    assert set(components) == COMPONENTS
    assert components["Web server"]["state"] == "running"
    assert components["MQTT broker"]["state"] == "running"
    assert components["Syslog forwarder"]["state"] == "disabled"
    # --system-changes off: the ruleset is compiled, not applied.
    assert components["Firewall"]["state"] == "disabled"
    status = ok(gateway.api(t, "GET", "/status"))
    assert {c["name"] for c in status["components"]} == COMPONENTS
    assert status["audit"]["policy"] == "circular"


def test_circular_policy_overwrites_the_oldest_entries(gateway):
    t = gateway.token_session()
    ok(gateway.api(t, "PUT", "/settings/audit", json={"capacity": 5, "policy": "circular"}))
    for index in range(12):
        ok(change(gateway, t, f"name-{index}"))
    page = audit(gateway, t, sort="oldestFirst")
    sequences = [e["event"]["sequence"] for e in page["items"]]
    assert len(sequences) == 5
    assert sequences == list(range(sequences[0], sequences[0] + 5))
    assert page["items"][-1]["event"]["title"] == "Save the device name"
    assert page["summary"]["overwritten"] >= 7
    assert page["summary"]["count"] == 5
    verification = ok(gateway.api(t, "GET", "/audit/verify"))
    assert verification["checked"] == 5 and verification.get("firstBroken") is None


def test_limited_policy_refuses_changes_until_the_log_is_exported(gateway):
    t = gateway.token_session()
    ok(gateway.api(t, "PUT", "/settings/audit", json={"capacity": 5, "policy": "limited"}))
    refused = None
    for index in range(10):
        r = change(gateway, t, f"name-{index}")
        if r.status_code != 200:
            refused = r
            break
    assert refused is not None, "the audit log never filled"
    assert refused.status_code == 507
    assert refused.json()["code"] == "audit_full"
    assert "download" in refused.json()["message"]
    # Nothing was changed by the refused request.
    assert ok(gateway.api(t, "GET", "/settings/device"))["settings"]["name"] != f"name-{index}"
    wait_until(lambda: next(c for c in ok(gateway.api(t, "GET", "/components"))
                            if c["name"] == "Audit")["state"] == "failed", timeout=5)

    held = ok(gateway.api(t, "GET", "/audit/summary"))
    assert held["full"] and held["count"] >= 5  # the start-up records count too: lowering the capacity keeps them
    rows = export(gateway, t)
    assert len(rows) == held["count"]
    assert list(rows[0].keys())[:6] == ["sequence", "time", "severity", "entity", "type", "title"]
    # What is left: the export's own record (written after it, the log being full) and the audit log's recovery.
    left = audit(gateway, t)["items"]
    assert {e["event"]["type"] for e in left} == {"AuditExported", "ComponentState"}, left
    ok(change(gateway, t, "accepted-again"))
    assert next(c for c in ok(gateway.api(t, "GET", "/components")) if c["name"] == "Audit")["state"] == "running"
    assert ok(gateway.api(t, "GET", "/audit/verify")).get("firstBroken") is None


def test_export_deletes_exactly_the_exported_entries_under_concurrent_writes(gateway):
    t = gateway.token_session()
    stop = threading.Event()
    written = []

    def writer(name: str):
        s = gateway.token_session()
        index = 0
        while not stop.is_set():
            if change(gateway, s, f"{name}-{index}").status_code == 200:
                written.append(1)
            index += 1

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    exported = []
    try:
        for _ in range(4):
            wait_until(lambda: len(written) >= 10, timeout=20)
            exported.extend(export(gateway, t))
            written.clear()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    exported.extend(export(gateway, t))
    sequences = [int(row["sequence"]) for row in exported]
    assert len(sequences) == len(set(sequences)), "an entry was exported twice"
    # Every entry ever written is in exactly one export: the sequences leave no gap.
    assert sorted(sequences) == list(range(min(sequences), max(sequences) + 1))
    assert ok(gateway.api(t, "GET", "/audit/verify")).get("firstBroken") is None


def test_verify_finds_an_entry_edited_in_the_database_file(gateway):
    t = gateway.token_session()
    for index in range(5):
        ok(change(gateway, t, f"name-{index}"))
    assert ok(gateway.api(t, "GET", "/audit/verify")).get("firstBroken") is None
    db = sqlite3.connect(gateway.data_dir / "rampart.db", timeout=10)
    try:
        victim = db.execute("SELECT MIN(sequence) + 2 FROM audit").fetchone()[0]
        db.execute("UPDATE audit SET title = 'nothing happened' WHERE sequence = ?", (victim,))
        db.commit()
    finally:
        db.close()
    verification = ok(gateway.api(t, "GET", "/audit/verify"))
    assert verification["firstBroken"] == victim
    assert "altered" in verification["reason"]
    result = subprocess.run([str(RAMPART_BIN), "ctl", "audit", "verify", "--url", gateway.url,
                             "--data-dir", str(gateway.data_dir)], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "HOME": str(gateway.workdir)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"BROKEN at entry {victim}" in result.stdout


def test_events_stream_shows_a_new_log_in_failure(gateway):
    t = gateway.token_session()
    with gateway.api(t, "GET", "/events/stream", stream=True, timeout=20) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines(decode_unicode=True)
        assert next(lines) == ": connected"
        assert gateway.log_in(gateway.session(), password="wrong-again").status_code == 401
        deadline = time.monotonic() + 15
        event = None
        while time.monotonic() < deadline and event is None:
            line = next(lines)
            if line.startswith("data: "):
                event = json.loads(line[len("data: "):])
        assert event is not None
        assert event["entity"] == "Auth server" and event["type"] == "LoginError"
        assert event["fields"] == {"src": "127.0.0.1", "user": "admin"}


def mosquitto_sub(port: int, topic: str) -> subprocess.Popen:
    return subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-C", "1",
                             "-W", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def receive_while(proc: subprocess.Popen, action) -> dict:
    """Repeats `action` until `proc` (mosquitto_sub -C 1) printed its message: its subscription gives no ready
    signal, so the first actions may come before it subscribed."""
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        action()
        try:
            proc.wait(timeout=0.3)
        except subprocess.TimeoutExpired:
            pass
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, f"mosquitto_sub exited {proc.returncode}: {err}"
    return json.loads(out)


def test_mqtt_notifications_publish_audit_records_on_the_default_topic(gateway):
    t = gateway.token_session()
    message = receive_while(mosquitto_sub(gateway.mqtt_port, "SGW/audit"), lambda: ok(change(gateway, t, "n")))
    assert message["stream"] == "audit"
    assert message["title"] == "Save the device name"
    assert message["fields"]["src"] == "127.0.0.1"


def test_mqtt_notifications_follow_the_profiles_kos_settings(gateway):
    t = gateway.token_session()
    ok(gateway.api(t, "POST", "/broker/profiles", json={"name": "notify", "template": "default"}), 201)
    conf = ok(gateway.api(t, "GET", "/broker/profiles/notify/files/mosquitto.conf"))["content"].encode()
    conf += b"\nkos_event true\nkos_event_topic site/events\nkos_audit_topic site/audit\n"
    ok(gateway.api(t, "PUT", "/broker/profiles/notify/files/mosquitto.conf", data=conf))
    ok(gateway.api(t, "POST", "/broker/profiles/notify/activate"))

    event = receive_while(mosquitto_sub(gateway.mqtt_port, "site/events"),
                          lambda: gateway.log_in(gateway.session(), password="wrong"))
    assert event["stream"] == "network"
    assert event["entity"] == "Auth server" and event["type"] == "LoginError"
    record = receive_while(mosquitto_sub(gateway.mqtt_port, "site/audit"), lambda: ok(change(gateway, t, "x")))
    assert record["stream"] == "audit"


def test_sigterm_audits_the_shutdown_and_exits(gateway):
    t = gateway.token_session()
    wait_until(lambda: any(e["event"]["type"] == "Started" for e in audit(gateway, t)["items"]), timeout=10)
    gateway.proc.send_signal(signal.SIGTERM)
    # Nothing may keep the process alive once its services stopped.
    assert gateway.proc.wait(timeout=10) == 0, gateway.log_tail()
    db = sqlite3.connect(gateway.data_dir / "rampart.db", timeout=10)
    try:
        last = db.execute("SELECT type, title FROM audit ORDER BY sequence DESC LIMIT 1").fetchone()
    finally:
        db.close()
    assert last == ("Shutdown", "Gateway shutting down")
