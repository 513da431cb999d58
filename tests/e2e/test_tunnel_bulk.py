"""Blind tunnels carry bulk bytes intact (the splice(2) relay): large transfers each way with
checksums (curl downloading a file from nginx, a Python TLS server taking an upload and sending a
download, a plain server doing both at once), half-close in each direction, the idle timeout,
and the byte counts in the access log."""

import hashlib
import os
import re
import socket
import threading
import time
import unittest

import harness as h

env = proxy = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())

SIZE = 24 * 1024 * 1024
BURST = 8 * 1024 * 1024  # many times one relay burst (16 x 64 KiB)
TLS_HOST = "plain.example.com"  # in the test PKI's good certificate, tunnelled (not a sign-in host)
DUPLEX_HOST = "duplex.example.com"
IDLE_TIMEOUT_S = 1.0


def recv_exactly(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(1 << 20, n - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_until_eof(sock):
    digest, count = hashlib.sha256(), 0
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return digest.digest(), count
        digest.update(chunk)
        count += len(chunk)


def send_random(sock, n):
    """Sends n random bytes in pieces; returns their sha256."""
    digest, left = hashlib.sha256(), n
    while left:
        piece = os.urandom(min(1 << 20, left))
        digest.update(piece)
        sock.sendall(piece)
        left -= len(piece)
    return digest.digest()


class UpDownServer(h.PythonUpstream):
    """TLS, one request at a time: `UP n` is answered by the sha256 of the n bytes that follow;
    `DOWN n` by n random bytes and then their sha256."""

    def handle(self, sock):
        reader = sock.makefile("rb")
        while True:
            line = reader.readline()
            if not line:
                return
            verb, count = line.split()
            count = int(count)
            if verb == b"UP":
                digest, left = hashlib.sha256(), count
                while left:
                    chunk = reader.read(min(1 << 20, left))
                    if not chunk:
                        return
                    digest.update(chunk)
                    left -= len(chunk)
                sock.sendall(digest.digest())
            else:
                sock.sendall(send_random(sock, count))


class DuplexServer(h.PythonUpstream):
    """Plain TCP. `BOTH n`: sends n random bytes while reading until the client's EOF (a
    half-close), then sends the sha256 of what it sent and of what it read, and closes.
    `FIRST n`: sends n random bytes and half-closes, then reads until EOF; what it read is
    recorded in `received` under the line's token. `HOLD n`: the same without the half-close.
    Every line ends with a token."""

    def __init__(self):
        self.received = {}  # token of the request line -> (sha256, byte count) read until EOF
        self.sent = {}  # token -> sha256 of the bytes sent, once all of them were handed to the kernel
        super().__init__()

    def handle(self, sock):
        line = b""
        while not line.endswith(b"\n"):  # byte by byte: what follows is read from the socket itself
            chunk = sock.recv(1)
            if not chunk:
                return
            line += chunk
        verb, count, token = line.split()
        count = int(count)
        if verb == b"BOTH":
            sent = {}
            sender = threading.Thread(target=lambda: sent.update(digest=send_random(sock, count)))
            sender.start()
            read_digest, _ = recv_until_eof(sock)  # ends only if the client's half-close came through
            sender.join()
            sock.sendall(sent["digest"] + read_digest)
        else:
            self.sent[token.decode()] = send_random(sock, count)
            if verb == b"FIRST":
                sock.shutdown(socket.SHUT_WR)
            self.received[token.decode()] = recv_until_eof(sock)


class BulkTunnels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tls_server = UpDownServer(tls_cert=env.pki.good)
        cls.duplex = DuplexServer()
        resolve = env.resolve_all()
        resolve[TLS_HOST] = cls.tls_server.address
        resolve[DUPLEX_HOST] = cls.duplex.address
        cls.proxy = env.proxy("bulk", resolve=resolve)
        # The idle timeout's own proxy: on the bulk one, a one-second bound would also end a
        # tunnel whose client is slow to start reading on a loaded machine.
        cls.idle_proxy = env.proxy("bulk-idle", resolve=resolve,
                                   extra=f"limits:\n  tunnel_idle_timeout: {int(IDLE_TIMEOUT_S * 1000)}ms\n")

    @classmethod
    def tearDownClass(cls):
        cls.tls_server.close()
        cls.duplex.close()

    def tunnel_lines(self, host, count, proxy=None):
        def logged():
            lines = [l for l in (proxy or self.proxy).access_lines() if "action=tunnel" in l and host in l]
            return lines if len(lines) >= count else None

        return h.wait_until(logged, what=f"{count} tunnel line(s) for {host} in the access log")

    def test_curl_downloads_a_large_file_from_nginx_intact(self):
        files = os.path.join(env.nginx.dir, "files")
        os.makedirs(files, exist_ok=True)
        data = os.urandom(SIZE)
        with open(os.path.join(files, "big.bin"), "wb") as f:
            f.write(data)
        out = os.path.join(env.dir, "big.out")
        code, _, err = h.curl(self.proxy, f"https://{h.OTHER_HOST}/files/big.bin", "-o", out,
                              cacert=env.pki.root_crt)
        self.assertEqual(code, 0, err)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(data).hexdigest())
        line = self.tunnel_lines(h.OTHER_HOST, 1)[-1]
        self.assertGreater(int(re.search(r"bytes_out=(\d+)", line).group(1)), SIZE)

    def test_tls_upload_then_download_intact(self):
        with h.tls_through(self.proxy, TLS_HOST, env.pki.root_crt) as tls:
            tls.settimeout(h.DEADLINE)
            tls.sendall(f"UP {SIZE}\n".encode())
            sent = send_random(tls, SIZE)
            self.assertEqual(recv_exactly(tls, 32), sent, "the upload arrived changed")
            tls.sendall(f"DOWN {SIZE}\n".encode())
            received = recv_exactly(tls, SIZE)
            self.assertEqual(len(received), SIZE)
            self.assertEqual(recv_exactly(tls, 32), hashlib.sha256(received).digest(), "the download arrived changed")
        line = self.tunnel_lines(TLS_HOST, 1)[-1]
        self.assertGreater(int(re.search(r"bytes_in=(\d+)", line).group(1)), SIZE)
        self.assertGreater(int(re.search(r"bytes_out=(\d+)", line).group(1)), SIZE)

    def test_both_ways_at_once_and_the_client_half_close(self):
        s, status = h.connect_tunnel(self.proxy, f"{DUPLEX_HOST}:443")
        with s:
            self.assertIn(" 200 ", status)
            s.settimeout(h.DEADLINE)
            s.sendall(f"BOTH {SIZE} both\n".encode())
            sent = {}

            def upload():
                sent["digest"] = send_random(s, SIZE)
                s.shutdown(socket.SHUT_WR)  # the server answers only after seeing this EOF

            uploader = threading.Thread(target=upload)
            uploader.start()
            received = recv_exactly(s, SIZE + 64)
            uploader.join()
        self.assertEqual(len(received), SIZE + 64, "the tunnel ended early")
        data, trailer = received[:SIZE], received[SIZE:]
        self.assertEqual(trailer[:32], hashlib.sha256(data).digest(), "the download arrived changed")
        self.assertEqual(trailer[32:], sent["digest"], "the upload arrived changed")

    def test_server_half_close_keeps_the_client_direction_open(self):
        s, status = h.connect_tunnel(self.proxy, f"{DUPLEX_HOST}:443")
        with s:
            self.assertIn(" 200 ", status)
            s.settimeout(h.DEADLINE)
            s.sendall(b"FIRST 1048576 half-close\n")
            _, count = recv_until_eof(s)  # the server's FIN came through
            self.assertEqual(count, 1048576)
            sent = send_random(s, SIZE)  # and this direction still works
            s.shutdown(socket.SHUT_WR)
            h.wait_until(lambda: "half-close" in self.duplex.received, what="the server to read until EOF")
        self.assertEqual(self.duplex.received["half-close"], (sent, SIZE))

    def test_a_burst_already_buffered_arrives_whole_without_more_input(self):
        # The client reads nothing until the server has handed all its bytes to the kernel, so
        # most of them sit readable in the proxy's socket with no more to come: the relay must
        # go on past one burst's share without waiting for new input (none arrives).
        s, status = h.connect_tunnel(self.proxy, f"{DUPLEX_HOST}:443")
        with s:
            self.assertIn(" 200 ", status)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            s.sendall(f"HOLD {BURST} burst\n".encode())
            h.wait_until(lambda: "burst" in self.duplex.sent, what="the server to hand over every byte")
            s.settimeout(h.DEADLINE)
            received = recv_exactly(s, BURST)
        self.assertEqual(len(received), BURST, "the tunnel stalled with bytes buffered")
        self.assertEqual(hashlib.sha256(received).digest(), self.duplex.sent["burst"])

    def test_idle_tunnel_is_closed_after_the_idle_timeout(self):
        s, status = h.connect_tunnel(self.idle_proxy, f"{DUPLEX_HOST}:443")
        with s:
            self.assertIn(" 200 ", status)
            s.sendall(b"HOLD 10 idle\n")
            self.assertEqual(len(recv_exactly(s, 10)), 10)
            start = time.monotonic()
            s.settimeout(h.DEADLINE)
            try:
                rest = s.recv(100)  # both sides stay silent: only the proxy can end this
            except ConnectionResetError:
                rest = b""
            waited = time.monotonic() - start
        self.assertEqual(rest, b"")
        self.assertLess(waited, (IDLE_TIMEOUT_S + 5) * h.TIME_SCALE)
        self.assertGreater(waited, IDLE_TIMEOUT_S * 0.5)
        self.tunnel_lines(DUPLEX_HOST, 1, self.idle_proxy)

if __name__ == "__main__":
    unittest.main()
