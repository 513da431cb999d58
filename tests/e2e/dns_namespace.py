"""A private network and mount namespace for DNS tests and benches: `lo` up with two extra
addresses (10.77.0.53 for the DNS server, 10.77.0.2 for upstream servers) and /etc/resolv.conf
bind-mounted to name 10.77.0.53. Nothing leaves the namespace. Needs root and unshare(1).

run_inside(folder, argv) runs argv (a Python script and its arguments) in a fresh namespace and
returns the CompletedProcess."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

DNS_ADDRESS = "10.77.0.53"
UPSTREAM_ADDRESS = "10.77.0.2"

SETUP = r"""
set -e
ip link set lo up
ip addr add 10.77.0.53/32 dev lo
ip addr add 10.77.0.2/32 dev lo
mount --make-rprivate /
mount --bind "$1/resolv.conf" /etc/resolv.conf
shift
exec "$@"
"""


def available():
    return os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("ip") is not None


def run_inside(folder, argv, timeout):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "resolv.conf"), "w") as f:
        f.write(f"nameserver {DNS_ADDRESS}\noptions timeout:5 attempts:2\n")
    return subprocess.run(["unshare", "-nm", "bash", "-c", SETUP, "netns", folder, sys.executable, *argv],
                          capture_output=True, text=True, timeout=timeout)


class TcpSink:
    """Accepts connections on (address, port) and holds them open until closed."""

    def __init__(self, address, port=443):
        self.listener = socket.create_server((address, port), backlog=1024)
        self.accepted = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.listener.close()
        for conn in self.accepted:
            conn.close()


def connect_all(proxy_port, names, deadline, port=443):
    """Sends a CONNECT for every name at once (one connection each), then reads every answer.
    Returns [(status line, body text)] in the order of names, and the seconds until the last
    answer arrived."""
    started = time.monotonic()
    sockets = []
    for name in names:
        s = socket.create_connection(("127.0.0.1", proxy_port), timeout=deadline)
        s.sendall(f"CONNECT {name}:{port} HTTP/1.1\r\nHost: {name}:{port}\r\n\r\n".encode())
        sockets.append(s)
    answers = []
    for s in sockets:
        data = b""
        end = time.monotonic() + deadline
        while b"\r\n\r\n" not in data and time.monotonic() < end:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n")[0] + b" ":
            s.settimeout(2)
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    body += chunk
            except OSError:
                pass
        answers.append((head.split(b"\r\n")[0].decode(errors="replace"), body.decode(errors="replace")))
    elapsed = time.monotonic() - started
    for s in sockets:
        s.close()
    return answers, elapsed
