#!/usr/bin/env python3
"""Observes real Mosquitto's read/write ACL decisions for acl_compare and writes mosquitto_acl_observed.tsv.

Runs /usr/sbin/mosquitto on 127.0.0.1 (a free port) with acl_compare and a password file made with the real
mosquitto_passwd, then, for every probe identity:
  read:  the probe subscribes to '#' and '$custom/#' (Mosquitto never refuses a SUBSCRIBE from an acl_file), an
         'admin' observer publishes every probe topic at QoS 1, and a topic counts as readable if it reaches the probe;
  write: the probe publishes every topic at QoS 1 and a topic counts as writable if it reaches the observer.
Needs paho-mqtt 2.x. Run from the Fixtures directory. AccessControlListTests compares Rampart with the TSV.
"""
import os
import socket
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

PASSWORDS = {"alice": "pa", "bob": "pb", "reader": "pr", "with space": "ps", "admin": "padmin", "carol": "pc"}

# (username or None, client id)
PROBES = [
    (None, "anon1"),
    ("alice", "alice-phone"),
    ("bob", "bob1"),
    ("reader", "reader1"),
    ("with space", "ws1"),
    ("admin", "admin1"),
    ("carol", "carol1"),
    ("alice", "evil+"),
    (None, "dev#1"),
]

TOPICS = [
    "public/news", "public/secret", "public/a/b", "home/alice/x", "home/alice/private", "home/alice/private/sub",
    "home/shared/status", "home/shared/inbox", "home/bob/status", "home/bob/x", "home/carol/status", "space/x",
    "devices/{cid}/x", "devices/{cid}/locked", "devices/other/x", "users/{user}/inbox", "users/{user}/outbox",
    "users/other/inbox", "$custom/x", "$custom/y/z", "a/b",
]

SETTLE = 0.6


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port, client_id, username, password):
        self.received = []
        self.subscribed = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload.decode()))
        self.client.on_subscribe = lambda c, u, mid, rc, p: self.subscribed.set()
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.connected.wait(5):
            raise RuntimeError(f"connect failed for {client_id}")

    def subscribe_all(self):
        self.subscribed.clear()
        self.client.subscribe([("#", 1), ("$custom/#", 1)])
        if not self.subscribed.wait(5):
            raise RuntimeError("suback missing")

    def publish(self, topic, payload):
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def main():
    work = tempfile.mkdtemp(prefix="rampart-acl-compare-")
    pwfile = os.path.join(work, "passwd")
    for index, (user, password) in enumerate(PASSWORDS.items()):
        flags = ["-c"] if index == 0 else []
        subprocess.run(["mosquitto_passwd", *flags, "-b", pwfile, user, password], check=True)
    port = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npassword_file {pwfile}\n"
                f"acl_file {os.path.abspath('acl_compare')}\npersistence false\n"
                # Keep root so the broker can read the temporary files (it would switch to user mosquitto).
                "user root\n")
    broker = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        observer = Client(port, "observer", "admin", PASSWORDS["admin"])
        observer.subscribe_all()
        rows = []
        for user, cid in PROBES:
            expanded = [t.format(cid=cid, user=user or "anonymous") for t in TOPICS]
            # A client id with '+' or '#' makes some expansions wildcards, which are not topic names.
            topics = [t for t in expanded if "+" not in t and "#" not in t]
            probe = Client(port, cid, user, PASSWORDS.get(user))
            probe.subscribe_all()
            for topic in topics:
                observer.publish(topic, f"read|{cid}|{topic}")
            time.sleep(SETTLE)
            got = {p for _, p in probe.received}
            for topic in topics:
                rows.append(("read", user, cid, topic, f"read|{cid}|{topic}" in got))
            for topic in topics:
                probe.publish(topic, f"write|{cid}|{topic}")
            time.sleep(SETTLE)
            seen = {p for _, p in observer.received}
            for topic in topics:
                rows.append(("write", user, cid, topic, f"write|{cid}|{topic}" in seen))
            probe.close()
        observer.close()
    finally:
        broker.terminate()
        broker.wait()
    version = subprocess.run(["/usr/sbin/mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[0]
    with open("mosquitto_acl_observed.tsv", "w") as out:
        out.write(f"# Observed with {version} by tools/compare_with_mosquitto.py on acl_compare.\n")
        out.write("# access\tusername ('-' = none)\tclient id\ttopic\tdecision\n")
        for access, user, cid, topic, allowed in rows:
            out.write(f"{access}\t{user if user is not None else '-'}\t{cid}\t{topic}\t"
                      f"{'allow' if allowed else 'deny'}\n")
    print(f"{len(rows)} observations written")


if __name__ == "__main__":
    main()
