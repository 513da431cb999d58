#!/usr/bin/env python3
"""Captures the first bytes (the ClientHello) that real TLS clients send, for the unit tests.

A TCP listener on 127.0.0.1 records what each client sends until the hello is whole, then
closes; each client is pointed at it under a sign-in host name (Chromium through
--host-resolver-rules, curl through --resolve, openssl s_client through -servername), so nothing
leaves loopback. Writes client_hello_<client>.bin next to this script (or into --out) and prints
each hello's size and whether it offers the post-quantum group X25519MLKEM768 (0x11EC).

    python3 tests/data/capture_client_hellos.py [--out DIR] [chromium curl openssl]
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading

DEADLINE = 20.0
HOST = "login.microsoftonline.com"
X25519MLKEM768 = 0x11EC


def hello_complete(data):
    """True once `data` holds whole TLS records carrying a whole handshake message."""
    message, i = b"", 0
    while i + 5 <= len(data):
        length = struct.unpack(">H", data[i + 3:i + 5])[0]
        if i + 5 + length > len(data):
            return False
        message += data[i + 5:i + 5 + length]
        i += 5 + length
        if len(message) >= 4 and len(message) >= 4 + int.from_bytes(message[1:4], "big"):
            return i == len(data)
    return False


def groups_offered(hello):
    """The supported_groups and key_share groups of a single-record ClientHello."""
    body = hello[9:]
    p = 2 + 32
    p += 1 + body[p]
    p += 2 + struct.unpack(">H", body[p:p + 2])[0]
    p += 1 + body[p]
    end = p + 2 + struct.unpack(">H", body[p:p + 2])[0]
    p += 2
    supported, shares = [], []
    while p < end:
        kind, length = struct.unpack(">HH", body[p:p + 4])
        data = body[p + 4:p + 4 + length]
        if kind == 10:
            supported = [struct.unpack(">H", data[2 + i:4 + i])[0] for i in range(0, len(data) - 2, 2)]
        if kind == 51:
            q = 2
            while q < len(data):
                group, size = struct.unpack(">HH", data[q:q + 4])
                shares.append(group)
                q += 4 + size
        p += 4 + length
    return supported, shares


def capture(command_for):
    """Runs command_for(port) against a one-shot recording listener; returns the hello bytes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(DEADLINE)
    port = listener.getsockname()[1]
    received = {}

    def accept():
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(DEADLINE)
            data = b""
            while not hello_complete(data):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            received["hello"] = data

    thread = threading.Thread(target=accept)
    thread.start()
    client = subprocess.Popen(command_for(port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    thread.join(DEADLINE)
    client.kill()
    client.wait(DEADLINE)
    listener.close()
    if "hello" not in received:
        raise RuntimeError("no ClientHello received from " + " ".join(command_for(port)))
    return received["hello"]


def chromium(port):
    return ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + tempfile.mkdtemp(prefix="hello-chromium-"),
            f"--host-resolver-rules=MAP {HOST} 127.0.0.1:{port}", f"https://{HOST}/"]


def curl(port):
    return ["curl", "-sS", "--max-time", "10", "--noproxy", "*",
            "--connect-to", f"login.live.com:443:127.0.0.1:{port}", "https://login.live.com/"]


def openssl(port):
    return ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", HOST]


CLIENTS = {"chromium": chromium, "curl": curl, "openssl": openssl}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("clients", nargs="*", default=list(CLIENTS))
    args = parser.parse_args()
    for name in args.clients:
        hello = capture(CLIENTS[name])
        path = os.path.join(args.out, f"client_hello_{name}.bin")
        with open(path, "wb") as f:
            f.write(hello)
        supported, shares = groups_offered(hello)
        pq = X25519MLKEM768 in supported and X25519MLKEM768 in shares
        print(f"{path}: {len(hello)} bytes, X25519MLKEM768 (0x11EC) key share: {'yes' if pq else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
