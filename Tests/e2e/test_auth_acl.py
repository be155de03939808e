"""`password_file` (made with the real mosquitto_passwd) and `acl_file`
(anonymous section, `user` sections, `topic read|write|readwrite|deny`,
`pattern` with %c and %u) in a mosquitto.conf run by `rampart broker -c`."""

from __future__ import annotations

import itertools

import pytest

import mqtt_raw as R
from broker_config import conf_broker, mosquitto_passwd  # noqa: F401

USERS = {"alice": "alice-pw", "bob": "bob pw with spaces", "admin": "admin-pw"}

PW_CONF = """\
listener {{port}} 127.0.0.1
allow_anonymous false
password_file {{dir}}/passwd
"""

ACL_CONF = """\
listener {{port}} 127.0.0.1
allow_anonymous true
password_file {{dir}}/passwd
acl_file {{dir}}/acl
"""

ACL = """\
# Anonymous clients (no username): everything before the first "user" line.
topic read public/#
topic write anon/out/#

user alice
topic readwrite alice/#
topic deny alice/private/#
topic read shared/#
topic write inbox/#

user bob
topic read bob/#

user admin
topic readwrite #

# Patterns apply to every client, whatever section they appear in.
pattern readwrite dev/%c/#
pattern read users/%u/in/#
pattern write users/%u/out/#
"""


# ------------------------------------------------------------------ password_file

@pytest.fixture
def pw_broker(conf_broker):
    b = conf_broker.new()
    mosquitto_passwd(b.path("passwd"), USERS)
    return b.start(PW_CONF)


def _connack(b, version, username=None, password=None, client_id="pw-client") -> int:
    c = R.RawClient(b.port, version=version)
    try:
        ack = c.connect(client_id, username=username,
                        password=password.encode() if password is not None else None,
                        expect_success=False)
        return ack.reason
    finally:
        c.close()


# Mosquitto 2.0 answers every authentication failure with 5 "not authorized"
# (3.1.1) and 0x87 "Not authorized" (v5); 0x86 "Bad user name or password" is
# the other correct v5 answer.
REFUSED = {4: (5,), 5: (0x86, 0x87)}


@pytest.mark.parametrize("version", [4, 5])
def test_password_file_accepts_right_password(pw_broker, version):
    assert _connack(pw_broker, version, "alice", USERS["alice"]) == 0
    assert _connack(pw_broker, version, "bob", USERS["bob"]) == 0   # second user (-b, no -c)


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("case", ["wrong password", "other user's password", "unknown user",
                                  "anonymous", "username without password", "empty password"])
def test_password_file_refuses(pw_broker, version, case):
    username, password = {
        "wrong password": ("alice", "not-alice-pw"),
        "other user's password": ("alice", USERS["bob"]),
        "unknown user": ("mallory", "alice-pw"),
        "anonymous": (None, None),
        "username without password": ("alice", None),
        "empty password": ("alice", ""),
    }[case]
    rc = _connack(pw_broker, version, username, password)
    assert rc in REFUSED[version], f"{case}: CONNACK {rc:#x}, expected one of {REFUSED[version]}"


def test_refused_client_cannot_publish(pw_broker):
    # After a refused CONNECT the connection is closed: nothing it sends is routed.
    sub = pw_broker.client(version=5, client_id="legit", username="alice", password=USERS["alice"])
    sub.connect()
    sub.subscribe("secret/#", 1)
    c = R.RawClient(pw_broker.port, version=4)
    ack = c.connect("intruder", username="alice", password=b"wrong", expect_success=False)
    assert ack.reason >= 0x80 or ack.reason in (4, 5), ack     # the exact code: test_password_file_refuses
    c.try_send(R.publish("secret/x", b"sneaky", qos=0, version=4))
    assert c.wait_closed(5.0) == []
    sub.expect_no_message(0.5)


def test_paho_with_password(pw_broker):
    ok = pw_broker.client(version=5, client_id="paho-alice", username="alice", password=USERS["alice"])
    ok.connect()
    ok.subscribe("pw/t", 1)
    ok.publish("pw/t", b"authenticated", qos=1)
    assert ok.get().payload == b"authenticated"


# ------------------------------------------------------------------ acl_file

