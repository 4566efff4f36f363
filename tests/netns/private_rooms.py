#!/usr/bin/env python3
"""A private room across two nodes and a real nats-server, inside a network namespace of its own.

Two serve nodes share room `ops` through nats-server. Alice (on node A) posts lines; bob (on
node B) reads them. A packet
socket captures everything on lo: the UDP datagrams of both nodes and the NATS TCP connections.
An outsider without the key is refused on node B, and a node where `ops` is open hears nothing of
it. Passes when: bob shows every line once and in order; no frame on lo, and neither relay's log,
holds any line's text; the capture did see the lines cross NATS (as ciphertext); the outsider is
refused and receives nothing; the open room's member on node C never gets a private line. Run by
private_rooms.sh, which makes the namespace.

Usage: private_rooms.py UDPCHAT_BINARY NATS_SERVER
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

NATS_PORT = 14222
LINES = 30


class Capture(threading.Thread):
    """Every IPv4 frame on lo, whole: UDP datagrams and the NATS TCP stream alike."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.1)
        self.frames = []
        self.running = True
        self.lock = threading.Lock()

    def run(self):
        while self.running:
            try:
                frame = self.sock.recv(70000)
            except socket.timeout:
                continue
            with self.lock:
                self.frames.append(frame)

    def all(self):
        with self.lock:
            return list(self.frames)


def wait_for(predicate, seconds, what):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if predicate():
            return
        time.sleep(0.05)
    raise SystemExit(f"FAIL: {what} within {seconds} s")


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def main(procs):
    udpchat, nats_server = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = dict(os.environ, XDG_STATE_HOME=f"{work}/state", XDG_CONFIG_HOME=f"{work}/config")
    capture = Capture()
    capture.start()
    nats = subprocess.Popen([nats_server, "-a", "127.0.0.1", "-p", str(NATS_PORT)],
                            stdout=subprocess.DEVNULL, stderr=open(f"{work}/nats.log", "w"))
    procs.append(nats)
    key = f"{work}/ops.key"
    subprocess.run([udpchat, "keygen", key], check=True, env=env, stderr=subprocess.DEVNULL)

    def node(name):
        port_file = f"{work}/{name}.port"
        serve = subprocess.Popen(
            [udpchat, "serve", "--bind", "127.0.0.1:0", "--port-file", port_file,
             "--key-file", f"{work}/{name}-relay.key", "--backplane",
             f"nats://127.0.0.1:{NATS_PORT}", "--log-format", "json"],
            stderr=open(f"{work}/{name}.log", "w"), env=env)
        procs.append(serve)
        wait_for(lambda: os.path.exists(port_file) and read(port_file).strip(), 10,
                 f"node {name} listening")
        wait_for(lambda: "backplane connected" in read(f"{work}/{name}.log"), 10,
                 f"node {name} connected to nats-server")
        return f"127.0.0.1:{read(port_file).strip()}"

    a, b, c = node("a"), node("b"), node("c")

    def chat(nick, target, *extra, stdin=None):
        out = open(f"{work}/{nick}.out", "w")
        proc = subprocess.Popen([udpchat, "chat", "--json", "--nick", nick, *extra, target],
                                stdin=stdin, stdout=out, stderr=subprocess.STDOUT, env=env)
        procs.append(proc)
        return proc

    def joined(nick):
        return lambda: '"type":"joined"' in read(f"{work}/{nick}.out")

    bob = chat("bob", b, "--listen", "--room", "ops", "--room-key-file", key)
    # On node C the name is open: that node must never hear the private room.
    olga = chat("olga", c, "--listen", "--room", "ops")
    wait_for(joined("bob"), 10, "bob joined on node B")
    wait_for(joined("olga"), 10, "olga joined the open ops on node C")
    alice = chat("alice", a, "--room", "ops", "--room-key-file", key, stdin=subprocess.PIPE)
    wait_for(joined("alice"), 10, "alice joined on node A")
    time.sleep(0.5)  # the nodes' subscriptions reach the engine
    texts = [f"zebra secret {i:03}" for i in range(LINES)]
    for text in texts:
        alice.stdin.write(f"{text}\n".encode())
        alice.stdin.flush()
        time.sleep(0.02)
    alice.stdin.close()
    status = alice.wait(60)

    def bob_got():
        return [json.loads(line)["text"] for line in read(f"{work}/bob.out").splitlines()
                if '"type":"message"' in line]

    try:
        wait_for(lambda: len(bob_got()) >= LINES, 20, "bob showed every line")
    except SystemExit as stop:
        print(stop)
    # Without the key, on node B: refused, and nothing of the room follows.
    outsider = chat("eve", b, "--room", "ops", "-m", "let me in")
    eve_status = outsider.wait(20)
    time.sleep(0.5)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(10)
    capture.running = False
    capture.join()

    failures = []
    got = bob_got()
    if status != 0:
        failures.append(f"alice exited {status}")
    if got != texts:
        failures.append(f"bob showed {len(got)} of {LINES} lines ({len(set(got))} distinct)")
    if eve_status != 8:
        failures.append(f"the outsider without the key exited {eve_status}, not 8 (not admitted)")
    eve = read(f"{work}/eve.out")
    for secret in ("zebra", "alice", "bob", "~1 "):
        if secret in eve:
            failures.append(f"the outsider saw {secret!r}")
    olga_out = read(f"{work}/olga.out")
    if "~1 " in olga_out or "zebra" in olga_out:
        failures.append("node C, where ops is open, relayed the private room's lines")
    frames = capture.all()
    clear = [f for f in frames if b"zebra" in f]
    if clear:
        failures.append(f"{len(clear)} frames on lo held a line's text in the clear")
    # The capture must have seen the room cross NATS, sealed: else it proves nothing.
    over_nats = [f for f in frames if b"PUB udpchat.room.ops." in f or b"MSG udpchat.room.ops." in f]
    if not over_nats:
        failures.append("the capture saw no private room line cross the NATS connection")
    for name in ("a", "b", "c"):
        if "zebra" in read(f"{work}/{name}.log"):
            failures.append(f"node {name}'s log holds a line's text")
    print(f"private rooms: {len(frames)} frames captured on lo, {len(over_nats)} of them room "
          f"lines on NATS; bob showed {len(got)} of {LINES}; alice exit {status}; "
          f"outsider exit {eve_status}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    started = []
    try:
        sys.exit(main(started))
    finally:
        # A failure on the way must not leave a node or the engine running.
        for child in started:
            if child.poll() is None:
                child.kill()
