"""The CA can vouch for nothing else: `trproxy ca init` makes a name-constrained CA, and the
clients that matter enforce it. The openssl CLI and headless Chromium, both trusting the CA,
accept a leaf for a sign-in host and refuse a leaf for any other host signed with the same CA key
(what a leaked key would be used for). Loading a CA (start, reload, --check) that does not permit
an intercepted host fails naming the host; `ca show` prints the certificate; a client that does
not trust the CA is counted and logged with the alert it sent."""

import os
import re
import signal
import subprocess
import unittest
import urllib.request

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())
trproxy = h.run_trproxy

SIGN_IN_HOST = h.AUTH_HOSTS[0]
ALIASES = ["sts.windows.net", "login.microsoftonline-p.com", "loginex.microsoftonline.com",
           "login2.microsoftonline.com", "login-us.microsoftonline.com", "login.microsoftonline.us",
           "login.partner.microsoftonline.cn", "login.sovcloud-identity.fr", "login.sovcloud-identity.de",
           "login.sovcloud-identity.sg"]


def ca_key():
    return os.path.join(env.ca_dir, "ca.key")


def leaf_from_trproxy_ca(name, host):
    """A leaf for host signed with the trproxy CA's key by the openssl CLI, not by trproxy."""
    return env.pki.leaf(name, [host], env.ca_crt, ca_key())


def write(name, text):
    path = os.path.join(env.dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def config_text(ca_dir, tenant_extra="", extra=""):
    return h.Proxy.render(ca_dir, "v2", {}, None, extra, 0, 0, "", tenant_extra)


def metrics(proxy):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=h.DEADLINE) as r:
        return r.read().decode()


def show(path):
    r = trproxy("ca", "show", path)
    fields = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    return r, fields


