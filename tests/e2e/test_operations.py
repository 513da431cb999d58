"""The operator's surface: command line and exit codes, CA checks, admin endpoints, PAC,
SIGHUP reload and SIGTERM drain."""

import os
import shutil
import signal
import subprocess
import threading
import time
import unittest
import urllib.request

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())
trproxy = h.run_trproxy


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=h.DEADLINE) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class CommandLine(unittest.TestCase):
    def write(self, name, text):
        return h.write_file(env.dir, name, text)

    def test_check_prints_summary_and_exits_0(self):
        path = self.write("ok.yaml", h.Proxy.render(env.ca_dir, "v1", {}, None, "", 3128, 9090, ""))
        r = trproxy("--config", path, "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Restrict-Access-To-Tenants: contoso.com,fabrikam.onmicrosoft.com", r.stdout)
        self.assertIn("bytes on the wire", r.stdout)

    def test_bad_config_exits_2_naming_key_and_value(self):
        text = h.Proxy.render(env.ca_dir, "v2", {}, None, "", 3128, 9090, "").replace(h.TENANT, "not-a-guid")
        r = trproxy("--config", self.write("bad.yaml", text), "--check")
        self.assertEqual(r.returncode, 2)
        self.assertIn('tenant_restrictions.v2.tenant_id: "not-a-guid" is not a GUID', r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        r = trproxy("--config", self.write("typo.yaml", text.replace("listen:", "lisen:", 1)), "--check")
        self.assertEqual(r.returncode, 2)
        self.assertIn("lisen: unknown key", r.stderr)

    def test_usage_errors_exit_2(self):
        self.assertEqual(trproxy("--bogus").returncode, 2)
        self.assertEqual(trproxy("ca", "init").returncode, 2)
        self.assertEqual(trproxy("--config").returncode, 2)
        self.assertEqual(trproxy("--config", "/nonexistent.yaml", "--check").returncode, 2)

    def test_version_and_help(self):
        r = trproxy("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^trproxy \d+\.\d+\.\d+")
        r = trproxy("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("ca init --dir DIR", r.stdout)

    def test_ca_init_never_overwrites(self):
        folder = os.path.join(env.dir, "ca-twice")
        self.assertEqual(trproxy("ca", "init", "--dir", folder).returncode, 0)
        self.assertEqual(os.stat(os.path.join(folder, "ca.key")).st_mode & 0o777, 0o600)
        verify = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(folder, "ca.crt"),
                                 os.path.join(folder, "ca.crt")], capture_output=True, text=True)
        self.assertEqual(verify.returncode, 0, verify.stderr)
        with open(os.path.join(folder, "ca.key")) as f:
            before = f.read()
        r = trproxy("ca", "init", "--dir", folder)
        self.assertEqual(r.returncode, 2)
        self.assertIn("already exists", r.stderr)
        with open(os.path.join(folder, "ca.key")) as f:
            self.assertEqual(f.read(), before)

    def test_a_ca_that_is_not_a_ca_is_refused_naming_the_file(self):
        folder = os.path.join(env.dir, "leaf-as-ca")
        os.makedirs(folder, exist_ok=True)
        shutil.copy(env.pki.good[0], os.path.join(folder, "ca.crt"))
        shutil.copy(env.pki.good[1], os.path.join(folder, "ca.key"))
        path = self.write("leafca.yaml", h.Proxy.render(folder, "v2", {}, None, "", h.free_port(), h.free_port(), ""))
        r = trproxy("--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a CA certificate", r.stderr)
        self.assertIn(os.path.join(folder, "ca.crt"), r.stderr)

    def test_mismatched_ca_key_is_refused(self):
        folder = os.path.join(env.dir, "mismatch")
        os.makedirs(folder, exist_ok=True)
        shutil.copy(env.ca_crt, os.path.join(folder, "ca.crt"))
        shutil.copy(env.pki.root_key, os.path.join(folder, "ca.key"))
        path = self.write("mismatch.yaml", h.Proxy.render(folder, "v2", {}, None, "", h.free_port(), h.free_port(), ""))
        r = trproxy("--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not match", r.stderr)


