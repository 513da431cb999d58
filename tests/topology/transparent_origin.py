"""The upstream side of the transparent-gateway topology, run inside its own network namespace:
HTTPS on port 443 (IPv4 and IPv6, every address of the namespace) with a certificate from the
test root, and a UDP echo on 443 (so a QUIC packet that got through would be answered).

Every TLS connection is recorded as one JSON line in the log: the local address it arrived on,
the SNI, and each request head. GET /bytes/N answers N deterministic bytes; anything else answers
the request head it received, as text/html (Chromium dumps it)."""

import json
import socket
import socketserver
import ssl
import sys
import threading

CERT, KEY, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()


def record(entry):
    with lock, open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def pattern(size):
    block = bytes(range(256)) * 256
    return (block * (size // len(block) + 1))[:size]


class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(CERT, KEY)
        seen = {"sni": None}
        context.sni_callback = lambda sock, name, ctx: seen.update(sni=name)
        local = self.request.getsockname()[0].removeprefix("::ffff:")
        self.request.settimeout(20)
        try:
            tls = context.wrap_socket(self.request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            record({"local": local, "sni": seen["sni"], "handshake": str(e)})
            return
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, data = data.split(b"\r\n\r\n", 1)
            text = head.decode("latin-1")
            record({"local": local, "sni": seen["sni"], "head": text})
            path = text.split(" ")[1]
            if path.startswith("/bytes/"):
                body = pattern(int(path.rsplit("/", 1)[1]))
                kind = "application/octet-stream"
            else:
                body = ("<html><body><pre>" + text + "\n</pre></body></html>").encode("latin-1")
                kind = "text/html"
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + kind.encode() + b"\r\nContent-Length: " +
                        str(len(body)).encode() + b"\r\n\r\n" + body)


def udp_echo():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 443))
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


threading.Thread(target=udp_echo, daemon=True).start()
server = Server(("::", 443), Handler)
print("origin ready", flush=True)
server.serve_forever()
