"""The HTTPS management plane (SPEC WEB-1…WEB-5, PKI-3): the REST API /api/v1 as a browser and a script use it.

Every test starts its own `rampart run` (fixture `gateway`: loopback only, --web-port 0, --system-changes off, a
small --login-delay) and talks to it with `requests`, verifying the certificate the gateway publishes in
<data dir>/web-certificate.pem."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import math
import re
import socket
import ssl
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import STRONG_PASSWORD, wait_until

pytestmark = pytest.mark.rampart_only  # the management plane is a gateway feature; Mosquitto has none

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


# ------------------------------------------------------------------ helpers

class Bundle:
    """A self-signed certificate and its private key, generated for a test."""

    def __init__(self, key, cn: str = "rampart-e2e", not_after_days: int = 30, cert_key=None):
        now = dt.datetime.now(dt.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        public = (cert_key or key).public_key()
        signer = cert_key or key
        cert = (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(public)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=not_after_days))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(signer, hashes.SHA256()))
        self.key = key
        self.cert = cert
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        self.key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        self.fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()

    @property
    def pem(self) -> bytes:
        return self.cert_pem + self.key_pem

    @property
    def key_body_lines(self) -> list[bytes]:
        """The base64 lines between the PEM armour of the key."""
        return [line for line in self.key_pem.splitlines() if line and not line.startswith(b"-----")]

    def secret_needles(self) -> dict[str, bytes]:
        """Byte strings any of which in a response or the database would reveal this key."""
        body = b"".join(self.key_body_lines)
        needles = {"PEM body": body, "PEM body, as JSON-escaped text": b"\\n".join(self.key_body_lines),
                   "PKCS#8 DER": self.key_der,
                   "PEM as base64 (JSON Data)": base64.b64encode(self.key_pem)[:60]}
        for i, line in enumerate(self.key_body_lines):
            needles[f"PEM body line {i + 1}"] = line
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            scalar = self.key.private_numbers().private_value.to_bytes(32, "big")
            needles["EC private scalar"] = scalar
            needles["EC private scalar (hex)"] = scalar.hex().encode()
        return needles


def ec_bundle(cn: str = "rampart-e2e") -> Bundle:
    return Bundle(ec.generate_private_key(ec.SECP256R1()), cn)


def presented_fingerprint(port: int) -> str:
    """SHA-256 of the certificate the gateway presents to a NEW TLS connection."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def pem_fingerprint(pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def error(r, status: int, code: str) -> dict:
    """Asserts an API error of the documented shape {code, message, field} and returns it."""
    assert r.status_code == status, f"expected {status} {code}, got {r.status_code}: {r.text}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body.get("code") == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    return r.json()


# ------------------------------------------------------------------ 1. CSRF

def test_state_change_of_a_session_needs_its_csrf_token(gateway, logged_in):
    s = logged_in

    def probes():
        return ok(s.call("GET", "/tokens?q=csrf-probe"))["total"]

    error(s.call("POST", "/tokens", csrf=False, json={"name": "csrf-probe"}), 403, "csrf")
    error(s.call("POST", "/tokens", headers={"X-CSRF-Token": "A" * 43}, json={"name": "csrf-probe"}), 403, "csrf")
    error(s.call("POST", "/tokens", headers={"X-CSRF-Token": ""}, json={"name": "csrf-probe"}), 403, "csrf")
    assert probes() == 0, "a request refused for CSRF changed something"

    # Logging out is a state change too: without the token the session survives.
    error(s.call("DELETE", "/session", csrf=False), 403, "csrf")
    assert ok(s.call("GET", "/session"))["user"] == "admin"

    created = ok(s.call("POST", "/tokens", json={"name": "csrf-probe"}), 201)
    assert created["secret"] and created["token"]["name"] == "csrf-probe"
    assert probes() == 1

    # A script with an API token has no cookie a foreign page could ride on: no CSRF token needed.
    t = gateway.token_session()
    ok(gateway.api(t, "POST", "/tokens", json={"name": "csrf-probe-2"}), 201)


