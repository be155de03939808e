"""Tiny hand-rolled MQTT 3.1.1 / 5.0 encoder and decoder for raw-socket tests.

Only what the end-to-end tests need: building the client->server packets
byte by byte (so tests can also build *wrong* packets), and a blocking
socket client that decodes whatever the broker sends back, with a deadline
on every read.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

# Packet types
CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
AUTH = 15

PACKET_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
    11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}

# MQTT 5 property identifiers
PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)
_PROP_TYPES = {
    0x01: _BYTE, 0x02: _U32, 0x03: _STR, 0x08: _STR, 0x09: _BIN, 0x0B: _VARINT,
    0x11: _U32, 0x12: _STR, 0x13: _U16, 0x15: _STR, 0x16: _BIN, 0x17: _BYTE,
    0x18: _U32, 0x19: _BYTE, 0x1A: _STR, 0x1C: _STR, 0x1F: _STR, 0x21: _U16,
    0x22: _U16, 0x23: _U16, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _U32,
    0x28: _BYTE, 0x29: _BYTE, 0x2A: _BYTE,
}
# Properties that may occur more than once; decoded into lists.
_MULTI = {SUBSCRIPTION_IDENTIFIER, USER_PROPERTY}

# Reason codes used by the tests
RC_SUCCESS = 0x00
RC_DISCONNECT_WITH_WILL = 0x04
RC_UNSPECIFIED = 0x80
RC_MALFORMED = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95


class MalformedResponse(Exception):
    """The broker sent bytes we could not decode."""


# ---------------------------------------------------------------- encoding

def varint(n: int) -> bytes:
    if n < 0 or n > 268_435_455:
        raise ValueError(f"variable byte integer out of range: {n}")
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def u16(n: int) -> bytes:
    return struct.pack("!H", n)


def u32(n: int) -> bytes:
    return struct.pack("!I", n)


def utf8(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return u16(len(b)) + b


def binary(b: bytes) -> bytes:
    return u16(len(b)) + b


def encode_properties(props: dict[int, Any] | None) -> bytes:
    """Encode a property dict {id: value}; list values repeat the property."""
    out = bytearray()
    for pid, value in (props or {}).items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            t = _PROP_TYPES[pid]
            out += varint(pid)
            if t == _BYTE:
                out.append(v)
            elif t == _U16:
                out += u16(v)
            elif t == _U32:
                out += u32(v)
            elif t == _VARINT:
                out += varint(v)
            elif t == _STR:
                out += utf8(v)
            elif t == _BIN:
                out += binary(v)
            elif t == _PAIR:
                out += utf8(v[0]) + utf8(v[1])
    return varint(len(out)) + bytes(out)


def fixed_header(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


def connect(client_id: str = "", *, version: int = 5, keepalive: int = 60,
            clean: bool = True, props: dict | None = None,
            will_topic: str | None = None, will_payload: bytes = b"",
            will_qos: int = 0, will_retain: bool = False,
            will_props: dict | None = None,
            username: str | None = None, password: bytes | None = None) -> bytes:
    level = {5: 5, 4: 4, 311: 4}[version]
    flags = 0
    if clean:
        flags |= 0x02
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    body = utf8("MQTT") + bytes([level, flags]) + u16(keepalive)
    if level == 5:
        body += encode_properties(props)
    body += utf8(client_id)
    if will_topic is not None:
        if level == 5:
            body += encode_properties(will_props)
        body += utf8(will_topic) + binary(will_payload)
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += binary(password)
    return fixed_header(CONNECT, 0, body)


def publish(topic: str, payload: bytes = b"", *, qos: int = 0, retain: bool = False,
            dup: bool = False, packet_id: int | None = None, version: int = 5,
            props: dict | None = None) -> bytes:
    flags = (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    body = utf8(topic)
    if qos > 0:
        if packet_id is None:
            raise ValueError("QoS > 0 needs a packet id")
        body += u16(packet_id)
    if version == 5:
        body += encode_properties(props)
    body += payload
    return fixed_header(PUBLISH, flags, body)


def _ack(ptype: int, flags: int, packet_id: int, version: int,
         reason: int = 0, props: dict | None = None) -> bytes:
    body = u16(packet_id)
    if version == 5 and (reason != 0 or props):
        body += bytes([reason]) + encode_properties(props)
    return fixed_header(ptype, flags, body)


def puback(packet_id: int, version: int = 5, reason: int = 0) -> bytes:
    return _ack(PUBACK, 0, packet_id, version, reason)


def pubrec(packet_id: int, version: int = 5, reason: int = 0) -> bytes:
    return _ack(PUBREC, 0, packet_id, version, reason)


def pubrel(packet_id: int, version: int = 5, reason: int = 0) -> bytes:
    return _ack(PUBREL, 0x02, packet_id, version, reason)


def pubcomp(packet_id: int, version: int = 5, reason: int = 0) -> bytes:
    return _ack(PUBCOMP, 0, packet_id, version, reason)


def sub_options(qos: int = 0, *, no_local: bool = False, rap: bool = False,
                retain_handling: int = 0) -> int:
    return qos | (0x04 if no_local else 0) | (0x08 if rap else 0) | (retain_handling << 4)


def subscribe(packet_id: int, topics: list[tuple[str, int]], *, version: int = 5,
              props: dict | None = None) -> bytes:
    """topics: [(filter, options_byte)]; for 3.1.1 the options byte is the QoS."""
    body = u16(packet_id)
    if version == 5:
        body += encode_properties(props)
    for t, opts in topics:
        body += utf8(t) + bytes([opts])
    return fixed_header(SUBSCRIBE, 0x02, body)


def unsubscribe(packet_id: int, topics: list[str], *, version: int = 5) -> bytes:
    body = u16(packet_id)
    if version == 5:
        body += encode_properties(None)
    for t in topics:
        body += utf8(t)
    return fixed_header(UNSUBSCRIBE, 0x02, body)


def pingreq() -> bytes:
    return b"\xc0\x00"


def disconnect(reason: int = 0, *, version: int = 5, props: dict | None = None) -> bytes:
    if version != 5 or (reason == 0 and not props):
        return b"\xe0\x00"
    return fixed_header(DISCONNECT, 0, bytes([reason]) + encode_properties(props))


# ---------------------------------------------------------------- decoding

class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedResponse("truncated packet")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("!H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("!I", self.take(4))[0]

    def varint(self) -> int:
        mult, value = 1, 0
        for _ in range(4):
            b = self.byte()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise MalformedResponse("variable byte integer too long")

    def string(self) -> str:
        return self.take(self.u16()).decode("utf-8")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def rest(self) -> bytes:
        return self.take(self.remaining())

    def properties(self) -> dict[int, Any]:
        length = self.varint()
        sub = _Reader(self.take(length))
        props: dict[int, Any] = {}
        while sub.remaining():
            pid = sub.varint()
            t = _PROP_TYPES.get(pid)
            if t is None:
                raise MalformedResponse(f"unknown property id {pid:#x}")
            if t == _BYTE:
                v: Any = sub.byte()
            elif t == _U16:
                v = sub.u16()
            elif t == _U32:
                v = sub.u32()
            elif t == _VARINT:
                v = sub.varint()
            elif t == _STR:
                v = sub.string()
            elif t == _BIN:
                v = sub.binary()
            else:
                v = (sub.string(), sub.string())
            if pid in _MULTI:
                props.setdefault(pid, []).append(v)
            else:
                if pid in props:
                    raise MalformedResponse(f"property {pid:#x} repeated")
                props[pid] = v
        return props


@dataclass
class Packet:
    type: int
    flags: int
    raw: bytes
    # decoded fields (only those relevant to the packet type are set)
    packet_id: int | None = None
    reason: int | None = None
    reasons: list[int] = field(default_factory=list)
    props: dict[int, Any] = field(default_factory=dict)
    session_present: bool | None = None
    topic: str | None = None
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False

    @property
    def name(self) -> str:
        return PACKET_NAMES.get(self.type, f"type{self.type}")

    def __repr__(self) -> str:
        parts = [self.name]
        for k in ("packet_id", "reason", "session_present", "topic"):
            v = getattr(self, k)
            if v is not None:
                parts.append(f"{k}={v!r}")
        if self.type == PUBLISH:
            parts.append(f"qos={self.qos} retain={self.retain} dup={self.dup} payload={self.payload[:40]!r}")
        if self.reasons:
            parts.append(f"reasons={[hex(r) for r in self.reasons]}")
        if self.props:
            parts.append(f"props={ {hex(k): v for k, v in self.props.items()} }")
        return "<" + " ".join(parts) + ">"


def decode_packet(first: int, body: bytes, version: int) -> Packet:
    ptype, flags = first >> 4, first & 0x0F
    p = Packet(type=ptype, flags=flags, raw=body)
    r = _Reader(body)
    v5 = version == 5
    if ptype == CONNACK:
        p.session_present = bool(r.byte() & 0x01)
        p.reason = r.byte()
        if v5 and r.remaining():
            p.props = r.properties()
    elif ptype == PUBLISH:
        p.qos = (flags >> 1) & 0x03
        p.retain = bool(flags & 0x01)
        p.dup = bool(flags & 0x08)
        p.topic = r.string()
        if p.qos:
            p.packet_id = r.u16()
        if v5:
            p.props = r.properties()
        p.payload = r.rest()
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.packet_id = r.u16()
        p.reason = 0
        if v5 and r.remaining():
            p.reason = r.byte()
            if r.remaining():
                p.props = r.properties()
    elif ptype in (SUBACK, UNSUBACK):
        p.packet_id = r.u16()
        if v5:
            p.props = r.properties()
        p.reasons = list(r.rest())
    elif ptype == DISCONNECT:
        p.reason = 0
        if v5 and r.remaining():
            p.reason = r.byte()
            if r.remaining():
                p.props = r.properties()
    elif ptype == AUTH:
        p.reason = 0
        if r.remaining():
            p.reason = r.byte()
            if r.remaining():
                p.props = r.properties()
    return p


# ---------------------------------------------------------------- client

class RawClient:
    """Blocking MQTT-over-TCP client; every receive has a deadline.

    Usage:
        c = RawClient(port, version=5)
        ack = c.connect("cid", props={...})
        c.send(publish(...))
        pkt = c.recv(timeout=5)
    """

    def __init__(self, port: int, *, version: int = 5, host: str = "127.0.0.1",
                 timeout: float = 5.0):
        self.version = 5 if version == 5 else 4
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self.closed = False
        self._next_id = 0
        self.aliases: dict[int, str] = {}   # broker->client topic aliases

    # -- plumbing
    def next_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def try_send(self, data: bytes) -> bool:
        """Send, tolerating a connection the broker already closed."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on EOF. Raises TimeoutError at the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from broker before the deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from broker before the deadline") from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self._buf += chunk
        return True

    def recv(self, timeout: float = 5.0) -> Packet | None:
        """Next packet, or None if the broker closed the connection.

        Raises TimeoutError if nothing complete arrived within `timeout`.
        """
        deadline = time.monotonic() + timeout
        while True:
            pkt = self._try_parse()
            if pkt is not None:
                return pkt
            if self.closed or not self._fill(deadline):
                if self._buf:
                    raise MalformedResponse(f"connection closed mid-packet: {bytes(self._buf)!r}")
                return None

    def _try_parse(self) -> Packet | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(buf):
                return None
            b = buf[i]
            length += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult *= 128
            if i > 4:
                raise MalformedResponse("bad remaining length from broker")
        if len(buf) < i + length:
            return None
        first = buf[0]
        body = bytes(buf[i:i + length])
        del buf[:i + length]
        pkt = decode_packet(first, body, self.version)
        if pkt.type == PUBLISH and TOPIC_ALIAS in pkt.props:
            alias = pkt.props[TOPIC_ALIAS]
            if pkt.topic:
                self.aliases[alias] = pkt.topic
            else:
                pkt.topic = self.aliases.get(alias)
        return pkt

    def recv_type(self, ptype: int, timeout: float = 5.0, *, skip: tuple[int, ...] = ()) -> Packet:
        """Receive until a packet of `ptype`; packets listed in `skip` are ignored,
        anything else is an error."""
        deadline = time.monotonic() + timeout
        while True:
            pkt = self.recv(max(0.0, deadline - time.monotonic()) or 0.001)
            if pkt is None:
                raise ConnectionError(f"broker closed connection while waiting for {PACKET_NAMES[ptype]}")
            if pkt.type == ptype:
                return pkt
            if pkt.type not in skip:
                raise AssertionError(f"expected {PACKET_NAMES[ptype]}, got {pkt!r}")

    def wait_closed(self, timeout: float = 5.0) -> list[Packet]:
        """Wait until the broker closes the connection; return the packets
        received meanwhile. Raises TimeoutError if still open at the deadline."""
        deadline = time.monotonic() + timeout
        got: list[Packet] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"connection still open after {timeout}s; received {got!r}")
            pkt = self.recv(remaining)
            if pkt is None:
                return got
            got.append(pkt)

    def expect_silence(self, duration: float) -> None:
        """Assert no packet arrives (and the connection stays open) for `duration`."""
        try:
            pkt = self.recv(duration)
        except TimeoutError:
            return
        raise AssertionError(f"expected no packet for {duration}s, got {pkt!r}")

    # -- conveniences
    def connect(self, client_id: str = "", *, expect_success: bool = True,
                timeout: float = 5.0, **kw) -> Packet:
        self.send(connect(client_id, version=self.version, **kw))
        ack = self.recv(timeout)
        assert ack is not None, "broker closed the connection instead of sending CONNACK"
        assert ack.type == CONNACK, f"expected CONNACK, got {ack!r}"
        if expect_success:
            assert ack.reason == 0, f"CONNACK refused: {ack!r}"
        return ack

    def subscribe(self, topics: list[tuple[str, int]] | str, qos: int = 0, *,
                  props: dict | None = None, timeout: float = 5.0) -> Packet:
        if isinstance(topics, str):
            topics = [(topics, qos)]
        pid = self.next_id()
        self.send(subscribe(pid, topics, version=self.version, props=props))
        ack = self.recv_type(SUBACK, timeout)
        assert ack.packet_id == pid
        assert all(r < 0x80 for r in ack.reasons), f"subscription refused: {ack!r}"
        return ack

    def publish(self, topic: str, payload: bytes = b"", *, qos: int = 0,
                retain: bool = False, props: dict | None = None,
                timeout: float = 5.0) -> Packet | None:
        """Publish and complete the QoS flow (returns the final ack, if any)."""
        pid = self.next_id() if qos else None
        self.send(publish(topic, payload, qos=qos, retain=retain, packet_id=pid,
                          version=self.version, props=props))
        if qos == 1:
            return self.recv_type(PUBACK, timeout, skip=(PUBLISH,))
        if qos == 2:
            rec = self.recv_type(PUBREC, timeout, skip=(PUBLISH,))
            assert rec.packet_id == pid
            self.send(pubrel(pid, self.version))
            return self.recv_type(PUBCOMP, timeout, skip=(PUBLISH,))
        return None

    def ack(self, pkt: Packet) -> None:
        """Acknowledge an incoming PUBLISH (QoS 2: PUBREC, then expect PUBREL and PUBCOMP it)."""
        if pkt.qos == 1:
            self.send(puback(pkt.packet_id, self.version))
        elif pkt.qos == 2:
            self.send(pubrec(pkt.packet_id, self.version))
            rel = self.recv_type(PUBREL, 5.0)
            assert rel.packet_id == pkt.packet_id
            self.send(pubcomp(pkt.packet_id, self.version))

    def recv_publish(self, timeout: float = 5.0, *, auto_ack: bool = True) -> Packet:
        pkt = self.recv_type(PUBLISH, timeout)
        if auto_ack:
            self.ack(pkt)
        return pkt

    def close(self) -> None:
        """Close the TCP connection without sending DISCONNECT."""
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def disconnect(self, reason: int = 0, props: dict | None = None) -> None:
        self.try_send(disconnect(reason, version=self.version, props=props))
        self.close()