@pytest.fixture
def acl_broker(conf_broker):
    b = conf_broker.new()
    mosquitto_passwd(b.path("passwd"), USERS)
    b.write("acl", ACL)
    b.start(ACL_CONF)

    def connect(client_id, user=None, version=5):
        c = b.client(version=version, client_id=client_id, username=user,
                     password=USERS[user] if user else None)
        c.connect()
        return c

    b.connect = connect
    return b


def _admin_watching(b, version=5):
    admin = b.connect(f"admin-watch-{version}", "admin", version)
    admin.subscribe("#", 1)
    return admin


_seq = itertools.count(1)


def _delivered(observer, publisher, denied_topic: str, marker_topic: str) -> list:
    """publisher sends denied_topic then marker_topic (both QoS 1, in order);
    return the copies of that denied message the observer got before the marker
    (must be [] if the ACL denies it)."""
    payload = f"should-not-arrive-{next(_seq)}".encode()
    publisher.publish(denied_topic, payload, qos=1)
    publisher.publish(marker_topic, b"marker", qos=1)
    _, before = observer.get_on(marker_topic, 5.0)
    return [(m.topic, m.payload) for m in before if m.payload == payload]


@pytest.mark.parametrize("version", [311, 5])
def test_acl_publish_allowed_and_denied(acl_broker, version):
    b = acl_broker
    admin = _admin_watching(b, version)
    alice = b.connect(f"alice-{version}", "alice", version)
    alice.publish("alice/x", b"mine", qos=1)
    m, _ = admin.get_on("alice/x")
    assert m.payload == b"mine"
    alice.publish("inbox/x", b"write-only is writable", qos=1)
    m, _ = admin.get_on("inbox/x")
    assert m.payload == b"write-only is writable"
    # no grant at all / read-only / explicitly denied inside a readwrite tree
    for denied in ("bob/x", "shared/x", "alice/private/x"):
        assert _delivered(admin, alice, denied, "alice/marker") == [], f"alice could publish {denied}"


def test_acl_denied_publish_gets_v5_puback_not_authorized(acl_broker):
    c = R.RawClient(acl_broker.port, version=5)
    try:
        c.connect("alice-raw", username="alice", password=USERS["alice"].encode())
        # 0x10 "No matching subscribers" (what Mosquitto sends here) is a success code too
        assert c.publish("alice/ok", b"1", qos=1).reason in (0, 0x10)
        assert c.publish("bob/x", b"1", qos=1).reason == 0x87
    finally:
        c.close()


@pytest.mark.parametrize("version", [311, 5])
def test_acl_read_denied(acl_broker, version):
    b = acl_broker
    admin = b.connect(f"admin-{version}", "admin", version)
    alice = b.connect(f"alice-{version}", "alice", version)
    # inbox/# is write-only, alice/private/# denied: Mosquitto grants these
    # subscriptions and then delivers nothing; a broker may also refuse them.
    for f in ("inbox/#", "alice/private/#", "bob/#"):
        alice.subscribe(f, 1, expect_granted=False)
    alice.subscribe("alice/#", 1)
    for denied in ("inbox/y", "alice/private/y", "bob/y"):
        assert _delivered(alice, admin, denied, "alice/marker") == [], f"alice could read {denied}"
    # read-only is readable
    alice.subscribe("shared/#", 1)
    admin.publish("shared/news", b"read-only is readable", qos=1)
    m, _ = alice.get_on("shared/news")
    assert m.payload == b"read-only is readable"


@pytest.mark.parametrize("version", [311, 5])
def test_acl_anonymous_section(acl_broker, version):
    b = acl_broker
    admin = _admin_watching(b, version)
    anon = b.connect(f"anon-{version}", None, version)
    anon.subscribe("public/#", 1)
    anon.subscribe("alice/#", 1, expect_granted=False)
    # anonymous may write anon/out/#, nothing else
    assert _delivered(admin, anon, "public/x", "anon/out/marker") == []
    assert _delivered(admin, anon, "alice/x", "anon/out/marker") == []
    # anonymous may read public/#, not alice/#
    assert _delivered(anon, admin, "alice/y", "public/marker") == []
    # the user sections do not apply to anonymous clients, and vice versa
    bob = b.connect(f"bob-{version}", "bob", version)
    bob.subscribe("public/#", 1, expect_granted=False)
    bob.subscribe("bob/#", 1)
    assert _delivered(bob, admin, "public/z", "bob/marker") == []