# ------------------------------------------------------------------ 2. cookie flags

def test_session_cookie_flags(gateway):
    s = gateway.session()
    r = gateway.log_in(s)
    body = ok(r)
    assert body["csrfToken"] and body["user"] == "admin"
    set_cookie = r.headers.get("Set-Cookie")
    assert set_cookie, r.headers
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    assert name == "rampart_session" and re.fullmatch(r"[A-Za-z0-9_-]{43}", value), set_cookie
    attributes = {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else None) for p in parts[1:]}
    assert "secure" in attributes, set_cookie
    assert "httponly" in attributes, set_cookie
    assert (attributes.get("samesite") or "").lower() == "strict", set_cookie
    assert attributes.get("path") == "/", set_cookie
    assert value != body["csrfToken"]

    # Logging out clears the cookie.
    r = gateway.api(s, "DELETE", "/session", headers={"X-CSRF-Token": body["csrfToken"]})
    ok(r)
    cleared = r.headers.get("Set-Cookie", "")
    assert cleared.startswith("rampart_session=;") or "max-age=0" in cleared.lower(), cleared


# ------------------------------------------------------------------ 3. security headers

def check_security_headers(r, what: str) -> None:
    h = r.headers
    csp = h.get("Content-Security-Policy")
    assert csp, f"{what}: no Content-Security-Policy"
    directives = {}
    for d in csp.split(";"):
        words = d.split()
        if words:
            directives[words[0].lower()] = words[1:]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, f"{what}: {csp}"
    assert directives.get("script-src") == ["'self'"], f"{what}: {csp}"
    assert directives.get("frame-ancestors") == ["'none'"], f"{what}: {csp}"
    assert h.get("X-Frame-Options") == "DENY", f"{what}: {dict(h)}"
    hsts = h.get("Strict-Transport-Security", "")
    m = re.search(r"max-age=(\d+)", hsts)
    assert m and int(m.group(1)) > 0, f"{what}: Strict-Transport-Security {hsts!r}"
    assert h.get("X-Content-Type-Options") == "nosniff", f"{what}: {dict(h)}"


def test_security_headers_on_html_json_and_errors(gateway):
    s = gateway.session()
    page = s.get(gateway.url + "/login", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), page.headers
    check_security_headers(page, "GET /login")
    # The CSP forbids inline script, so the page must not depend on any.
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page.text, re.I), "inline <script> in /login"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page.text, re.I), "inline event handler in /login"

    checks = [
        ("GET /api/v1/openapi.json", gateway.api(s, "GET", "/openapi.json"), 200),
        ("GET /api/v1/status without log-in", gateway.api(s, "GET", "/status"), 401),
        ("GET /api/v1/no-such-route", gateway.api(s, "GET", "/no-such-route"), 404),
        ("POST /api/v1/session with a bad body", gateway.api(s, "POST", "/session", data=b"{"), 400),
    ]
    for what, r, status in checks:
        assert r.status_code == status, f"{what}: {r.status_code} {r.text}"
        assert r.headers["Content-Type"].startswith("application/json"), f"{what}: {r.headers}"
        check_security_headers(r, what)


# ------------------------------------------------------------------ 4. brute force

