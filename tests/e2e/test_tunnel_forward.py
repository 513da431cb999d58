"""Everything that is not intercepted: blind tunnels (the client sees the upstream's own
certificate) and plain-HTTP forwarding."""

import concurrent.futures
import unittest

import harness as h

env = proxy = plain = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(
    globals(), proxy={}, plain=lambda env: {"resolve": env.resolve_all("plain")})


class Tunnels(unittest.TestCase):
    def test_excluded_and_other_hosts_are_tunnelled_untouched(self):
        for host in h.EXCLUDED_HOSTS + [h.OTHER_HOST]:
            with self.subTest(host=host):
                # Verified against the upstream's root: the client sees nginx's own certificate.
                code, body, err = h.curl(proxy, f"https://{host}/t", "-H", "Restrict-Access-Context: mine",
                                         cacert=env.pki.root_crt)
                self.assertEqual(code, 0, err)
                seen = h.echo_fields(body)
                self.assertEqual(seen["strap"], "")
                self.assertEqual(seen["rac"], "mine")  # not ours to touch

    def test_tunnel_is_not_intercepted(self):
        code, _, err = h.curl(proxy, f"https://{h.EXCLUDED_HOSTS[0]}/", cacert=env.ca_crt)
        # 60: the peer's certificate cannot be verified. trproxy's CA does not vouch for the real
        # upstream; any other failure (proxy down, 502, ...) would not prove the tunnel is blind.
        self.assertEqual(code, 60, err)

    def test_tunnel_is_logged(self):
        h.curl(proxy, f"https://{h.OTHER_HOST}/logged", cacert=env.pki.root_crt)
        lines = proxy.wait_access_lines(1)
        self.assertTrue(any("action=tunnel" in line and h.OTHER_HOST in line for line in lines))

    def test_200_concurrent_tunnels(self):
        def one(i):
            with h.tls_through(proxy, h.OTHER_HOST, env.pki.root_crt) as tls:
                tls.sendall(f"GET /c{i} HTTP/1.1\r\nHost: {h.OTHER_HOST}\r\nConnection: close\r\n\r\n".encode())
                status, _, body = h.read_response(tls)
                return status, h.echo_fields(body.decode()).get("uri")

        with concurrent.futures.ThreadPoolExecutor(max_workers=200) as pool:
            results = list(pool.map(one, range(200)))
        self.assertEqual(results, [(200, f"/c{i}") for i in range(200)])


class PlainForward(unittest.TestCase):
    def test_sign_in_host_over_plain_http_is_rewritten(self):
        code, body, err = h.curl(plain, f"http://{h.AUTH_HOSTS[0]}/x?y=1", "-H", "Restrict-Access-To-Tenants: evil",
                                 "-H", "Proxy-Connection: keep-alive")
        self.assertEqual(code, 0, err)
        seen = h.echo_fields(body)
        self.assertEqual(seen["strap"], h.V2_VALUE)
        self.assertEqual(seen["rat"], "")
        self.assertEqual(seen["uri"], "/x?y=1")  # origin-form upstream
        self.assertEqual(seen["proxyconn"], "")

    def test_other_host_is_forwarded_untouched_except_proxy_fields(self):
        code, body, err = h.curl(plain, f"http://{h.OTHER_HOST}/o", "-H", "Restrict-Access-Context: mine",
                                 "-H", "Proxy-Connection: keep-alive")
        seen = h.echo_fields(body)
        self.assertEqual(seen["rac"], "mine")
        self.assertEqual(seen["proxyconn"], "")
        self.assertEqual(seen["strap"], "")

    def test_forward_keep_alive_and_bodies(self):
        body = "a=" + "b" * 3000
        code, out, err = h.curl(plain, f"http://{h.AUTH_HOSTS[1]}/echo-body/1", "--data-binary", body)
        self.assertEqual(h.echo_fields(out)["body"], body)
        urls = [f"http://{h.OTHER_HOST}/k{i}" for i in range(3)]
        code, out, err = h.curl(plain, urls[0], *urls[1:], "-w", "connects=%{num_connects}\n")
        self.assertEqual(out.count("connects=0"), 2, out)
        self.assertIn("requests=3", out)

    def test_forward_host_mismatch_for_sign_in_host_gets_421(self):
        status, _, _ = h.raw_request(plain, f"GET http://{h.AUTH_HOSTS[0]}/ HTTP/1.1\r\nHost: {h.MSA_HOST}\r\n\r\n".encode())
        self.assertEqual(status, 421)


if __name__ == "__main__":
    unittest.main()
