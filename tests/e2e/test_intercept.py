"""Interception of the sign-in hosts: header injection per mode and host class, spoofed headers
stripped, bodies and keep-alive intact. curl and Python's TLS client against nginx."""

import subprocess
import unittest

import harness as h

env = v2 = v1 = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals(), v2={}, v1={"mode": "v1"})


def get(proxy, url, *args):
    code, body, err = h.curl(proxy, url, *args, cacert=env.ca_crt)
    assert code == 0, f"curl {url} failed ({code}): {err}"
    return h.echo_fields(body)


class V2Injection(unittest.TestCase):
    def test_every_sign_in_host_gets_the_v2_header(self):
        for host in h.AUTH_HOSTS + [h.MSA_HOST]:
            with self.subTest(host=host):
                seen = get(v2, f"https://{host}/common/oauth2/v2.0/authorize?client_id=x")
                self.assertEqual(seen["strap"], h.V2_VALUE)
                self.assertEqual(seen["rat"], "")
                self.assertEqual(seen["rac"], "")
                self.assertEqual(seen["host"], host)
                self.assertEqual(seen["uri"], "/common/oauth2/v2.0/authorize?client_id=x")

    def test_spoofed_headers_are_stripped_in_any_case_and_count(self):
        seen = get(v2, f"https://{h.AUTH_HOSTS[0]}/",
                   "-H", "sec-restrict-tenant-access-policy: 00000000-0000-0000-0000-000000000000:x",
                   "-H", "SEC-RESTRICT-TENANT-ACCESS-POLICY: restrict-msa",
                   "-H", "Restrict-Access-To-Tenants: evil.example",
                   "-H", "restrict-access-context: 00000000-0000-0000-0000-000000000000")
        self.assertEqual(seen["strap"], h.V2_VALUE)
        self.assertEqual(seen["rat"], "")
        self.assertEqual(seen["rac"], "")

    def test_certificate_is_minted_by_the_trproxy_ca(self):
        out = subprocess.run(
            ["openssl", "s_client", "-proxy", f"127.0.0.1:{v2.port}", "-connect", f"{h.AUTH_HOSTS[1]}:443",
             "-servername", h.AUTH_HOSTS[1], "-CAfile", env.ca_crt, "-verify_return_error", "-brief"],
            input="", capture_output=True, text=True, timeout=h.DEADLINE)
        # The trproxy CA is the only trust anchor given, so OK means the leaf chains to it.
        self.assertIn("Verification: OK", out.stderr)
        self.assertIn(f"Peer certificate: CN = {h.AUTH_HOSTS[1]}", out.stderr)

    def test_trailing_dot_and_mixed_case_hosts_are_intercepted(self):
        seen = get(v2, "https://LOGIN.MicrosoftOnline.com./x")
        self.assertEqual(seen["strap"], h.V2_VALUE)

    def test_ip_literal_connect_with_sign_in_sni_is_intercepted(self):
        # The IP literal is a reachable address (nginx), so only the SNI names the sign-in host.
        # Loopback and nginx's port are outside the default egress rules, so this proxy allows them.
        port = env.nginx.ports["good"]
        with env.proxy("ip-literal", extra=f"egress:\n  connect_ports: [443, {port}]\n  deny: []\n") as proxy, \
                h.tls_through(proxy, "127.0.0.1", env.ca_crt, port=port, server_hostname=h.AUTH_HOSTS[0]) as tls:
            tls.sendall(f"GET /ip HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\nConnection: close\r\n\r\n".encode())
            status, _, body = h.read_response(tls)
        self.assertEqual(status, 200)
        self.assertEqual(h.echo_fields(body.decode())["strap"], h.V2_VALUE)

    def test_excluded_connect_with_sign_in_sni_is_intercepted(self):
        # Fail closed: naming an auth host in SNI is enough to be tagged.
        with h.tls_through(v2, h.EXCLUDED_HOSTS[0], env.ca_crt, server_hostname=h.AUTH_HOSTS[0]) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\nConnection: close\r\n\r\n".encode())
            status, _, body = h.read_response(tls)
        self.assertEqual(h.echo_fields(body.decode())["strap"], h.V2_VALUE)

    def test_alpn_is_http11_even_when_h2_is_offered(self):
        with h.tls_through(v2, h.AUTH_HOSTS[0], env.ca_crt, alpn=("h2", "http/1.1")) as tls:
            self.assertEqual(tls.selected_alpn_protocol(), "http/1.1")

    def test_post_bodies_content_length_and_chunked_are_intact(self):
        body = "grant_type=authorization_code&code=" + "c" * 5000
        seen = get(v2, f"https://{h.AUTH_HOSTS[0]}/echo-body/token", "--data-binary", body)
        self.assertEqual(seen["body"], body)
        self.assertEqual(seen["strap"], h.V2_VALUE)
        seen = get(v2, f"https://{h.AUTH_HOSTS[0]}/echo-body/token", "--data-binary", body,
                   "-H", "Transfer-Encoding: chunked")
        self.assertEqual(seen["body"], body)

    def test_expect_100_continue(self):
        body = "x" * 2048
        seen = get(v2, f"https://{h.AUTH_HOSTS[0]}/echo-body/e", "--data-binary", body,
                   "-H", "Expect: 100-continue", "--expect100-timeout", "15")
        self.assertEqual(seen["body"], body)

    def test_keep_alive_carries_several_requests_on_one_connection(self):
        urls = [f"https://{h.AUTH_HOSTS[0]}/k{i}" for i in range(4)]
        code, out, err = h.curl(v2, urls[0], *urls[1:], "-w", "connects=%{num_connects}\n", cacert=env.ca_crt)
        self.assertEqual(code, 0, err)
        self.assertEqual(out.count("connects=1"), 1)
        self.assertEqual(out.count("connects=0"), 3)
        self.assertEqual(out.count("strap=" + h.V2_VALUE), 4)
        self.assertIn("requests=4", out)  # the upstream connection was reused too

    def test_pipelined_requests(self):
        with h.tls_through(v2, h.AUTH_HOSTS[0], env.ca_crt) as tls:
            tls.sendall((f"GET /p1 HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\n\r\n"
                         f"GET /p2 HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\nConnection: close\r\n\r\n").encode())
            first = h.read_response(tls)
            second = h.read_response(tls)
        self.assertEqual(h.echo_fields(first[2].decode())["uri"], "/p1")
        self.assertEqual(h.echo_fields(second[2].decode())["uri"], "/p2")
        self.assertEqual(h.echo_fields(second[2].decode())["strap"], h.V2_VALUE)

    def test_access_log_has_no_query_strings_or_cookies(self):
        get(v2, f"https://{h.AUTH_HOSTS[2]}/logcheck?code=SECRETCODE", "-H", "Cookie: ESTSAUTH=SECRETCOOKIE",
            "-H", "Authorization: Bearer SECRETTOKEN")
        lines = v2.wait_access_lines(1)
        text = "\n".join(lines)
        self.assertIn("path=/logcheck ", text)
        for secret in ("SECRETCODE", "SECRETCOOKIE", "SECRETTOKEN"):
            self.assertNotIn(secret, text)
        with open(v2.stderr.name) as f:
            self.assertNotIn("SECRET", f.read())


class V1Injection(unittest.TestCase):
    def test_auth_hosts_get_tenants_and_context(self):
        for host in h.AUTH_HOSTS:
            with self.subTest(host=host):
                seen = get(v1, f"https://{host}/", "-H", "Restrict-Access-To-Tenants: evil.example")
                self.assertEqual(seen["rat"], h.V1_TENANTS)
                self.assertEqual(seen["rac"], h.V1_CONTEXT)
                self.assertEqual(seen["strap"], "")

    def test_msa_host_gets_restrict_msa_only(self):
        seen = get(v1, f"https://{h.MSA_HOST}/ppsecure/post.srf", "-H", "Restrict-Access-Context: spoof",
                   "-H", "sec-Restrict-Tenant-Access-Policy: spoof")
        self.assertEqual(seen["strap"], "restrict-msa")
        self.assertEqual(seen["rat"], "")
        self.assertEqual(seen["rac"], "")


if __name__ == "__main__":
    unittest.main()
