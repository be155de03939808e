"""Forwarding of security events and audit records (SPEC EVT-3, EVT-5) to real receivers started by the tests: a
private rsyslogd (UDP, TCP with octet counting, TLS) and a local HTTPS receiver speaking Firebase Cloud Messaging's
HTTP v1 and legacy protocols, which checks the RS256 signature of the service-account assertion with the public key
it generated."""

from __future__ import annotations

import re
import time

import pytest

from conftest import PahoClient, wait_until
from push_receiver import PushReceiver
from rsyslog_receiver import rsyslog  # noqa: F401  (fixture)

pytestmark = pytest.mark.rampart_only  # forwarding is a gateway feature; Mosquitto has none

RFC5424 = re.compile(
    r'^<(?P<pri>\d{1,3})>1 (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<host>\S+) rampart (?P<pid>\d+) '
    r'(?P<msgid>\S+) (?P<sd>\[origin [^\]]*\]\[meta sequenceId="\d+"\]\[rampart@32473 (?:[^\]\\]|\\.)*\]) '
    r'(?P<msg>.*)$', re.S)


def ok(response, status: int = 200):
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def syslog_settings(receiver, mode: str, fmt: str = "rfc5424", *, network: bool = True, audit: bool = True,
                    buffer: int = 10_000) -> dict:
    return {"enabled": True, "address": f"127.0.0.1:{receiver.port(mode)}", "mode": mode, "format": fmt,
            "networkEvents": network, "audit": audit, "bufferSize": buffer,
            "caCertificate": receiver.ca_pem if mode == "tls" else "", "clientCertificate": "", "serverName": ""}


def configure_syslog(gateway, session, settings: dict) -> None:
    report = ok(gateway.api(session, "PUT", "/settings/syslog", json={"settings": settings}))
    assert report["applied"], report


def sd_params(line: str) -> dict:
    """The parameters of the private SD element, unescaped."""
    element = re.search(r'\[rampart@32473 ((?:[^\]\\]|\\.)*)\]', line).group(1)
    return {name: re.sub(r'\\(["\\\]])', r"\1", value)
            for name, value in re.findall(r'(\S+?)="((?:[^"\\]|\\.)*)"', element)}


@pytest.mark.parametrize("fmt", ["rfc5424", "cef"])
@pytest.mark.parametrize("mode", ["udp", "tcp", "tls"])
def test_syslog_receives_a_failed_log_in_and_a_change(gateway, rsyslog, mode, fmt):  # noqa: F811
    t = gateway.token_session()
    configure_syslog(gateway, t, syslog_settings(rsyslog, mode, fmt))
    assert gateway.log_in(gateway.session(), password="wrong-password").status_code == 401
    ok(gateway.api(t, "PUT", "/settings/device", json={"settings": {"name": "plant-7"}}))

    lines = rsyslog.wait_for(mode, lambda got: any("Save the device name" in line for line in got)
                             and any("LoginError" in line for line in got), timeout=20)
    login = next(line for line in lines if " LoginError " in line and "network" in line)
    change = next(line for line in lines if "Save the device name" in line)
    for line in (login, change):
        match = RFC5424.match(line)
        assert match, f"not RFC 5424 with the gateway's structured data: {line!r}"
    assert RFC5424.match(login)["pri"] == "36"  # security/authorization (4) * 8 + warning (4)
    assert RFC5424.match(change)["pri"] == "110"  # log audit (13) * 8 + informational (6)
    params = sd_params(login)
    assert params["entity"] == "Auth server" and params["src"] == "127.0.0.1" and params["user"] == "admin"
    assert sd_params(change)["stream"] == "audit"
    if fmt == "rfc5424":
        assert RFC5424.match(login)["msg"] == "Bad log-in or password"
        assert RFC5424.match(change)["msg"] == "Save the device name"
    else:
        cef = RFC5424.match(login)["msg"]
        assert cef.startswith("CEF:0|Rampart|Rampart Gateway|"), cef
        header = re.split(r"(?<!\\)\|", cef)
        assert header[4:7] == ["LoginError", "Bad log-in or password", "6"], header
        assert " src=127.0.0.1" in cef and " suser=admin" in cef and " cat=Auth server" in cef
        change_cef = RFC5424.match(change)["msg"]
        assert "|ConfigurationChange|Save the device name|3|" in change_cef


def inspection_profile(gateway, session) -> None:
    """A broker profile whose inspection refuses payloads over 8 bytes on `sensors/#`."""
    ok(gateway.api(session, "POST", "/broker/profiles", json={"name": "inspect", "template": "default"}), 201)
    ok(gateway.api(session, "PUT", "/broker/profiles/inspect/files/inspection.conf",
                   data=b"rule small\ntopic sensors/#\nmax_payload 8\n"))
    ok(gateway.api(session, "POST", "/broker/profiles/inspect/activate"))


