"""PROXY protocol v1 and v2 on the proxy listener (DESIGN.md, proxy_protocol): raw headers sent
from Python as a load balancer would, so the sanitizer builds see the parser and the session
path. The HAProxy topology test (tests/topology) runs the same behind a real balancer."""

import socket
import struct
import unittest

import harness as h

env = balanced = direct = None  # set by setUpModule
# 127.0.0.1 plays the load balancer; clients.allow is narrowed so that the address the header
# names decides admission, not the balancer's.
BALANCED = ('proxy_protocol:\n  trusted: ["127.0.0.1/32"]\nlimits:\n  head_timeout: 3s\n'
            'clients:\n  allow: ["127.0.0.1/32", "192.0.2.0/24", "2001:db8::/32"]\n')
setUpModule, tearDownModule = h.module_fixtures(
    globals(),
    balanced=lambda env: {"resolve": env.resolve_all("plain"), "extra": BALANCED},
    direct=lambda env: {"resolve": env.resolve_all("plain"), "extra": 'proxy_protocol:\n  trusted: ["127.0.0.1/32"]\n'})

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
REQUEST = f"GET http://{h.OTHER_HOST}/pp HTTP/1.1\r\nHost: {h.OTHER_HOST}\r\nConnection: close\r\n\r\n".encode()


def v2(command, family, body):
    return SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


def v2_tcp4(src, sport, tlvs=b""):
    body = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, 3128)
    return v2(1, 0x11, body + tlvs)


def v2_tcp6(src, sport):
    body = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, "::1") + struct.pack("!HH", sport, 3128)
    return v2(1, 0x21, body)


def send(proxy, data, source="127.0.0.1", pieces=1):
    status, _, body = h.raw_request_from(proxy.port, data, source, pieces)
    return status, body.decode(errors="replace")


class TrustedBalancer(unittest.TestCase):
    def logged_client(self, proxy, path_marker):
        def found():
            return [line for line in proxy.access_lines() if path_marker in line]
        return h.wait_until(found, what=f"access-log line for {path_marker}")[-1]

    def test_v1_names_the_client(self):
        req = REQUEST.replace(b"/pp", b"/v1")
        status, body = send(balanced, b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 3128\r\n" + req)
        self.assertEqual(status, 200, body)
        self.assertIn("uri=/v1", body)
        self.assertIn("client=192.0.2.7:40001", self.logged_client(balanced, "path=/v1"))

    def test_v2_names_the_client_and_skips_tlvs(self):
        tlvs = bytes([0x01, 0, 8]) + b"http/1.1" + bytes([0x04, 0, 2, 0, 0])  # ALPN, NOOP
        status, body = send(balanced, v2_tcp4("192.0.2.8", 40002, tlvs) + REQUEST.replace(b"/pp", b"/v2"), pieces=7)
        self.assertEqual(status, 200, body)
        self.assertIn("client=192.0.2.8:40002", self.logged_client(balanced, "path=/v2"))

    def test_v2_ipv6_client(self):
        status, body = send(balanced, v2_tcp6("2001:db8::9", 40003) + REQUEST.replace(b"/pp", b"/v6"))
        self.assertEqual(status, 200, body)
        self.assertIn("client=[2001:db8::9]:40003", self.logged_client(balanced, "path=/v6"))

    def test_v2_local_is_the_balancer_itself(self):
        status, body = send(balanced, v2(0, 0x00, b"") + REQUEST.replace(b"/pp", b"/local"))
        self.assertEqual(status, 200, body)
        self.assertIn("client=127.0.0.1:", self.logged_client(balanced, "path=/local"))

    def test_clients_allow_applies_to_the_named_client(self):
        status, body = send(balanced, b"PROXY TCP4 203.0.113.5 127.0.0.1 40004 3128\r\n" + REQUEST)
        self.assertEqual(status, 403, body)
        self.assertIn("client address not allowed", body)
        self.assertIn("client=203.0.113.5:40004", self.logged_client(balanced, "203.0.113.5"))

    def test_connect_through_the_header(self):
        head = b"PROXY TCP4 192.0.2.10 127.0.0.1 40005 3128\r\n"
        with socket.create_connection(("127.0.0.1", balanced.port), timeout=h.DEADLINE) as s:
            s.sendall(head + f"CONNECT {h.OTHER_HOST}:443 HTTP/1.1\r\nHost: {h.OTHER_HOST}:443\r\n\r\n".encode())
            status, _, _ = h.read_head(s)
        self.assertEqual(status, 200)

    def test_missing_or_bad_header_is_400_with_reason(self):
        cases = {
            REQUEST: "does not start with a PROXY header",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 99999 3128\r\n" + REQUEST: "port is not a number",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\n" + REQUEST: "CRLF",
            v2(1, 0x12, b"x" * 12) + REQUEST: "not TCP over IPv4 or IPv6",
            v2(1, 0x11, b"x" * 12 + b"\x01\x00\x09ab") + REQUEST: "TLV runs past the header",
            SIGNATURE + b"\x21\x11\xff\xff": "larger than limits.max_head_bytes",
        }
        for data, reason in cases.items():
            with self.subTest(reason=reason):
                status, body = send(balanced, data)
                self.assertEqual(status, 400, body)
                self.assertIn("bad PROXY protocol header: ", body)
                self.assertIn(reason, body)

    def test_stalled_header_gets_408_within_the_head_deadline(self):
        with socket.create_connection(("127.0.0.1", balanced.port), timeout=h.DEADLINE) as s:
            s.sendall(b"PROXY TCP4 192.0.2.7")
            s.settimeout(h.DEADLINE)
            # limits.head_timeout is 3 s in this config.
            status, _, body = h.read_response(s)
        self.assertEqual(status, 408, body)


class UntrustedPeer(unittest.TestCase):
    def test_header_from_untrusted_peer_is_400(self):
        for data in (b"PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n" + REQUEST, v2_tcp4("192.0.2.7", 1) + REQUEST):
            with self.subTest(version=1 if data.startswith(b"PROXY") else 2):
                status, body = send(direct, data, source="127.0.0.2")
                self.assertEqual(status, 400, body)
                self.assertIn("PROXY protocol header from a peer not in proxy_protocol.trusted", body)

    def test_untrusted_peer_is_served_without_header(self):
        status, body = send(direct, REQUEST.replace(b"/pp", b"/plain"), source="127.0.0.2")
        self.assertEqual(status, 200, body)
        lines = h.wait_until(lambda: [l for l in direct.access_lines() if "path=/plain" in l], what="log line")
        self.assertIn("client=127.0.0.2:", lines[-1])


if __name__ == "__main__":
    unittest.main()
