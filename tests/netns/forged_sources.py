#!/usr/bin/env python3
"""Sealed sessions against forged sources, inside a user and network namespace of its own.

Raw sockets forge datagrams from a member's exact address (to the relay) and from the relay's
exact address (to the member) while the member posts 100 lines; a packet socket captures lo.
Passes when: every line reaches the other member once and the poster exits 0; nothing forged
shows anywhere; a silent member is expired on time although forged heartbeats keep coming from
its address; the relay sends a silent member nothing in answer to forgeries; and no line's text
crosses lo in the clear. Run by forged_sources.sh, which makes the namespace.

Usage: forged_sources.py UDPCHAT_BINARY
"""

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

RELAY_PORT = 9998
LINES = 100


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def forged(src_port, dst_port, payload):
    """An IPv4 UDP datagram from 127.0.0.1:src_port, whoever sends it."""
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0,
                         socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + udp


class Capture(threading.Thread):
    """Every UDP datagram on lo: (source port, destination port, payload)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.1)
        self.seen = []
        self.running = True
        self.lock = threading.Lock()

    def run(self):
        while self.running:
            try:
                frame = self.sock.recv(70000)
            except socket.timeout:
                continue
            ip = frame[14:]  # lo frames carry an Ethernet header
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
                continue
            ihl = (ip[0] & 0x0F) * 4
            src, dst = struct.unpack("!HH", ip[ihl:ihl + 4])
            with self.lock:
                self.seen.append((time.monotonic(), src, dst, ip[ihl + 8:]))

    def datagrams(self):
        with self.lock:
            return list(self.seen)


def wait_for(predicate, seconds, what):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit(f"FAIL: {what} within {seconds} s")


def log_events(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return events


def member_port(log, nick):
    for e in log_events(log):
        if e.get("event") == "joined" and e.get("nick") == nick:
            return int(e["peer"].rsplit(":", 1)[1])
    return None


def main():
    udpchat = sys.argv[1]
    work = tempfile.mkdtemp()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = dict(os.environ, XDG_STATE_HOME=f"{work}/state", XDG_CONFIG_HOME=f"{work}/config")
    target = f"127.0.0.1:{RELAY_PORT}"
    serve_log = f"{work}/serve.log"
    serve = subprocess.Popen([udpchat, "serve", "--bind", target, "--hb-timeout", "2s",
                              "--log-format", "json"], stderr=open(serve_log, "w"), env=env)
    subprocess.run([udpchat, "probe", "--wait", "5s", "-q", target], check=True, env=env)
    capture = Capture()
    capture.start()
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def forge(src, dst, payload):
        raw.sendto(forged(src, dst, payload), ("127.0.0.1", 0))

    def chat(nick, *extra, stdin=None):
        out = open(f"{work}/{nick}.out", "w")
        return subprocess.Popen([udpchat, "chat", "--json", "--nick", nick, *extra, target],
                                stdin=stdin, stdout=out, stderr=subprocess.STDOUT, env=env)

    def joined(nick):
        return lambda: member_port(serve_log, nick) is not None

    bob = chat("bob", "--listen")
    carol = chat("carol", "--listen", "--room", "quiet")
    wait_for(joined("bob"), 10, "bob joined")
    wait_for(joined("carol"), 10, "carol joined")
    alice = chat("alice", "--hb-interval", "500ms", stdin=subprocess.PIPE)
    wait_for(joined("alice"), 10, "alice joined")
    alice_port = member_port(serve_log, "alice")
    carol_port = member_port(serve_log, "carol")

    # Carol goes silent (SIGKILL: no quit), while her address keeps sending forged heartbeats,
    # NACKs and lines: she must still be expired on time, and be sent nothing for them.
    carol.kill()
    carol.wait()
    killed_at = time.monotonic()
    to_relay = [b"nack 1 64", b"^hb^", b"#5", b"#1 forged line", b"quit"]
    to_member = [b"head 9999999999999999998", b"reg?", b"end", b"ack: 10.9.9.9 1 mallory\nforged\n"]
    for i in range(LINES):
        alice.stdin.write(f"line {i:03}\n".encode())
        alice.stdin.flush()
        for payload in to_relay:
            forge(alice_port, RELAY_PORT, payload)
            forge(carol_port, RELAY_PORT, payload)
        for payload in to_member:
            forge(RELAY_PORT, alice_port, payload)
        time.sleep(0.03)
    alice.stdin.close()
    status = alice.wait(60)
    expired = [e for e in log_events(serve_log)
               if e.get("event") == "expired" and e.get("nick") == "carol"]
    time.sleep(0.5)
    bob.terminate()
    bob.wait(10)
    serve.terminate()
    serve.wait(10)
    capture.running = False
    capture.join()

    failures = []
    if status != 0:
        failures.append(f"alice exited {status}")
    with open(f"{work}/bob.out", encoding="utf-8") as f:
        got = [json.loads(line)["text"] for line in f
               if '"type":"message"' in line and '"nick":"alice"' in line]
    if got != [f"line {i:03}" for i in range(LINES)]:
        failures.append(f"bob showed {len(got)} of alice's {LINES} lines ({len(set(got))} distinct)")
    for who in ("alice", "bob"):
        with open(f"{work}/{who}.out", encoding="utf-8") as f:
            shown = f.read()
        if "mallory" in shown or "forged" in shown:
            failures.append(f"{who} showed a forged line")
    if not expired:
        failures.append("carol was never expired: forgeries kept her membership alive")
    captured = capture.datagrams()
    # Carol's socket is gone: anything the relay sent her after that answered a forgery (the
    # last lines already on their way excepted: 100 ms of grace).
    answers = [d for t, src, dst, d in captured
               if src == RELAY_PORT and dst == carol_port and t > killed_at + 0.1]
    if answers:
        print(f"answers to carol's address: {sorted({bytes(d[:12]) for d in answers})}")
        failures.append(f"the relay sent carol's address {len(answers)} datagrams after she went "
                        f"silent, in answer to forgeries")
    clear = [d for _, src, dst, d in captured
             if (RELAY_PORT in (src, dst)) and b"line 0" in d]
    if clear:
        failures.append(f"{len(clear)} datagrams carried a line's text in the clear")
    print(f"forged: {len(captured)} datagrams captured on lo; bob showed {len(got)} of {LINES} "
          f"lines; alice exit {status}; carol expired: {bool(expired)}; "
          f"answers to carol's address after the kill: {len(answers)}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
