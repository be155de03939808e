"""Proves the push receiver fixture (push_receiver.py) with a plain HTTPS client, without a gateway: its TLS, its
token endpoint's checks of the assertion (a JWT signed here), both send endpoints and the 503 switch.

    cd Tests/e2e && python3 -m pytest -x -q test_push_receiver_fixture.py
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from push_receiver import JWT_BEARER_GRANT, MESSAGING_SCOPE, PushReceiver, b64url_encode

EVENT_TOPIC = "Device-1_AuthServer_LoginError"


@pytest.fixture
def receiver():
    with PushReceiver(server_key="fixture-key") as receiver:
        yield receiver


def sign_assertion(account: dict, key=None, **overrides) -> str:
    """A JWT bearer assertion for `account`, signed RS256 with its key (or `key`)."""
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": account["private_key_id"]}
    claims = {
        "iss": account["client_email"],
        "scope": MESSAGING_SCOPE,
        "aud": account["token_uri"],
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    signing_input = f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(json.dumps(claims).encode())}"
    if key is None:
        key = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url_encode(signature)}"


def post_token(receiver: PushReceiver, assertion: str) -> requests.Response:
    return requests.post(
        receiver.token_uri,
        data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion},
        verify=receiver.ca_file(),
        timeout=10,
    )


def v1_send(receiver: PushReceiver, project: str, token: str, topic: str, data: dict) -> requests.Response:
    return requests.post(
        f"{receiver.base_url}/v1/projects/{project}/messages:send",
        json={"message": {"topic": topic, "data": data}},
        headers={"Authorization": f"Bearer {token}"},
        verify=receiver.ca_file(),
        timeout=10,
    )


def legacy_send(receiver: PushReceiver, key: str, topic: str, data: dict) -> requests.Response:
    return requests.post(
        f"{receiver.base_url}/fcm/send",
        json={"data": data, "to": f"/topics/{topic}"},
        headers={"Authorization": f"key={key}"},
        verify=receiver.ca_file(),
        timeout=10,
    )


def test_service_account_json_is_a_usable_key_file(receiver):
    account = json.loads(receiver.service_account_json("proj-1"))
    assert account["type"] == "service_account"
    assert account["project_id"] == "proj-1"
    assert account["token_uri"] == f"https://127.0.0.1:{receiver.port}/token"
    key = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert account["private_key"].startswith("-----BEGIN PRIVATE KEY-----")


def test_tls_is_trusted_only_with_the_receivers_ca(receiver):
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(f"{receiver.base_url}/fcm/send", json={}, timeout=10)
    assert "BEGIN CERTIFICATE" in receiver.ca_pem
    # Still serving after the failed handshake.
    assert legacy_send(receiver, "fixture-key", EVENT_TOPIC, {"data": "x"}).status_code == 200


def test_a_well_signed_assertion_gets_a_token_that_sends_v1_messages(receiver):
    account = json.loads(receiver.service_account_json("proj-1"))
    answer = post_token(receiver, sign_assertion(account))
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["access_token"]

    data = {"data": "Login failed", "type": "LoginError"}
    sent = v1_send(receiver, "proj-1", token["access_token"], EVENT_TOPIC, data)
    assert sent.status_code == 200, sent.text
    assert sent.json()["name"].startswith("projects/proj-1/messages/")

    [message] = receiver.wait_for(lambda r: r.messages(EVENT_TOPIC), timeout=5)
    assert message.data == {"data": "Login failed", "type": "LoginError"}
    assert message.project == "proj-1"
    assert message.path == "/v1/projects/proj-1/messages:send"
    assert message.arrived <= time.monotonic()
    assert receiver.messages("SomeOtherTopic") == []
    assert receiver.token_requests == 1
    assert receiver.refusals == []


def test_a_bad_signature_is_refused_and_recorded(receiver):
    account = json.loads(receiver.service_account_json())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    answer = post_token(receiver, sign_assertion(account, key=stranger))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    [refusal] = receiver.refusals
    assert refusal.path == "/token" and refusal.status == 400 and "signature" in refusal.reason
    # A token it never issued is refused by the send endpoint.
    assert v1_send(receiver, "p", "made-up-token", EVENT_TOPIC, {"data": "x"}).status_code == 401
    assert receiver.messages() == []


@pytest.mark.parametrize(
    "claims, reason",
    [
        ({"aud": "https://elsewhere.example.test/token"}, "aud"),
        ({"iss": "mallory@example.test"}, "iss"),
        ({"scope": "https://www.googleapis.com/auth/cloud-platform"}, "scope"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
    ],
)
def test_assertion_claims_are_checked(receiver, claims, reason):
    account = json.loads(receiver.service_account_json())
    assert post_token(receiver, sign_assertion(account, **claims)).status_code == 400
    assert reason in receiver.refusals[-1].reason


def test_legacy_send_needs_the_server_key(receiver):
    assert legacy_send(receiver, "wrong-key", EVENT_TOPIC, {"data": "x"}).status_code == 401
    answer = legacy_send(receiver, "fixture-key", "DevicesAndTopics", {"Device": "Device-1", "Audit": "NewRecord"})
    assert answer.status_code == 200, answer.text
    [announce] = receiver.messages("DevicesAndTopics")
    assert announce.data == {"Device": "Device-1", "Audit": "NewRecord"}
    assert announce.path == "/fcm/send" and announce.project is None
    assert [r.status for r in receiver.refusals] == [401]


def test_malformed_messages_are_refused(receiver):
    answer = requests.post(
        f"{receiver.base_url}/fcm/send",
        json={"data": {"n": 1}, "to": "/topics/t"},
        headers={"Authorization": "key=fixture-key"},
        verify=receiver.ca_file(),
        timeout=10,
    )
    assert answer.status_code == 400
    assert "map of strings" in receiver.refusals[-1].reason
    assert receiver.messages() == []


def test_unavailable_answers_503_for_a_while(receiver):
    receiver.set_unavailable()
    assert legacy_send(receiver, "fixture-key", EVENT_TOPIC, {"data": "1"}).status_code == 503
    receiver.set_available()
    assert legacy_send(receiver, "fixture-key", EVENT_TOPIC, {"data": "2"}).status_code == 200

    receiver.set_unavailable(0.3)
    assert legacy_send(receiver, "fixture-key", EVENT_TOPIC, {"data": "3"}).status_code == 503
    deadline = time.monotonic() + 5
    while legacy_send(receiver, "fixture-key", EVENT_TOPIC, {"data": "4"}).status_code != 200:
        assert time.monotonic() < deadline, "still unavailable after its time"
        time.sleep(0.05)
    assert [m.data["data"] for m in receiver.messages(EVENT_TOPIC)] == ["2", "4"]
    assert {r.status for r in receiver.refusals} == {503}


def test_revoked_tokens_are_refused(receiver):
    account = json.loads(receiver.service_account_json())
    token = post_token(receiver, sign_assertion(account)).json()["access_token"]
    assert v1_send(receiver, "p", token, EVENT_TOPIC, {"data": "x"}).status_code == 200
    receiver.revoke_tokens()
    assert v1_send(receiver, "p", token, EVENT_TOPIC, {"data": "y"}).status_code == 401


def test_wait_for_times_out(receiver):
    with pytest.raises(TimeoutError):
        receiver.wait_for(lambda r: r.messages("never"), timeout=0.3)