@pytest.mark.parametrize("mode", ["tcp", "tls"])
def test_a_receiver_down_for_10_s_loses_none_of_1000_events(gateway, rsyslog, mode):  # noqa: F811
    t = gateway.token_session()
    inspection_profile(gateway, t)
    configure_syslog(gateway, t, syslog_settings(rsyslog, mode, network=True, audit=False))
    # Connected: a first refused message arrives.
    publisher = PahoClient(gateway.mqtt_port, client_id="flood")
    publisher.connect()
    publisher.publish("sensors/first", b"x" * 32)
    rsyslog.wait_for(mode, lambda got: any("InspectionDrop" in line for line in got), timeout=20)
    before = {sd_params(line)["seq"] for line in rsyslog.lines(mode) if "InspectionDrop" in line}

    rsyslog.stop()
    stopped = time.monotonic()
    for index in range(1000):
        publisher.publish(f"sensors/{index}", b"y" * 32)
    wait_until(lambda: ok(gateway.api(t, "GET", "/events", params={"type": "InspectionDrop", "limit": 1}))["total"]
               >= 1001, timeout=30)
    state = ok(gateway.api(t, "GET", "/settings/syslog"))["status"]
    assert not state["connected"] and state["buffered"] >= 1000, state
    # The outage lasts 10 s, as the receiver's restart in the field would.
    time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))
    rsyslog.restart()
    received = rsyslog.wait_for(
        mode, lambda got: len({sd_params(line)["seq"] for line in got if "InspectionDrop" in line} - before) >= 1000,
        timeout=60)
    sequences = [int(sd_params(line)["seq"]) for line in received if "InspectionDrop" in line]
    new = set(sequences) - {int(s) for s in before}
    assert len(new) == 1000
    # Every event of the outage, none missing: the sequence numbers are contiguous.
    assert sorted(new) == list(range(min(new), min(new) + 1000))
    assert ok(gateway.api(t, "GET", "/settings/syslog"))["status"]["dropped"] == 0
    publisher.cleanup()


def test_syslog_test_button_reports_a_certificate_it_cannot_trust(gateway, rsyslog):  # noqa: F811
    t = gateway.token_session()
    settings = syslog_settings(rsyslog, "tls")
    good = ok(gateway.api(t, "POST", "/settings/syslog/test", json={"settings": settings}))
    assert good["delivered"], good
    rsyslog.wait_for("tls", lambda got: any("Test message" in line for line in got), timeout=10)
    with PushReceiver() as other:  # another CA: the receiver's certificate does not chain to it
        settings["caCertificate"] = other.ca_pem
    bad = ok(gateway.api(t, "POST", "/settings/syslog/test", json={"settings": settings}))
    assert not bad["delivered"]
    assert "certificate" in bad["detail"].lower(), bad


def push_settings(receiver: PushReceiver, delivery: str = "fcm-v1") -> dict:
    return {"enabled": True, "deviceName": "Plant-7", "delivery": delivery, "endpoint": receiver.base_url,
            "projectID": "", "tokenEndpoint": "", "trustedCertificate": receiver.ca_pem, "networkEvents": True,
            "audit": True}


def test_push_v1_announces_every_4_s_and_sends_each_event_with_a_signed_assertion(gateway):
    t = gateway.token_session()
    with PushReceiver() as receiver:
        report = ok(gateway.api(t, "PUT", "/settings/push", json={
            "settings": push_settings(receiver), "secret": receiver.service_account_json("rampart-e2e")}))
        assert report["applied"], report
        receiver.wait_for(lambda r: len(r.messages("DevicesAndTopics")) >= 3, timeout=20)
        announces = receiver.messages("DevicesAndTopics")
        gaps = [b.arrived - a.arrived for a, b in zip(announces, announces[1:])]
        assert all(2.5 < gap < 8 for gap in gaps), gaps  # every 4 s
        assert announces[0].data["Device"] == "Plant-7"
        assert announces[0].data["AuthServer"] == "LoginSuccess, LoginError, AccountLocked"
        assert announces[0].data["Audit"] == "NewRecord"
        assert announces[0].project == "rampart-e2e"

        assert gateway.log_in(gateway.session(), password="wrong-password").status_code == 401
        ok(gateway.api(t, "PUT", "/settings/device", json={"settings": {"name": "plant-7"}}))
        receiver.wait_for(lambda r: r.messages("Plant-7_AuthServer_LoginError")
                          and any(m.data.get("data") == "Save the device name"
                                  for m in r.messages("Plant-7_Audit_NewRecord")), timeout=20)
        login = receiver.messages("Plant-7_AuthServer_LoginError")[0]
        assert login.data["data"] == "Bad log-in or password"
        assert login.data["src"] == "127.0.0.1"
        # Every access token came from an assertion whose RS256 signature the receiver verified.
        assert receiver.token_requests >= 1
        assert receiver.refusals == [], receiver.refusals
        stored = ok(gateway.api(t, "GET", "/settings/push"))
        assert stored["secretStored"] is True
        assert "PRIVATE KEY" not in str(stored)


def test_push_legacy_format_and_an_outage_audited_once(gateway):
    t = gateway.token_session()
    with PushReceiver() as receiver:
        ok(gateway.api(t, "PUT", "/settings/push", json={
            "settings": push_settings(receiver, "legacy"), "secret": receiver.server_key}))
        receiver.wait_for(lambda r: r.messages("DevicesAndTopics"), timeout=15)
        assert receiver.messages("DevicesAndTopics")[0].path == "/fcm/send"

        receiver.set_unavailable()
        for index in range(3):
            assert gateway.log_in(gateway.session(), password=f"wrong-{index}").status_code == 401

        def audited(kind):
            items = ok(gateway.api(t, "GET", "/audit", params={"entity": "Push forwarder", "limit": 100}))["items"]
            return [e for e in items if e["event"]["type"] == kind]

        wait_until(lambda: audited("DeliveryFailing"), timeout=20)
        receiver.set_available()
        receiver.wait_for(lambda r: len(r.messages("Plant-7_AuthServer_LoginError")) >= 3, timeout=90)
        wait_until(lambda: audited("DeliveryRestored"), timeout=20)
        assert len(audited("DeliveryFailing")) == 1 and len(audited("DeliveryRestored")) == 1

        wrong = ok(gateway.api(t, "POST", "/settings/push/test",
                               json={"settings": push_settings(receiver, "legacy"), "secret": "not-the-key"}))
        assert not wrong["delivered"] and "401" in wrong["detail"], wrong