@pytest.mark.parametrize("version", [311, 5])
def test_acl_pattern_client_id(acl_broker, version):
    b = acl_broker
    admin = _admin_watching(b, version)
    dev = b.connect("sensor-7", None, version)             # %c works for anonymous clients too
    dev.subscribe("dev/sensor-7/cmd", 1)
    dev.subscribe("dev/sensor-8/cmd", 1, expect_granted=False)
    assert _delivered(admin, dev, "dev/sensor-8/temp", "dev/sensor-7/temp") == []
    assert _delivered(dev, admin, "dev/sensor-8/cmd", "dev/sensor-7/cmd") == []
    # the same pattern for a named user: only its own client id
    alice = b.connect("alice-dev", "alice", version)
    assert _delivered(admin, alice, "dev/sensor-7/temp", "dev/alice-dev/temp") == []


@pytest.mark.parametrize("version", [311, 5])
def test_acl_pattern_username(acl_broker, version):
    b = acl_broker
    admin = _admin_watching(b, version)
    alice = b.connect(f"a-{version}", "alice", version)
    alice.subscribe("users/alice/in/#", 1)
    alice.subscribe("users/bob/in/#", 1, expect_granted=False)
    alice.subscribe("users/alice/out/#", 1, expect_granted=False)     # write-only for alice
    # write users/alice/out, not users/bob/out, not users/alice/in (read-only)
    assert _delivered(admin, alice, "users/bob/out/x", "users/alice/out/x") == []
    assert _delivered(admin, alice, "users/alice/in/x", "users/alice/out/x") == []
    # read users/alice/in, not users/bob/in, not users/alice/out
    assert _delivered(alice, admin, "users/bob/in/y", "users/alice/in/y") == []
    assert _delivered(alice, admin, "users/alice/out/y", "users/alice/in/y") == []
    # %u never matches an anonymous client
    anon = b.connect(f"anon-u-{version}", None, version)
    assert _delivered(admin, anon, "users//out/x", "anon/out/marker") == []


@pytest.mark.parametrize("wildcard_id", ["+", "#", "dev+1", "a/#"])
def test_acl_wildcard_client_id_does_not_match_pattern(acl_broker, wildcard_id):
    # "pattern readwrite dev/%c/#" with client id "+" would be dev/+/#, i.e. every
    # device's topics. Mosquitto: 'ACL denying access to client with dangerous client id'.
    b = acl_broker
    admin = _admin_watching(b)
    victim = b.connect("victim", None)
    victim.subscribe("dev/victim/#", 1)
    evil = b.connect(wildcard_id, None)
    evil.subscribe("dev/victim/#", 1, expect_granted=False)
    evil.subscribe("public/#", 1)
    # evil cannot write the victim's topics ...
    assert _delivered(admin, evil, "dev/victim/cmd", "anon/out/marker") == []
    # ... nor read them
    victim.publish("dev/victim/data", b"private", qos=1)
    admin.publish("public/marker", b"m", qos=1)
    _, before = evil.get_on("public/marker")
    assert [(m.topic, m.payload) for m in before] == []


# Mosquitto's acl_file never checks SUBSCRIBE (it grants the subscription and
# filters each delivery); Rampart refuses a filter the client may not read.
@pytest.mark.rampart_only(reason="Mosquitto's acl_file does not check subscriptions")
@pytest.mark.parametrize("version,refused", [(4, 0x80), (5, 0x87)])
def test_acl_subscribe_to_unreadable_filter_is_refused(acl_broker, version, refused):
    c = R.RawClient(acl_broker.port, version=version)
    try:
        c.connect("alice-sub", username="alice", password=USERS["alice"].encode())
        pid = c.next_id()
        c.send(R.subscribe(pid, [("alice/#", 1), ("bob/#", 1), ("inbox/#", 1),
                                 ("alice/private/x", 0), ("shared/+", 1)], version=version))
        ack = c.recv_type(R.SUBACK)
        assert ack.packet_id == pid
        assert ack.reasons == [1, refused, refused, refused, 1], ack
    finally:
        c.close()