class NameConstrainedCa(unittest.TestCase):
    def test_ca_init_constrains_to_the_sign_in_hosts_and_ca_show_prints_it(self):
        r, fields = show(env.ca_crt)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(set(fields), {"subject", "sha256_fingerprint", "not_after", "key_type", "name_constraints",
                                       "permitted", "excluded"})
        self.assertIn("CN = trproxy internal CA (", fields["subject"])
        self.assertEqual(fields["key_type"], "EC P-256")
        self.assertEqual(fields["name_constraints"], "critical")
        self.assertEqual(fields["permitted"], "DNS:login.microsoftonline.com, DNS:login.microsoft.com, "
                                              "DNS:login.windows.net, DNS:login.live.com")
        self.assertEqual(fields["excluded"], "DNS:device.login.microsoftonline.com, IP:0.0.0.0/0, IP:::/0")
        self.assertRegex(fields["not_after"], r"^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # The fingerprint and the extension as OpenSSL itself reads them.
        openssl = h.run(["openssl", "x509", "-in", env.ca_crt, "-noout", "-fingerprint", "-sha256"]).stdout
        self.assertEqual(openssl.strip().split("=", 1)[1], fields["sha256_fingerprint"])
        text = h.run(["openssl", "x509", "-in", env.ca_crt, "-noout", "-text"]).stdout
        self.assertIn("X509v3 Name Constraints: critical", text)
        self.assertRegex(text, r"Permitted:\s+DNS:login\.microsoftonline\.com")
        self.assertRegex(text, r"Excluded:\s+DNS:device\.login\.microsoftonline\.com\s+IP:0\.0\.0\.0/0\.0\.0\.0\s+"
                               r"IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0")

    def test_ca_init_takes_the_hosts_of_a_config_and_days_and_cn(self):
        config = write("init-config.yaml", config_text(
            env.ca_dir, tenant_extra="  auth_hosts: [login.microsoftonline.com, sts.windows.net]\n"
                                     "  exclude: [enterpriseregistration.windows.net, legacy.sts.windows.net]\n"))
        folder = os.path.join(env.dir, "ca-from-config")
        r = trproxy("ca", "init", "--dir", folder, "--config", config, "--days", "90", "--cn", "Contoso egress CA")
        self.assertEqual(r.returncode, 0, r.stderr)
        r, fields = show(os.path.join(folder, "ca.crt"))
        self.assertEqual(fields["permitted"], "DNS:login.microsoftonline.com, DNS:sts.windows.net, DNS:login.live.com")
        self.assertEqual(fields["excluded"], "DNS:device.login.microsoftonline.com, DNS:legacy.sts.windows.net, "
                                             "IP:0.0.0.0/0, IP:::/0")
        self.assertEqual(fields["subject"], "O = trproxy, CN = Contoso egress CA")
        end = h.run(["openssl", "x509", "-in", os.path.join(folder, "ca.crt"), "-noout", "-checkend",
                     str(89 * 86400)])
        self.assertIn("will not expire", end.stdout)
        self.assertNotEqual(subprocess.run(["openssl", "x509", "-in", os.path.join(folder, "ca.crt"), "-noout",
                                            "-checkend", str(91 * 86400)], capture_output=True).returncode, 0)
        self.assertEqual(os.stat(os.path.join(folder, "ca.key")).st_mode & 0o777, 0o600)

    def test_ca_init_and_show_usage_errors_exit_2(self):
        folder = os.path.join(env.dir, "ca-bad-days")
        for args in (["--days", "0"], ["--days", "36501"], ["--days", "ten"]):
            r = trproxy("ca", "init", "--dir", folder, *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("1..36500", r.stderr)
        self.assertFalse(os.path.exists(folder))
        r = trproxy("ca", "init", "--dir", folder, "--config", os.path.join(env.dir, "missing.yaml"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.yaml", r.stderr)
        for path, problem in ((os.path.join(env.dir, "nothing.crt"), "cannot read"),
                              (ca_key(), "not a PEM certificate")):
            r = trproxy("ca", "show", path)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn(path, r.stderr)
            self.assertIn(problem, r.stderr)
            self.assertEqual(r.stdout, "")

    def test_openssl_verify_accepts_a_sign_in_leaf_and_rejects_any_other_from_the_same_key(self):
        def verify(name, host):
            crt, _ = leaf_from_trproxy_ca(name, host)
            return subprocess.run(["openssl", "verify", "-CAfile", env.ca_crt, crt], capture_output=True, text=True)

        ok = verify("v-login", SIGN_IN_HOST)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn(": OK", ok.stdout)
        other = verify("v-other", h.OTHER_HOST)
        self.assertNotEqual(other.returncode, 0)
        self.assertIn("permitted subtree violation", other.stdout + other.stderr)
        device = verify("v-device", h.EXCLUDED_HOSTS[0])
        self.assertNotEqual(device.returncode, 0)
        self.assertIn("excluded subtree violation", device.stdout + device.stderr)


class LoadingTheCa(unittest.TestCase):
    def test_check_on_a_missing_ca_file_exits_2_naming_it(self):
        folder = os.path.join(env.dir, "no-ca-here")
        r = trproxy("--config", write("missing-ca.yaml", config_text(folder)), "--check")
        self.assertEqual(r.returncode, 2)
        self.assertIn(os.path.join(folder, "ca.crt"), r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_check_and_start_refuse_a_ca_that_does_not_permit_an_intercepted_host(self):
        path = write("wider.yaml", config_text(
            env.ca_dir, tenant_extra="  auth_hosts: [login.microsoftonline.com, login2.microsoftonline.com]\n"))
        for args in (["--check"], []):
            r = trproxy("--config", path, *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("do not permit login2.microsoftonline.com", r.stderr)
            self.assertIn(env.ca_crt, r.stderr)

    def test_a_reload_to_a_host_the_ca_does_not_permit_is_rejected(self):
        proxy = env.proxy("reload-narrow")
        with open(proxy.config) as f:
            text = f.read()
        with open(proxy.config, "w") as f:
            f.write(text.replace("block:", "  msa_hosts: [login.live.com, account.live.com]\nblock:", 1))
        proxy.proc.send_signal(signal.SIGHUP)
        rejected = h.wait_until(lambda: proxy.stderr_lines_matching(r"reload rejected.*"),
                                what="'reload rejected' on trproxy's stderr")
        self.assertIn("do not permit account.live.com", rejected[-1])
        # The running configuration stays: the sign-in host is still intercepted and tagged.
        code, body, err = h.curl(proxy, f"https://{SIGN_IN_HOST}/still", cacert=env.ca_crt)
        self.assertEqual(code, 0, err)
        self.assertEqual(h.echo_fields(body)["strap"], h.V2_VALUE)

    def test_intercepted_and_excluded_is_a_config_error_except_the_documented_exclusions(self):
        r = trproxy("--config", write("both.yaml", config_text(
            env.ca_dir, tenant_extra="  exclude: [login.windows.net]\n")), "--check")
        self.assertEqual(r.returncode, 2)
        self.assertIn('tenant_restrictions.exclude: "login.windows.net" is also intercepted', r.stderr)
        r = trproxy("--config", write("documented.yaml", config_text(
            env.ca_dir, tenant_extra="  auth_hosts: [login.microsoftonline.com, device.login.microsoftonline.com]\n")),
            "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: tenant_restrictions.auth_hosts lists device.login.microsoftonline.com, which is "
                      "excluded", r.stdout)

    def test_check_warns_about_mistakes_that_still_load_and_prints_the_other_sign_in_names(self):
        # The upstream test root: a CA without name constraints that expires in 30 days.
        unconstrained = os.path.join(env.dir, "unconstrained-ca")
        os.makedirs(unconstrained, exist_ok=True)
        for src, dst in ((env.pki.root_crt, "ca.crt"), (env.pki.root_key, "ca.key")):
            with open(src) as f, open(os.path.join(unconstrained, dst), "w") as out:
                out.write(f.read())
        path = write("warnings.yaml", h.Proxy.render(unconstrained, "v2", {}, None, "", 0, 0, "", "",
                                                     block=(ALIASES[5],)))
        r = trproxy("--config", path, "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        warnings = [line for line in r.stdout.splitlines() if line.startswith("warning: ")]
        self.assertEqual(len(warnings), 4, r.stdout)
        self.assertIn(f"tenant_restrictions.v2.tenant_id {h.TENANT} is an example id", warnings[0])
        self.assertIn(f"tenant_restrictions.v2.policy_id {h.POLICY} is an example id", warnings[1])
        self.assertIn("has no name constraints", warnings[2])
        self.assertIn("within 30 days", warnings[3])
        lines = {m.group(1): m.group(2) for m in re.finditer(r"^sign-in alias (\S+): (\w+) ", r.stdout, re.M)}
        self.assertEqual(set(lines), set(ALIASES))
        self.assertEqual(lines[ALIASES[5]], "block")
        self.assertEqual({v for k, v in lines.items() if k != ALIASES[5]}, {"guarded"})
        # A start logs the same warnings.
        proxy = h.Proxy(os.path.join(env.dir, "unconstrained-run"), unconstrained, trust=env.pki.root_crt)
        env.proxies.append(proxy)
        self.assertTrue(proxy.stderr_lines_matching(r" warn(ing)? .*has no name constraints"), proxy.stderr_text())


class UntrustingClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("untrusting")

    def test_a_client_that_does_not_trust_the_ca_is_counted_and_logged_with_its_alert(self):
        before = metrics(self.proxy)
        reasons = re.findall(r'^trproxy_client_tls_handshake_failures_total\{reason="(\w+)"\} 0$', before, re.M)
        self.assertIn("unknown_ca", reasons)
        self.assertGreaterEqual(len(reasons), 10, "every reason is a series from start")
        # curl trusting another root, as a client without the trproxy CA installed.
        code, _, err = h.curl(self.proxy, f"https://{SIGN_IN_HOST}/untrusted", cacert=env.pki.root_crt)
        self.assertEqual(code, 60, err)  # CURLE_PEER_FAILED_VERIFICATION
        counted = h.wait_until(
            lambda: re.search(r'^trproxy_client_tls_handshake_failures_total\{reason="unknown_ca"\} 1$',
                              metrics(self.proxy), re.M), what="unknown_ca counted")
        self.assertTrue(counted)
        line = h.wait_until(lambda: [l for l in self.proxy.access_lines() if "unknown_ca" in l],
                            what="an access-log line with the reason")[-1]
        self.assertIn("action=intercept", line)
        self.assertIn(f"host={SIGN_IN_HOST}", line)
        self.assertRegex(line, rf'reason="client TLS handshake failed: unknown_ca for {re.escape(SIGN_IN_HOST)} ')
        self.assertIn("client=127.0.0.1:", line)
        # Nothing reached the sign-in service untagged (fail closed).
        self.assertFalse([l for l in env.nginx.seen_settled("good") if "/untrusted" in l])


class Chromium(unittest.TestCase):
    """Chromium's verifier enforces the name constraints of a locally trusted root."""

    def setUp(self):
        self.chromium = h.Chromium(env.dir, env.ca_crt)

    def serve(self, name, host):
        crt, key = leaf_from_trproxy_ca(name, host)
        server = h.HeadRecorder(tls_cert=(crt, key))
        self.addCleanup(server.close)
        return server

    def load_directly(self, host, server):
        netlog = os.path.join(self.chromium.home, f"netlog-{host}.json")
        dom, stderr = self.chromium.load(f"https://{host}:{server.port}/page", "--no-proxy-server",
                                         f"--host-resolver-rules=MAP {host} 127.0.0.1",
                                         f"--log-net-log={netlog}", "--net-log-capture-mode=Everything")
        with open(netlog, errors="replace") as f:
            return dom, stderr, f.read()

    def test_chromium_loads_the_sign_in_host_through_trproxy(self):
        proxy = env.proxy("chromium-constrained")
        dom, stderr = self.chromium.load(f"https://{SIGN_IN_HOST}/common/oauth2/v2.0/authorize?client_id=x",
                                         f"--proxy-server=http://127.0.0.1:{proxy.port}")
        self.assertIn("strap=" + h.V2_VALUE, dom, stderr[-2000:])
        self.assertIn(f"host={SIGN_IN_HOST}", dom)

    def test_chromium_without_the_ca_is_counted_with_the_alert_it_sends(self):
        proxy = env.proxy("chromium-untrusting")
        stranger = h.Chromium(env.dir, env.pki.root_crt)  # trusts another root, not trproxy's CA
        dom, stderr = stranger.load(f"https://{SIGN_IN_HOST}/common/untrusting",
                                    f"--proxy-server=http://127.0.0.1:{proxy.port}")
        self.assertIn("net::ERR_CERT_AUTHORITY_INVALID", stderr)
        failures = h.wait_until(
            lambda: {m.group(1): int(m.group(2)) for m in re.finditer(
                r'^trproxy_client_tls_handshake_failures_total\{reason="(\w+)"\} ([1-9]\d*)$', metrics(proxy), re.M)},
            what="a counted handshake failure")
        # Measured: Chromium (BoringSSL) sends certificate_unknown, not unknown_ca, and retries once.
        self.assertEqual(set(failures), {"certificate_unknown"})
        line = h.wait_until(lambda: [l for l in proxy.access_lines() if "certificate_unknown" in l],
                            what="an access-log line with the reason")[-1]
        self.assertIn(f"host={SIGN_IN_HOST}", line)

    def test_chromium_refuses_a_leaf_for_another_host_signed_with_the_ca_key(self):
        # Control: the same kind of server, leaf made the same way, for a permitted name, loads.
        permitted = self.serve("chromium-login", SIGN_IN_HOST)
        dom, stderr, _ = self.load_directly(SIGN_IN_HOST, permitted)
        self.assertIn("recorded", dom, stderr[-2000:])
        self.assertTrue(permitted.heads and permitted.heads[0].startswith("GET /page "), permitted.heads)
        # A leaf for www.example.com from the same key: refused before any request is sent.
        other = self.serve("chromium-other", h.OTHER_HOST)
        dom, stderr, netlog = self.load_directly(h.OTHER_HOST, other)
        self.assertNotIn("recorded", dom)
        self.assertIn("net::ERR_CERT_INVALID", stderr)  # Chromium's net error for it (measured: -207)
        self.assertIn("Not permitted by name constraints", netlog)
        self.assertEqual(other.heads, [])


if __name__ == "__main__":
    unittest.main()