@pytest.mark.gateway_opts(login_delay=0.25)
def test_failed_log_ins_are_delayed_then_lock_the_account(gateway):
    """Per source+user, each failure doubles the wait (0.25 s, 0.5 s, 1 s …) counted from the failure; an attempt
    inside the wait is refused unchecked (429 + Retry-After) even with the right password; 10 failures of the user
    from any source lock the account (423) for 15 minutes, even for the right password."""
    base = 0.25
    right = gateway.initial_password
    a = gateway.session(source="127.0.0.1")

    def attempt(s, password):
        sent = time.monotonic()
        r = gateway.api(s, "POST", "/session", json={"user": "admin", "password": password})
        return r, sent, time.monotonic()

    r, _, failed = attempt(a, "wrong-password-1")
    error(r, 401, "bad_credentials")
    waits = []
    for n in (1, 2, 3):
        delay = base * 2 ** (n - 1)
        # Right after the failure (checking a password takes PBKDF2 time, so this also shows the wait runs from
        # the failure, not from the request) the RIGHT password is refused: the attempt is not even checked.
        r, sent, _ = attempt(a, right)
        assert sent - failed < delay, "the test was too slow to probe inside the delay"
        error(r, 429, "login_delayed")
        retry_after = int(r.headers["Retry-After"])
        assert 1 <= retry_after <= math.ceil(delay), (n, retry_after)
        assert "try again" in r.json()["message"], r.json()
        # Poll with a wrong password: every refused poll is 429 (unchecked, not counted); the first admitted one
        # is the next failure (401).
        deadline = time.monotonic() + delay + 5
        while True:
            r, polled, received = attempt(a, f"wrong-password-{n + 1}")
            if r.status_code != 429:
                break
            assert time.monotonic() < deadline, f"still delayed {delay + 5:.1f} s after failure {n}"
            time.sleep(0.02)
        error(r, 401, "bad_credentials")
        # Admitted no earlier than `delay` after the 401 (less the time that answer took to arrive).
        waited = polled - failed
        assert waited >= delay - 0.1, f"failure {n}: admitted {waited:.3f} s after the 401, the delay is {delay} s"
        waits.append(waited)
        failed = received
    assert waits[0] < waits[1] < waits[2], f"the delays did not grow: {waits}"
    # Retry-After grows with the delay: after the 4th failure (2 s) it says 2 s.
    r, _, _ = attempt(a, right)
    error(r, 429, "login_delayed")
    assert int(r.headers["Retry-After"]) == 2, r.headers

    # 4 failures so far. The delay is per source: other addresses are not slowed down by them, but every failure
    # counts for the user; the 10th locks the account.
    for i in range(2, 8):
        other = gateway.session(source=f"127.0.0.{i}")
        r, _, _ = attempt(other, f"wrong-from-{i}")
        error(r, 401, "bad_credentials")
    fresh = gateway.session(source="127.0.0.8")
    r, _, _ = attempt(fresh, right)
    body = error(r, 423, "account_locked")
    m = re.search(r"until (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})Z? UTC", body["message"])
    assert m, body
    until = dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=dt.timezone.utc)
    left = (until - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 14 * 60 - 60 <= left <= 15 * 60 + 5, f"locked until {until}, {left:.0f} s from now"
    # From the first source as well, and still with the right password.
    r, _, _ = attempt(a, right)
    error(r, 423, "account_locked")


# ------------------------------------------------------------------ 5. private keys never leave

def test_private_keys_never_appear_in_responses_or_in_the_database(gateway, tmp_path):
    bundle = ec_bundle("keytest")
    needles = bundle.secret_needles()
    t = gateway.token_session()
    responses: list[tuple[str, requests.Response]] = []

    def call(method, path, **kw):
        r = gateway.api(t, method, path, **kw)
        responses.append((f"{method} {path}", r))
        return r

    ok(call("POST", "/web/profiles", json={"name": "site", "template": "default"}), 201)
    saved = ok(call("PUT", "/web/profiles/site/files/site.pem", data=bundle.pem))
    assert saved["saved"] is True
    ok(call("PUT", "/web/profiles/site/files/webserver.conf", data=b"ssl_certificate site.pem\n"))
    ok(call("POST", "/web/profiles/site/activate"))
    detail = ok(call("GET", "/web/profiles/site"))
    pem_file = next(f for f in detail["files"] if f["name"] == "site.pem")
    assert pem_file["hasPrivateKey"] is True and pem_file["certificate"], pem_file
    call("GET", "/web/profiles")
    call("GET", "/web/profiles/default")

    # A broker profile file holding a key is stored (Mosquitto-style key files) but never read back.
    ok(call("POST", "/broker/profiles", json={"name": "keys", "template": "default"}), 201)
    ok(call("PUT", "/broker/profiles/keys/files/server.key", data=bundle.key_pem))
    ok(call("PUT", "/broker/profiles/keys/files/server.pem", data=bundle.pem))
    for file in ("server.key", "server.pem"):
        error(call("GET", f"/broker/profiles/keys/files/{file}"), 403, "private_key")
    ok(call("GET", "/broker/profiles/keys/files/mosquitto.conf"))
    for path in ("/broker/state", "/broker/profiles", "/broker/profiles/keys", "/broker/profiles/default",
                 "/status"):
        ok(call("GET", path))

    for what, r in responses:
        raw = r.content
        assert b"PRIVATE KEY" not in raw, f"{what} answered a private key: {r.text[:300]}"
        for label, needle in needles.items():
            assert needle not in raw, f"{what} answered the key ({label})"

    # The published certificate is the chain only.
    published = open(gateway.cert, "rb").read()
    assert b"PRIVATE KEY" not in published
    assert pem_fingerprint(published) == bundle.fingerprint

    def check_store(when: str) -> None:
        found = 0
        for suffix in ("", "-wal", "-shm"):
            path = gateway.data_dir / f"rampart.db{suffix}"
            if not path.exists():
                continue
            data = path.read_bytes()
            found += len(data)
            assert b"PRIVATE KEY" not in data, f"{path.name} ({when}) holds a PEM private key in clear"
            for prefix in (b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN EC PRIVATE KEY-----",
                           b"-----BEGIN RSA PRIVATE KEY-----"):
                assert base64.b64encode(prefix[:27]) not in data, f"{path.name} ({when}): base64 of a PEM key"
            for label, needle in needles.items():
                assert needle not in data, f"{path.name} ({when}) holds the uploaded key ({label})"
        assert found > 0, "no database file found"

    check_store("while running")
    gateway.stop()   # a clean stop checkpoints the WAL into rampart.db
    check_store("after stop")


# ------------------------------------------------------------------ 6. switching the web-server profile

def test_switching_the_web_profile_presents_the_new_certificate_without_restart(gateway, tmp_path):
    default_fp = pem_fingerprint(open(gateway.cert, "rb").read())
    assert presented_fingerprint(gateway.web_port) == default_fp
    # The published certificate verifies for https://127.0.0.1 (it names 127.0.0.1).
    t = gateway.token_session()
    ok(gateway.api(t, "GET", "/status"))
    pid = gateway.proc.pid

    bundle = ec_bundle("switched")
    ok(gateway.api(t, "POST", "/web/profiles", json={"name": "site"}), 201)
    ok(gateway.api(t, "PUT", "/web/profiles/site/files/site.pem", data=bundle.pem))
    saved = ok(gateway.api(t, "PUT", "/web/profiles/site/files/webserver.conf", data=b"ssl_certificate site.pem\n"))
    assert saved["diagnostics"] == [], saved
    assert presented_fingerprint(gateway.web_port) == default_fp, "the certificate changed before activation"
    outcome = ok(gateway.api(t, "POST", "/web/profiles/site/activate"))
    assert outcome["applied"] is True, outcome

    assert wait_until(lambda: presented_fingerprint(gateway.web_port) == bundle.fingerprint, timeout=5,
                      message="the new certificate on a new connection")
    assert gateway.proc.poll() is None and gateway.proc.pid == pid
    # The existing keep-alive connection of `t` still works (it may keep the old certificate).
    ok(gateway.api(t, "GET", "/web/profiles/site"))
    # A new client verifies the new certificate, and the published file follows the switch.
    cafile = tmp_path / "new-ca.pem"
    cafile.write_bytes(bundle.cert_pem)
    r = requests.get(gateway.url + "/api/v1/status", verify=str(cafile), timeout=10,
                     headers={"Authorization": f"Bearer {gateway.console_token}"})
    ok(r)
    assert pem_fingerprint(open(gateway.cert, "rb").read()) == bundle.fingerprint
    listed = ok(gateway.api(gateway.token_session(), "GET", "/web/profiles"))
    assert [p["name"] for p in listed["items"] if p["active"]] == ["site"]

    # And back.
    ok(gateway.api(gateway.token_session(), "POST", "/web/profiles/default/activate"))
    assert wait_until(lambda: presented_fingerprint(gateway.web_port) == default_fp, timeout=5,
                      message="the default certificate again")


def test_bad_certificates_and_unsupported_settings_are_refused(gateway):
    t = gateway.token_session()
    default_fp = presented_fingerprint(gateway.web_port)
    ok(gateway.api(t, "POST", "/web/profiles", json={"name": "bad"}), 201)
    good = ec_bundle("good")
    other = ec_bundle("other")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak = Bundle(rsa_key, "weak")

    cases = {
        "key of another certificate": (good.cert_pem + other.key_pem, "does not belong"),
        "RSA 1024": (weak.pem, "1024"),
        "garbage": (b"this is not PEM\x00\xff\xfe at all\n", "CERTIFICATE"),
        "certificate without key": (good.cert_pem, "private key"),
    }
    for what, (content, reason) in cases.items():
        body = error(gateway.api(t, "PUT", "/web/profiles/bad/files/site.pem", data=content), 422, "bad_certificate")
        assert reason in body["message"], f"{what}: {body}"
        assert body["message"].startswith("site.pem"), f"{what}: {body}"
    files = [f["name"] for f in ok(gateway.api(t, "GET", "/web/profiles/bad"))["files"]]
    assert files == ["webserver.conf"], f"a refused upload was kept: {files}"

    ok(gateway.api(t, "PUT", "/web/profiles/bad/files/site.pem", data=good.pem))
    saved = ok(gateway.api(t, "PUT", "/web/profiles/bad/files/webserver.conf",
                           data=b"# comment\nssl_certificate site.pem\nssl_protocols TLSv1.3\n"))
    assert saved["saved"] is True
    diagnostics = saved["diagnostics"]
    assert any(d["file"] == "webserver.conf" and d["line"] == 3 and "ssl_protocols" in d["message"]
               for d in diagnostics), diagnostics
    detail = ok(gateway.api(t, "GET", "/web/profiles/bad"))
    assert detail["diagnostics"] == diagnostics

    body = error(gateway.api(t, "POST", "/web/profiles/bad/activate"), 422, "invalid_profile")
    assert "webserver.conf:3" in body["message"], body
    assert any(d.get("field") == "webserver.conf:3" for d in body.get("details", [])), body
    assert presented_fingerprint(gateway.web_port) == default_fp
    active = [p["name"] for p in ok(gateway.api(t, "GET", "/web/profiles"))["items"] if p["active"]]
    assert active == ["default"]


# ------------------------------------------------------------------ 7. one session at a time

def test_only_one_web_session_at_a_time(gateway, logged_in):
    second = gateway.session()
    body = error(gateway.log_in(second, STRONG_PASSWORD), 409, "session_active")
    assert ISO_TIME.search(body["message"]), body
    assert "rampart_session" not in second.cookies

    cookie = logged_in.session.cookies["rampart_session"]
    ok(logged_in.call("DELETE", "/session"))
    # The old cookie is dead on the server, not only dropped by the browser.
    replay = gateway.session()
    r = replay.get(gateway.url + "/api/v1/session", headers={"Cookie": f"rampart_session={cookie}"}, timeout=10)
    error(r, 401, "unauthenticated")

    body = ok(gateway.log_in(second, STRONG_PASSWORD))
    assert body["mustChangePassword"] is False
    assert ok(gateway.api(second, "GET", "/session"))["user"] == "admin"


@pytest.mark.gateway_opts(session_idle_timeout=2)
def test_an_idle_session_expires(gateway, logged_in):
    # Used every second, the session outlives the 2 s idle timeout.
    for _ in range(3):
        time.sleep(1.0)
        ok(logged_in.call("GET", "/session"))
    last_use = time.monotonic()
    other = gateway.session()
    body = error(gateway.log_in(other, STRONG_PASSWORD), 409, "session_active")
    assert ISO_TIME.search(body["message"]), body
    # Inactivity is the condition itself: stay idle for more than the timeout.
    time.sleep(max(0.0, last_use + 2.5 - time.monotonic()))
    error(logged_in.call("GET", "/session"), 401, "unauthenticated")
    ok(gateway.log_in(other, STRONG_PASSWORD))


# ------------------------------------------------------------------ 8. forced password change

def test_initial_password_must_be_changed_first(gateway):
    s = gateway.session()
    body = ok(gateway.log_in(s))
    assert body["mustChangePassword"] is True
    csrf = {"X-CSRF-Token": body["csrfToken"]}
    for method, path in (("GET", "/status"), ("GET", "/settings/network"), ("GET", "/tokens")):
        error(gateway.api(s, method, path), 403, "password_change_required")
    assert ok(gateway.api(s, "GET", "/session"))["mustChangePassword"] is True

    policy_cases = {
        "Short1!": "At least 10 characters",
        "onlylowercaseletters": "At least 3 of the four kinds of characters",
    }
    for password, rule in policy_cases.items():
        body = error(gateway.api(s, "POST", "/account/password", headers=csrf,
                                 json={"current": gateway.initial_password, "new": password}),
                     422, "password_rejected")
        assert rule in body["message"], body
        assert body.get("field") == "new", body
    error(gateway.api(s, "GET", "/status"), 403, "password_change_required")

    ok(gateway.api(s, "POST", "/account/password", headers=csrf,
                   json={"current": gateway.initial_password, "new": STRONG_PASSWORD}))
    status = ok(gateway.api(s, "GET", "/status"))
    assert {c["name"] for c in status["components"]} >= {"MQTT broker", "Web server", "Store", "Audit"}
    assert ok(gateway.api(s, "GET", "/account"))["mustChangePassword"] is False

    # The initial password is gone; the new one logs in without the forced change.
    ok(gateway.api(s, "DELETE", "/session", headers=csrf))
    error(gateway.log_in(s, gateway.initial_password), 401, "bad_credentials")
    body = ok(gateway.log_in(s, STRONG_PASSWORD))
    assert body["mustChangePassword"] is False


# ------------------------------------------------------------------ 9. settings

def test_settings_are_validated_versioned_and_saved_without_applying(logged_in):
    s = logged_in
    current = ok(s.call("GET", "/settings/network"))
    version, settings = current["version"], current["settings"]

    bad = json.loads(json.dumps(settings))
    bad["lan"]["address"] = "300.1.2.3"
    body = error(s.call("PUT", "/settings/network", json={"version": version, "settings": bad}), 422, "invalid")
    assert body["field"] == "lan.address", body
    assert "300.1.2.3" in body["message"], body
    assert ok(s.call("GET", "/settings/network"))["version"] == version, "an invalid document changed the version"

    good = json.loads(json.dumps(settings))
    good["lan"]["address"] = "192.0.2.2"
    report = ok(s.call("PUT", "/settings/network", json={"version": version, "settings": good}))
    assert report["saved"] is True and report["applied"] is False, report
    assert "saved, not applied" in report["detail"] and "system changes" in report["detail"], report
    assert report["version"] > version
    stored = ok(s.call("GET", "/settings/network"))
    assert stored["version"] == report["version"] and stored["settings"]["lan"]["address"] == "192.0.2.2"

    # A second writer with the version it read before the change is refused, not silently overwritten.
    stale = json.loads(json.dumps(settings))
    stale["lan"]["address"] = "192.0.2.3"
    error(s.call("PUT", "/settings/network", json={"version": version, "settings": stale}), 409, "conflict")
    assert ok(s.call("GET", "/settings/network"))["settings"]["lan"]["address"] == "192.0.2.2"

    report = ok(s.call("PUT", "/system/time", json={"utc": "2031-02-03T04:05:06Z"}))
    assert report["saved"] is True and report["applied"] is False, report
    assert "saved, not applied" in report["detail"], report
    clock = ok(s.call("GET", "/system/time"))
    assert clock["lastRequest"].startswith("2031-02-03T04:05:06"), clock


# ------------------------------------------------------------------ 10. OpenAPI

def test_every_documented_route_exists(gateway):
    anonymous = gateway.session()
    r = gateway.api(anonymous, "GET", "/openapi.json")
    doc = ok(r)
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"][0]["url"] == "/api/v1", doc.get("servers")
    t = gateway.token_session()

    ok(gateway.api(t, "POST", "/broker/profiles", json={"name": "oa-b", "template": "default"}), 201)
    ok(gateway.api(t, "POST", "/web/profiles", json={"name": "oa-w", "template": "default"}), 201)
    token_id = ok(gateway.api(t, "POST", "/tokens", json={"name": "oa"}), 201)["token"]["id"]

    def concrete(path: str) -> str:
        broker = path.startswith("/broker/")
        return (path.replace("{name}", "oa-b" if broker else "oa-w")
                .replace("{file}", "mosquitto.conf" if broker else "webserver.conf")
                .replace("{id}", token_id).replace("{list}", "denylist"))

    routes = [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops
              if m in ("get", "put", "post", "delete", "patch")]
    # What a success answers with: JSON, except where the document says otherwise (the SSE stream, audit.csv).
    content_type = {(m.upper(), p): next(iter(op.get("responses", {}).get("200", {}).get("content", {})),
                                        "application/json")
                    for p, ops in doc["paths"].items() for m, op in ops.items()}
    assert len(routes) >= 40, routes
    order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}
    # Deletions last, files before their profiles, so every route meets what it names.
    routes.sort(key=lambda mp: (order[mp[0]], -len(mp[1]) if mp[0] == "DELETE" else 0, mp[1]))
    problems = []
    for method, path in routes:
        kw = {}
        if method in ("POST", "PUT", "PATCH"):
            kw["json"] = {}
        # Streamed, so that the live event stream answers its headers without being read to its (never) end.
        with gateway.api(t, method, concrete(path), stream=True, **kw) as r:
            expected = content_type[(method, path)] if r.status_code < 300 else "application/json"
            if r.status_code in (404, 405) or r.status_code >= 500:
                problems.append(f"{method} {path} -> {r.status_code} {r.text[:200]}")
            elif not r.headers.get("Content-Type", "").startswith(expected):
                problems.append(f"{method} {path} -> {r.headers.get('Content-Type')}, not {expected}")
    assert not problems, "\n".join(problems)

    for path in ("/no/such/route", "/broker/profiles/oa-b/nothing-here"):
        body = error(gateway.api(t, "GET", path), 404, "not_found")
        assert set(body) <= {"code", "message", "field", "details"}, body


