"""trproxy behind Debian's Squid as its parent proxy (upstream.proxy): a tunnel, an intercepted
sign-in (trproxy's own TLS to nginx, verified against the test root, through Squid's CONNECT
tunnel) and a plain forward all pass through Squid, shown by Squid's own access log; a Squid
that refuses gives the client a 502 naming Squid's status."""

import unittest

import topology as t

h = t.h
env = squid = proxy = None
DENIED_HOST = "denied.example.com"


def setUpModule():
    global env, squid, proxy
    env = h.Environment()
    try:
        ports = env.nginx.ports
        denied_port = h.free_port()
        squid = t.Squid(allowed_ports=[ports["good"], ports["plain"], ports["wrongname"]], denied_ports=[denied_port])
        # upstream.resolve still applies: Squid is asked for nginx's loopback address.
        resolve = env.resolve_all()
        resolve["plain.example.com"] = f"127.0.0.1:{ports['plain']}"
        resolve[DENIED_HOST] = f"127.0.0.1:{denied_port}"
        proxy = env.proxy("behind-squid", resolve=resolve, parent=f"127.0.0.1:{squid.port}")
    except BaseException:
        if squid:
            squid.stop()
        env.close()
        raise


def tearDownModule():
    try:
        env.close()
    finally:
        squid.stop()


class BehindSquid(unittest.TestCase):
    def test_tunnel_through_squid(self):
        code, body, err = h.curl(proxy, f"https://{h.OTHER_HOST}/squid-tunnel", cacert=env.pki.root_crt)
        self.assertEqual(code, 0, err)
        self.assertEqual(h.echo_fields(body)["uri"], "/squid-tunnel")
        lines = squid.wait_logged(f"CONNECT 127.0.0.1:{env.nginx.ports['good']}")
        self.assertIn("TCP_TUNNEL/200", lines[0])

    def test_sign_in_verified_end_to_end_through_squid(self):
        before = len(squid.logged())
        # A proxy of its own: trproxy pools the verified upstream connection (inside Squid's
        # tunnel), and Squid logs a tunnel when it closes, which is when this proxy stops.
        with env.proxy("squid-sign-in", resolve=env.resolve_all(), parent=f"127.0.0.1:{squid.port}") as p:
            code, body, err = h.curl(p, f"https://{h.AUTH_HOSTS[0]}/common/oauth2/squid", cacert=env.ca_crt)
        self.assertEqual(code, 0, err)
        self.assertEqual(h.echo_fields(body)["strap"], h.V2_VALUE)
        # Squid saw only an opaque CONNECT: trproxy's TLS to nginx ran inside it.
        h.wait_until(lambda: len(squid.logged()) > before, what="Squid logging the sign-in tunnel")
        new = squid.logged()[before:]
        self.assertTrue(any(f"CONNECT 127.0.0.1:{env.nginx.ports['good']}" in line for line in new), new)
        self.assertFalse(any("/common/oauth2" in line for line in new), new)

    def test_sign_in_upstream_verification_still_applies_through_squid(self):
        resolve = env.resolve_all("wrongname")
        with env.proxy("squid-wrongname", resolve=resolve, parent=f"127.0.0.1:{squid.port}") as p:
            code, body, err = h.curl(p, f"https://{h.AUTH_HOSTS[0]}/", "-w", "%{http_code}", cacert=env.ca_crt)
        self.assertTrue(body.endswith("502"), body)
        self.assertIn(f"upstream {h.AUTH_HOSTS[0]}:443: certificate verification failed: ", body)
        squid.wait_logged(f"CONNECT 127.0.0.1:{env.nginx.ports['wrongname']}")

    def test_plain_forward_through_squid(self):
        code, body, err = h.curl(proxy, "http://plain.example.com/squid-forward")
        self.assertEqual(code, 0, err)
        self.assertEqual(h.echo_fields(body)["uri"], "/squid-forward")
        squid.wait_logged(f"CONNECT 127.0.0.1:{env.nginx.ports['plain']}")

    def test_squid_refusal_is_a_502_naming_its_status(self):
        status, _, body = h.raw_request(proxy, f"CONNECT {DENIED_HOST}:443 HTTP/1.1\r\nHost: {DENIED_HOST}:443\r\n\r\n"
                                        .encode())
        self.assertEqual(status, 502)
        self.assertIn(b"parent proxy refused CONNECT: 403 Forbidden", body)
        squid.wait_logged("TCP_DENIED/403")


if __name__ == "__main__":
    unittest.main()
