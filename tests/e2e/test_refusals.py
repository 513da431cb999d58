"""What trproxy refuses, with which status, and proof that nothing reached the upstream."""

import ssl
import unittest

import harness as h

env = proxy = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals(), proxy={})


def intercepted_request(raw, host=h.AUTH_HOSTS[0]):
    """Sends raw request bytes inside an intercepted connection; returns (status, body)."""
    with h.tls_through(proxy, host, env.ca_crt) as tls:
        tls.sendall(raw)
        status, _, body = h.read_response(tls)
        return status, body.decode(errors="replace")


class Refusals(unittest.TestCase):
    def assert_refused_and_not_forwarded(self, raw, expected_status):
        before = env.nginx.seen_settled("good")
        status, body = intercepted_request(raw)
        self.assertEqual(status, expected_status, body)
        self.assertEqual(body.count("\n"), 1, "one-line reason")
        self.assertEqual(env.nginx.seen_settled("good"), before, "nothing may reach the upstream")

    def test_ambiguous_heads_get_400_and_are_never_forwarded(self):
        host = h.AUTH_HOSTS[0]
        start = f"POST /t HTTP/1.1\r\nHost: {host}\r\n"
        cases = {
            "obs-fold": f"GET / HTTP/1.1\r\nHost: {host}\r\nX-A: 1\r\n folded\r\n\r\n",
            "space before colon": f"GET / HTTP/1.1\r\nHost: {host}\r\nX-A : 1\r\n\r\n",
            "bare LF": f"GET / HTTP/1.1\nHost: {host}\n\n",
            "bare CR": f"GET / HTTP/1.1\r\nHost: {host}\r\nX-A: 1\rX: 2\r\n\r\n",
            "NUL": f"GET / HTTP/1.1\r\nHost: {host}\r\nX-A: a\0b\r\n\r\n",
            "CL and TE": start + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "TE and CL": start + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            "conflicting CL": start + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "CL list": start + "Content-Length: 5, 5\r\n\r\nhello",
            "CL sign": start + "Content-Length: +5\r\n\r\nhello",
            "CL overflow": start + "Content-Length: 99999999999999999999999\r\n\r\n",
            "TE gzip": start + "Transfer-Encoding: gzip\r\n\r\n",
            "TE twice": start + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "TE list": start + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            "two Hosts": f"GET / HTTP/1.1\r\nHost: {host}\r\nHost: {host}\r\n\r\n",
            "non-ASCII host": "GET / HTTP/1.1\r\nHost: l\xf6gin.microsoftonline.com\r\n\r\n",
        }
        for name, raw in cases.items():
            with self.subTest(case=name):
                self.assert_refused_and_not_forwarded(raw.encode("latin-1"), 400)

    def test_bad_chunked_body_closes_both_and_forwards_nothing_after_the_fault(self):
        host = h.AUTH_HOSTS[0]
        raw = (f"POST /echo-body/c HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n0x5\r\nworld\r\n0\r\n\r\n"
               f"GET /smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n").encode()
        with h.tls_through(proxy, host, env.ca_crt) as tls:
            tls.sendall(raw)
            data = h.read_all_until_close(tls)
        self.assertNotIn(b"200 OK", data)
        self.assertFalse(any("/smuggled" in line for line in env.nginx.seen_settled("good")))

    def test_host_other_than_the_intercepted_one_gets_421(self):
        self.assert_refused_and_not_forwarded(
            f"GET / HTTP/1.1\r\nHost: {h.MSA_HOST}\r\n\r\n".encode(), 421)
        self.assert_refused_and_not_forwarded(
            f"GET / HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}.evil.test\r\n\r\n".encode(), 421)

    def test_default_port_in_host_is_accepted(self):
        status, body = intercepted_request(
            f"GET / HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0].upper()}:443\r\nConnection: close\r\n\r\n".encode())
        self.assertEqual(status, 200)

    def test_head_over_64k_gets_431(self):
        raw = f"GET / HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\nX-Big: {'a' * 66000}\r\n\r\n".encode()
        self.assert_refused_and_not_forwarded(raw, 431)

    def test_blocked_host_gets_403(self):
        s, status = h.connect_tunnel(proxy, f"{h.BLOCKED_HOST}:443")
        s.close()
        self.assertTrue(status.startswith("HTTP/1.1 403"), status)
        code, body, _ = h.curl(proxy, f"http://{h.BLOCKED_HOST}/")
        self.assertIn("403 Forbidden", body)

    def test_non_ascii_connect_host_gets_400(self):
        status, _, _ = h.raw_request(proxy, "CONNECT l\xf6gin.live.com:443 HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"))
        self.assertEqual(status, 400)

    def test_untrusted_upstreams_get_502_with_the_reason_and_nothing_is_forwarded(self):
        cases = {"expired": "expired", "wrongname": "hostname mismatch", "unknown": "local issuer"}
        for kind, reason in cases.items():
            with self.subTest(kind=kind):
                with env.proxy(f"bad-{kind}", resolve=env.resolve_all(kind)) as bad:
                    code, body, _ = h.curl(bad, f"https://{h.AUTH_HOSTS[0]}/x", cacert=env.ca_crt)
                    self.assertIn("502 Bad Gateway", body)
                    self.assertIn(reason, body)
                    self.assertEqual(env.nginx.seen_settled(kind), [])

    def test_unreachable_upstream_gets_502(self):
        dead = h.free_port()
        with env.proxy("dead", resolve={host: f"127.0.0.1:{dead}" for host in h.ALL_NAMES}) as bad:
            code, body, _ = h.curl(bad, f"https://{h.AUTH_HOSTS[0]}/x", cacert=env.ca_crt)
            self.assertIn("502 Bad Gateway", body)
            s, status = h.connect_tunnel(bad, f"{h.OTHER_HOST}:443")
            s.close()
            self.assertTrue(status.startswith("HTTP/1.1 502"), status)

    def test_fail_closed_when_client_does_not_speak_tls(self):
        before = env.nginx.seen_settled("good")
        s, status = h.connect_tunnel(proxy, f"{h.AUTH_HOSTS[0]}:443")
        self.assertIn(" 200 ", status)
        s.sendall(f"GET / HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\n\r\n".encode())
        data = h.read_all_until_close(s)
        s.close()
        self.assertEqual(data, b"")
        self.assertEqual(env.nginx.seen_settled("good"), before)

    def test_fail_closed_when_client_rejects_the_certificate(self):
        before = env.nginx.seen_settled("good")
        with self.assertRaises(ssl.SSLCertVerificationError):
            h.tls_through(proxy, h.AUTH_HOSTS[0], env.pki.root_crt)  # does not trust trproxy's CA
        self.assertEqual(env.nginx.seen_settled("good"), before)

    def test_denied_client_address_gets_403(self):
        with env.proxy("acl", extra="clients:\n  allow: [\"10.0.0.0/8\"]\n") as acl:
            s, status = h.connect_tunnel(acl, f"{h.AUTH_HOSTS[0]}:443")
            s.close()
            self.assertTrue(status.startswith("HTTP/1.1 403"), status)
            lines = acl.wait_access_lines(1)
            self.assertIn("action=deny", lines[-1])

    def test_origin_form_to_the_proxy_is_refused(self):
        status, _, _ = h.raw_request(proxy, b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertEqual(status, 400)


if __name__ == "__main__":
    unittest.main()