# ------------------------------------------------------------------ 11. pagination

def test_list_routes_page_and_check_their_parameters(gateway):
    t = gateway.token_session()
    for name in ("page-a", "page-b"):
        ok(gateway.api(t, "POST", "/tokens", json={"name": name}), 201)
    everything = ok(gateway.api(t, "GET", "/tokens"))
    assert everything["total"] == len(everything["items"]) >= 3   # console, page-a, page-b

    first = ok(gateway.api(t, "GET", "/tokens?limit=1"))
    assert len(first["items"]) <= 1 and len(first["items"]) == 1, first
    assert first["total"] == everything["total"] and first["limit"] == 1 and first["offset"] == 0
    second = ok(gateway.api(t, "GET", "/tokens?limit=1&offset=1"))
    assert len(second["items"]) == 1 and second["items"][0]["id"] != first["items"][0]["id"]
    beyond = ok(gateway.api(t, "GET", f"/tokens?offset={everything['total']}"))
    assert beyond["items"] == [] and beyond["total"] == everything["total"]
    filtered = ok(gateway.api(t, "GET", "/tokens?q=PAGE-"))
    assert sorted(i["name"] for i in filtered["items"]) == ["page-a", "page-b"] and filtered["total"] == 2
    for item in everything["items"]:
        assert "secret" not in item and "hash" not in json.dumps(item).lower(), item

    for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                         ("offset=-1", "offset")):
        body = error(gateway.api(t, "GET", f"/tokens?{query}"), 400, "bad_request")
        assert body.get("field") == field and field in body["message"], (query, body)
