#!/usr/bin/env python3
"""Writes the seed corpus of the MQTT decoder fuzzer into Fuzz/corpus/.

Each seed is a small byte stream: single packets of every type for MQTT 3.1, 3.1.1 and 5.0 (decoded by the
fuzzer's client configurations), whole sessions that start with CONNECT (decoded by its server configurations),
and a few broken packets. The encodings are written here independently of the Swift encoder, from the spec.
Run it again after changing it; the files are committed.
"""
import os
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus"


def vbi(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def binary(data):
    return struct.pack(">H", len(data)) + data


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def props(*items):
    body = b"".join(items)
    return vbi(len(body)) + body


def packet(first, body):
    return bytes([first]) + vbi(len(body)) + body


def user(name, value):
    return b"\x26" + s(name) + s(value)


NAMES = {3: "MQIsdp", 4: "MQTT", 5: "MQTT"}


def connect(level, flags=0x02, keep_alive=60, properties=b"", payload=s("client")):
    body = s(NAMES[level]) + bytes([level, flags]) + u16(keep_alive)
    if level == 5:
        body += properties or props()
    return packet(0x10, body + payload)


def seeds():
    out = {}
    for level, tag in ((3, "v31"), (4, "v311"), (5, "v5")):
        v5 = level == 5
        p = (lambda *items: props(*items)) if v5 else (lambda *items: b"")
        out[f"{tag}-connect-minimal"] = connect(level)
        will_props = p(b"\x18" + u32(10), b"\x01\x01", b"\x03" + s("text/plain"), b"\x08" + s("reply"),
                       b"\x09" + binary(b"\x01\x02"), user("k", "v"))
        out[f"{tag}-connect-full"] = connect(
            level, flags=0xF6, keep_alive=30,
            properties=props(b"\x11" + u32(3600), b"\x21" + u16(10), b"\x27" + u32(65536), b"\x22" + u16(5),
                             b"\x19\x01", b"\x17\x00", user("a", "b"), b"\x15" + s("PLAIN"), b"\x16" + binary(b"x"))
            if v5 else b"",
            payload=s("id") + will_props + s("will/topic") + binary(b"bye") + s("user") + binary(b"pass"))
        out[f"{tag}-connack"] = packet(0x20, b"\x01\x00" + p(b"\x21" + u16(100), b"\x24\x01", b"\x25\x01",
                                                             b"\x12" + s("assigned"), b"\x13" + u16(30),
                                                             b"\x28\x01", b"\x29\x01", b"\x2a\x00",
                                                             b"\x1f" + s("ok"), b"\x1a" + s("info"),
                                                             b"\x1c" + s("srv")))
        out[f"{tag}-connack-refused"] = packet(0x20, b"\x00" + (b"\x87" if v5 else b"\x05") + p())
        out[f"{tag}-publish-qos0"] = packet(0x30, s("a/b") + p() + b"hello")
        out[f"{tag}-publish-qos1-retain"] = packet(0x33, s("sensors/1/temp") + u16(1) +
                                                   p(b"\x01\x01", b"\x02" + u32(60), b"\x23" + u16(3),
                                                     b"\x0b\x05", b"\x0b\x80\x01", user("x", "y")) + b"21.5")
        out[f"{tag}-publish-qos2-dup"] = packet(0x3C, s("$SYS/x") + u16(65535) + p() + bytes(range(32)))
        for name, first in (("puback", 0x40), ("pubrec", 0x50), ("pubrel", 0x62), ("pubcomp", 0x70)):
            out[f"{tag}-{name}"] = packet(first, u16(7))
            if v5:
                out[f"{tag}-{name}-reason"] = packet(first, u16(7) + b"\x92" + props(b"\x1f" + s("why")))
        sub_options = b"\x2d" if v5 else b"\x01"
        out[f"{tag}-subscribe"] = packet(0x82, u16(2) + p(b"\x0b\x07", user("k", "v")) + s("a/+/c") + sub_options +
                                         s("#") + b"\x02" + s("$share/g/t") + b"\x00")
        out[f"{tag}-suback"] = packet(0x90, u16(2) + p(b"\x1f" + s("r")) + b"\x01\x02\x80")
        out[f"{tag}-unsubscribe"] = packet(0xA2, u16(3) + p() + s("a/+/c") + s("#"))
        out[f"{tag}-unsuback"] = packet(0xB0, u16(3) + (props() + b"\x00\x11" if v5 else b""))
        out[f"{tag}-pingreq-pingresp"] = b"\xc0\x00\xd0\x00"
        out[f"{tag}-disconnect"] = packet(0xE0, b"\x04" + props(b"\x11" + u32(0), b"\x1f" + s("bye")) if v5 else b"")
        # A session as a server sees it: CONNECT, then traffic.
        out[f"{tag}-session"] = (connect(level) + packet(0x82, u16(1) + p() + s("t/#") + b"\x01") +
                                 packet(0x32, s("t/1") + u16(2) + p() + b"x") + packet(0x40, u16(2)) +
                                 b"\xc0\x00" + b"\xe0\x00")
    out["v5-publish-topic-alias"] = packet(0x30, s("") + props(b"\x23" + u16(1)) + b"payload")
    out["v5-auth"] = packet(0xF0, b"\x18" + props(b"\x15" + s("SCRAM"), b"\x16" + binary(b"\x00\x01")))
    out["v5-auth-empty"] = b"\xf0\x00"
    out["v5-disconnect-short"] = b"\xe0\x01\x8e"
    out["v5-ack-short-forms"] = b"\x40\x02\x00\x01" + b"\x50\x03\x00\x01\x10" + b"\x70\x04\x00\x01\x00\x00"
    out["v5-publish-2byte-length"] = packet(0x30, s("big") + props() + bytes(200))
    # Broken inputs.
    out["broken-5-byte-length"] = b"\x30\xff\xff\xff\xff\x01"
    out["broken-type-0"] = b"\x00\x00"
    out["broken-publish-qos3"] = b"\x36\x05\x00\x01a\x00\x01"
    out["broken-bad-utf8"] = packet(0x30, b"\x00\x02\xc3\x28")
    out["broken-connect-level-6"] = connect(4)[:8] + b"\x06" + connect(4)[9:]
    out["broken-duplicate-property"] = packet(0x30, s("t") + props(b"\x23" + u16(1), b"\x23" + u16(2)))
    out["broken-truncated-connect"] = connect(5)[:-2]
    out["broken-huge-length"] = b"\x30\x80\x80\x80\x64\x00"
    return out


def main():
    OUT.mkdir(exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    for name, data in sorted(seeds().items()):
        (OUT / name).write_bytes(data)
    print(f"wrote {len(os.listdir(OUT))} seeds to {OUT}")


if __name__ == "__main__":
    main()
