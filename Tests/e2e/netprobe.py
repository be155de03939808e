#!/usr/bin/env python3
"""Tiny network probes and servers for the firewall lab, run inside a lab namespace:

    ip netns exec rampart-lan python3 netprobe.py probe tcp 198.51.100.1 7000 --source 192.0.2.10 --echo

A probe says whether its packets passed the firewall, by its exit code:
    0  passed: a TCP connection was established, or refused with a RST (the SYN reached the host, which answered);
       a UDP datagram got a reply, or an ICMP port-unreachable (ECONNREFUSED on the connected socket)
    1  timed out: nothing came back (the firewall dropped the packet, or its answer)
    2  anything else: a bad argument, an echo that did not come back intact, a refusal where an echo was required
One line on stdout says what happened (`connected`, `refused`, `timeout`, `echo ok`, `reply <text>`).

Servers (`serve tcp|udp ADDR PORT`) echo what they receive, line by line for TCP, datagram by datagram for UDP, until
killed; with `--peer`, the TCP server answers each connection with the peer's address instead (to see whether a
connection arrives masqueraded). A server prints `listening` once it accepts connections.

Self-contained (standard library only): it runs in whatever namespace `ip netns exec` puts it.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
import threading

PASSED, TIMED_OUT, FAILED = 0, 1, 2
MAX_TIMEOUT = 1.5


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _socket(kind: int, host: str, source: str | None) -> socket.socket:
    s = socket.socket(_family(host), kind)
    if source:
        s.bind((source, 0))
    return s


def _read_line(s: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def probe_tcp(host: str, port: int, source: str | None, timeout: float, echo: bool, send: str | None) -> int:
    with _socket(socket.SOCK_STREAM, host, source) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except socket.timeout:
            print("timeout")
            return TIMED_OUT
        except ConnectionRefusedError:
            print("refused")
            return FAILED if (echo or send) else PASSED
        except OSError as e:
            # EHOSTUNREACH and the like: an ICMP error answered the SYN, or the route is missing.
            print(f"error {errno.errorcode.get(e.errno, e.errno)}")
            return FAILED
        if not (echo or send):
            print("connected")
            return PASSED
        line = (send if send is not None else f"rampart-probe {s.getsockname()[1]}") + "\n"
        try:
            s.sendall(line.encode())
            answer = _read_line(s)
        except socket.timeout:
            print("timeout waiting for the reply")
            return TIMED_OUT
        except OSError as e:
            print(f"error {errno.errorcode.get(e.errno, e.errno)}")
            return FAILED
        text = answer.decode(errors="replace").rstrip("\n")
        if echo:
            if answer != line.encode():
                print(f"echo mismatch: {text!r}")
                return FAILED
            print("echo ok")
        else:
            print(f"reply {text}")
        return PASSED if answer else FAILED


def probe_udp(host: str, port: int, source: str | None, timeout: float) -> int:
    with _socket(socket.SOCK_DGRAM, host, source) as s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
            s.send(b"rampart-probe\n")
            answer = s.recv(4096)
        except socket.timeout:
            print("timeout")
            return TIMED_OUT
        except ConnectionRefusedError:
            print("refused")
            return PASSED
        except OSError as e:
            print(f"error {errno.errorcode.get(e.errno, e.errno)}")
            return FAILED
        print(f"reply {answer.decode(errors='replace').rstrip()}")
        return PASSED


def _listening() -> None:
    print("listening", flush=True)


def serve_tcp(address: str, port: int, peer: bool) -> None:
    server = socket.socket(_family(address), socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if _family(address) == socket.AF_INET6:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    server.bind((address, port))
    server.listen(64)
    _listening()

    def handle(connection: socket.socket, remote) -> None:
        with connection:
            connection.settimeout(10)
            try:
                if peer:
                    _read_line(connection)
                    connection.sendall(f"{remote[0]}\n".encode())
                    return
                while True:
                    data = connection.recv(4096)
                    if not data:
                        return
                    connection.sendall(data)
            except OSError:
                return

    while True:
        connection, remote = server.accept()
        threading.Thread(target=handle, args=(connection, remote), daemon=True).start()


def serve_udp(address: str, port: int) -> None:
    server = socket.socket(_family(address), socket.SOCK_DGRAM)
    if _family(address) == socket.AF_INET6:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    server.bind((address, port))
    _listening()
    while True:
        data, remote = server.recvfrom(4096)
        server.sendto(data, remote)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    probe = commands.add_parser("probe", help="does a connection or datagram get through?")
    probe.add_argument("transport", choices=["tcp", "udp"])
    probe.add_argument("host")
    probe.add_argument("port", type=int)
    probe.add_argument("--source", help="the local address to leave from")
    probe.add_argument("--timeout", type=float, default=1.0, help=f"seconds, at most {MAX_TIMEOUT}")
    probe.add_argument("--echo", action="store_true", help="TCP: send a line and require it back")
    probe.add_argument("--send", help="TCP: send this line and print the reply line")
    serve = commands.add_parser("serve", help="an echo server")
    serve.add_argument("transport", choices=["tcp", "udp"])
    serve.add_argument("address")
    serve.add_argument("port", type=int)
    serve.add_argument("--peer", action="store_true", help="TCP: answer with the peer's address, not an echo")
    args = parser.parse_args(argv)

    if args.command == "probe":
        if not 0 < args.timeout <= MAX_TIMEOUT:
            print(f"--timeout must be in (0, {MAX_TIMEOUT}] seconds, not {args.timeout}", file=sys.stderr)
            return FAILED
        if args.transport == "tcp":
            return probe_tcp(args.host, args.port, args.source, args.timeout, args.echo, args.send)
        if args.echo or args.send:
            print("--echo and --send are for TCP probes", file=sys.stderr)
            return FAILED
        return probe_udp(args.host, args.port, args.source, args.timeout)
    if args.transport == "tcp":
        serve_tcp(args.address, args.port, args.peer)
    else:
        if args.peer:
            print("--peer is for TCP servers", file=sys.stderr)
            return FAILED
        serve_udp(args.address, args.port)
    return PASSED


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(PASSED)