class AdminAndPac(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("admin")

    def test_probe_needs_no_curl(self):
        """trproxy probe: exit 0 on a 200 from the admin endpoint, else 1 with a one-line reason."""
        admin = f"http://127.0.0.1:{self.proxy.admin_port}"
        for path in ("/healthz", "/readyz"):
            r = h.run_trproxy("probe", admin + path)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = h.run_trproxy("probe", admin + "/nope")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"trproxy probe: {admin}/nope: 404 Not Found\n")
        closed = h.free_port()
        r = h.run_trproxy("probe", f"http://127.0.0.1:{closed}/healthz", "--timeout", "5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("refused", r.stderr.lower())
        self.assertEqual(len(r.stderr.splitlines()), 1)
        r = h.run_trproxy("probe", "https://127.0.0.1:1/healthz")
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not http://", r.stderr)

    def test_health_ready_metrics(self):
        admin = f"http://127.0.0.1:{self.proxy.admin_port}"
        self.assertEqual(http_get(admin + "/healthz")[0], 200)
        self.assertEqual(http_get(admin + "/readyz")[0], 200)
        self.assertEqual(http_get(admin + "/nope")[0], 404)
        h.curl(self.proxy, f"https://{h.AUTH_HOSTS[0]}/m", "-H", "Restrict-Access-Context: spoof", cacert=env.ca_crt)
        status, headers, body = http_get(admin + "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", headers["Content-Type"])
        self.assertIn('trproxy_build_info{version="', body)
        self.assertRegex(body, r'trproxy_requests_rewritten_total\{host_class="auth",mode="v2"\} [1-9]')
        self.assertRegex(body, r"trproxy_client_tenant_headers_stripped_total [1-9]")
        self.assertRegex(body, r"trproxy_leaf_certificates_minted_total [1-9]")
        for line in body.splitlines():
            if line and not line.startswith("#"):
                self.assertTrue(line.startswith(("trproxy_", "process_")), line)
        # A real exposition-format parser: Prometheus' own linter.
        if shutil.which("promtool") is None:
            self.skipTest("promtool is not installed (packages.txt lists prometheus)")
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True,
                              timeout=h.DEADLINE)
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)

    def pac_decisions(self, pac):
        if shutil.which("node") is None:
            self.skipTest("node is not installed")
        script = ("const vm=require('vm');const c={};vm.createContext(c);vm.runInContext(process.argv[1],c);"
                  "for (const host of process.argv.slice(2)) console.log(host+' '+c.FindProxyForURL('https://'+host+'/', host));")
        hosts = h.AUTH_HOSTS + [h.MSA_HOST, h.BLOCKED_HOST] + h.EXCLUDED_HOSTS + [h.OTHER_HOST, "LOGIN.LIVE.COM."]
        out = subprocess.run(["node", "-e", script, pac, *hosts], capture_output=True, text=True, timeout=h.DEADLINE)
        self.assertEqual(out.returncode, 0, out.stderr)
        return dict(line.split(" ", 1) for line in out.stdout.splitlines())

    def test_pac_on_admin_and_proxy_listeners(self):
        for base, served_as in ((f"http://127.0.0.1:{self.proxy.admin_port}", "127.0.0.1"),
                                (f"http://localhost:{self.proxy.port}", "localhost")):
            for path in ("/proxy.pac", "/wpad.dat"):
                with self.subTest(url=base + path):
                    status, headers, pac = http_get(base + path)
                    self.assertEqual(status, 200)
                    self.assertEqual(headers["Content-Type"], "application/x-ns-proxy-autoconfig")
                    decisions = self.pac_decisions(pac)
                    expected_proxy = f"PROXY {served_as}:{self.proxy.port}"
                    for host in h.AUTH_HOSTS + [h.MSA_HOST, h.BLOCKED_HOST, "LOGIN.LIVE.COM."]:
                        self.assertEqual(decisions[host], expected_proxy, host)
                    for host in h.EXCLUDED_HOSTS + [h.OTHER_HOST]:
                        self.assertEqual(decisions[host], "DIRECT", host)


