#!/usr/bin/python3
"""A sealed udpchat client built on dissononce (Debian's python3-dissononce), an independent
Noise implementation: against a running `udpchat serve` it asks for a cookie, completes the
Noise_NK_25519_ChaChaPoly_BLAKE2b (suite 1) or Noise_NK_25519_AESGCM_BLAKE2b (suite 2)
handshake with dissononce, posts one sealed line and opens the relay's sealed echo of it. Only
the frames (docs/protocol.md, "Sealed sessions") are written here; every key, hash and cipher
operation is dissononce's.

Usage: dissononce_client.py HOST PORT [SUITE]
Exit 0 when the echo opened and said the line; 77 when dissononce is not installed or the
relay does not offer the suite (a CPU without AES instructions).
"""

import base64
import os
import socket
import struct
import sys

try:
    from dissononce.cipher.aesgcm import AESGCMCipher
    from dissononce.cipher.chachapoly import ChaChaPolyCipher
    from dissononce.dh.x25519.public import PublicKey
    from dissononce.dh.x25519.x25519 import X25519DH
    from dissononce.hash.blake2b import Blake2bHash
    from dissononce.processing.handshakepatterns.interactive.NK import NKHandshakePattern
    from dissononce.processing.impl.cipherstate import CipherState
    from dissononce.processing.impl.handshakestate import HandshakeState
    from dissononce.processing.impl.symmetricstate import SymmetricState
except ImportError:
    print("SKIPPED: python3-dissononce is not installed")
    sys.exit(77)

HELLO, WELCOME, SEALED = 0xF5, 0xF6, 0xF7
HELLO_BYTES = 320
PROLOGUE = b"udpchat sealed 1"


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    suite = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3)
    sock.connect((host, port))

    # The cookie, in the clear; a sealed-size request (160 bytes for suite 1, 192 for suite 2
    # as well), so the answer names the relay's key and the suite it offers.
    sock.send(b"reg" + b" " * (157 if suite == 1 else 189))
    fields = sock.recv(2048).decode().split()
    assert fields[0] == "cookie", fields
    token = fields[1]
    offer = [f for f in fields if f.startswith("+s")]
    assert offer, f"no sealed dialect offered: {fields}"
    if offer[0][:4] != f"+s{suite}=":
        print(f"SKIPPED: the relay offers {offer[0][:3]}, not suite {suite}")
        return 77
    relay_key = base64.urlsafe_b64decode(offer[0][4:] + "=")

    # hello: F5 'u' suite | sender u32 | cookie length | cookie | Noise message 1
    sender = int.from_bytes(os.urandom(4), "little")
    header = bytes([HELLO, ord("u"), suite]) + struct.pack("<I", sender) + bytes([len(token)]) + token.encode()
    cipher = ChaChaPolyCipher() if suite == 1 else AESGCMCipher()
    handshake = HandshakeState(SymmetricState(CipherState(cipher), Blake2bHash()), X25519DH())
    handshake.initialize(NKHandshakePattern(), True, PROLOGUE + header, rs=PublicKey(relay_key))
    payload = f"reg {token} dissononce".encode()
    payload += b" " * (HELLO_BYTES - len(header) - 48 - len(payload))
    message = bytearray()
    handshake.write_message(payload, message)
    sock.send(header + bytes(message))

    # welcome: F6 'u' suite | receiver u32 | sender u32 | Noise message 2
    welcome = sock.recv(2048)
    assert welcome[0] == WELCOME and welcome[1:3] == bytes([ord("u"), suite]), welcome[:3]
    receiver, relay_index = struct.unpack("<II", welcome[3:11])
    assert receiver == sender
    said = bytearray()
    to_relay, to_client = handshake.read_message(welcome[11:], said)
    print(f"dissononce: {cipher.name} handshake done; the relay said {bytes(said).split(b' ')[0].decode()!r}")
    assert bytes(said).startswith(b"welcome ")

    # One sealed line: F7 | receiver u32 | counter u64 | AEAD(text), the header its AD; the
    # counter is the nonce.
    line = "sealed by an independent implementation"
    sealed_header = bytes([SEALED]) + struct.pack("<IQ", relay_index, 0)
    to_relay.set_nonce(0)
    sock.send(sealed_header + to_relay.encrypt_with_ad(sealed_header, line.encode()))

    while True:
        frame = sock.recv(4096)
        if frame[0] != SEALED:
            continue
        got_receiver, counter = struct.unpack("<IQ", frame[1:13])
        assert got_receiver == sender
        to_client.set_nonce(counter)
        text = to_client.decrypt_with_ad(frame[:13], frame[13:]).decode()
        if text.endswith("\n" + line + "\n"):
            print(f"dissononce: the relay's sealed echo opened: {text.splitlines()[0]!r}")
            quit_header = bytes([SEALED]) + struct.pack("<IQ", relay_index, 1)
            to_relay.set_nonce(1)
            sock.send(quit_header + to_relay.encrypt_with_ad(quit_header, b"quit"))
            return 0


if __name__ == "__main__":
    sys.exit(main())