class ReloadAndDrain(unittest.TestCase):
    def test_sighup_switches_policy_and_rejects_a_bad_one(self):
        proxy = env.proxy("reload")
        try:
            url = f"https://{h.AUTH_HOSTS[0]}/r"
            self.assertEqual(h.echo_fields(h.curl(proxy, url, cacert=env.ca_crt)[1])["strap"], h.V2_VALUE)
            proxy.write_config(env.ca_dir, "v1", env.resolve_all(), env.pki.root_crt, "")
            proxy.reload()
            seen = h.echo_fields(h.curl(proxy, url, cacert=env.ca_crt)[1])
            self.assertEqual(seen["rat"], h.V1_TENANTS)
            self.assertEqual(seen["strap"], "")
            # An invalid config is rejected; v1 stays.
            with open(proxy.config, "a") as f:
                f.write("bogus_key: 1\n")
            proxy.proc.send_signal(signal.SIGHUP)
            admin = f"http://127.0.0.1:{proxy.admin_port}/metrics"
            deadline = time.monotonic() + h.DEADLINE
            while time.monotonic() < deadline and 'result="failure"} 1' not in http_get(admin)[2]:
                time.sleep(0.05)
            self.assertIn('trproxy_config_reloads_total{result="failure"} 1', http_get(admin)[2])
            self.assertEqual(h.echo_fields(h.curl(proxy, url, cacert=env.ca_crt)[1])["rat"], h.V1_TENANTS)
        finally:
            self.assertEqual(proxy.stop(), 0)

    def test_reload_under_a_steady_stream_loses_no_request(self):
        proxy = env.proxy("reload-stream")
        url = f"https://{h.AUTH_HOSTS[0]}/stream"
        results = []
        stop = threading.Event()

        def stream():
            while not stop.is_set() and len(results) < 2000:
                code, body, err = h.curl(proxy, url, cacert=env.ca_crt)
                seen = h.echo_fields(body)
                results.append((code, "v1" if seen.get("rat") else "v2" if seen.get("strap") else "none"))

        worker = threading.Thread(target=stream)
        worker.start()
        # Each phase waits for a count of requests, not for a time: a loaded machine (sanitizer
        # builds, parallel suites) completes fewer requests per second, never fewer requests.
        phase_bound = h.DEADLINE * h.TIME_SCALE * 3
        try:
            deadline = time.monotonic() + phase_bound
            while len(results) < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            proxy.write_config(env.ca_dir, "v1", env.resolve_all(), env.pki.root_crt, "")
            proxy.proc.send_signal(signal.SIGHUP)
            switched_at = len(results)
            deadline = time.monotonic() + phase_bound
            while time.monotonic() < deadline and (len(results) < switched_at + 20 or results[-1][1] != "v1"):
                time.sleep(0.01)
        finally:
            stop.set()
            worker.join(timeout=h.DEADLINE)
        self.assertEqual(proxy.stop(), 0)
        self.assertGreaterEqual(switched_at, 20, "requests before the reload")
        self.assertGreaterEqual(len(results) - switched_at, 20, "requests after the reload")
        self.assertTrue(all(code == 0 for code, _ in results), results)
        modes = [mode for _, mode in results]
        self.assertNotIn("none", modes)
        # The policy switches exactly once: v2 ... v2 v1 ... v1.
        first_v1 = modes.index("v1")
        self.assertEqual(modes, ["v2"] * first_v1 + ["v1"] * (len(modes) - first_v1))

    def test_sigterm_finishes_in_flight_requests_and_exits_0(self):
        proxy = env.proxy("drain")
        # A request whose body is still being sent when SIGTERM arrives.
        tls = h.tls_through(proxy, h.AUTH_HOSTS[0], env.ca_crt)
        tls.sendall(f"POST /echo-body/d HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\nContent-Length: 10\r\n\r\nhello".encode())
        proxy.proc.send_signal(signal.SIGTERM)
        admin = f"http://127.0.0.1:{proxy.admin_port}/readyz"
        deadline = time.monotonic() + h.DEADLINE
        while time.monotonic() < deadline and http_get(admin)[0] != 503:
            time.sleep(0.05)
        self.assertEqual(http_get(admin)[0], 503)
        tls.sendall(b"world")
        status, _, body = h.read_response(tls)
        tls.close()
        self.assertEqual(status, 200)
        self.assertEqual(h.echo_fields(body.decode())["body"], "helloworld")
        self.assertEqual(proxy.proc.wait(timeout=h.DEADLINE), 0)
        proxy.stop()


if __name__ == "__main__":
    unittest.main()
