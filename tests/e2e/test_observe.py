"""What log pipelines and operators read (DESIGN.md, "Logs"; issue 13): an access-log line of every
kind in both formats, parsed by a strict logfmt parser and by json.loads; SIGUSR1 reopening the
file after rotation; log.access and log.format changed by a reload; syslog priorities under
journald; the bind error; FILE:LINE config errors; --version."""

import calendar
import hashlib
import json
import os
import re
import signal
import socket
import ssl
import shutil
import subprocess
import time
import unittest
import urllib.request

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())

FRONTED = "fronted.example.net"  # resolves to loopback, which stands in for the sign-in ranges
# Loopback stands in for the sign-in service's addresses; www.example.com may still tunnel there.
GUARD = f'sign_in_guard:\n  addresses: ["127.0.0.0/8"]\n  tunnel_names: [{h.OTHER_HOST}]\n'
# Every key a line may carry, in the order the proxy writes them (DESIGN.md, "Logs").
KEYS = ["time", "client", "action", "method", "host", "path", "status", "bytes_in", "bytes_out", "duration_ms",
        "entry", "sni", "upstream", "tls", "profile", "enforcement", "app", "tenant", "outcome", "reason"]
NUMBERS = {"status", "bytes_in", "bytes_out", "duration_ms"}


def parse_logfmt(line):
    """A strict logfmt parser: `key=value` pairs separated by one space, nothing else. A bare value
    is one or more bytes other than space, `"`, `=` and control bytes; a quoted value is
    `"..."` with only the escapes \\" \\\\ and \\uXXXX inside, and it must be needed (a value that
    could be bare must not be quoted). Raises ValueError on anything else."""
    out = {}
    i, n = 0, len(line)
    while i < n:
        m = re.compile(r"[a-z_]+=").match(line, i)
        if not m:
            raise ValueError(f"expected key= at {i}: {line[i:i + 20]!r}")
        key = m.group()[:-1]
        if key in out:
            raise ValueError(f"duplicate key {key}")
        i = m.end()
        if i < n and line[i] == '"':
            i += 1
            value = []
            while True:
                if i >= n:
                    raise ValueError("unterminated quoted value")
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    esc = line[i + 1:i + 2]
                    if esc in ('"', "\\"):
                        value.append(esc)
                        i += 2
                    elif esc == "u" and re.fullmatch(r"[0-9a-f]{4}", line[i + 2:i + 6]):
                        value.append(chr(int(line[i + 2:i + 6], 16)))
                        i += 6
                    else:
                        raise ValueError(f"bad escape at {i}")
                    continue
                if ord(c) < 0x20 or ord(c) == 0x7f:
                    raise ValueError("raw control byte in a quoted value")
                value.append(c)
                i += 1
            value = "".join(value)
            if value and not re.search(r'[ "=\x00-\x1f\x7f-\U0010ffff]', value):
                raise ValueError(f"{key}: needlessly quoted {value!r}")
        else:
            m = re.compile(r'[^ "=\x00-\x1f\x7f]+').match(line, i)
            if not m:
                raise ValueError(f"{key}: empty or invalid bare value at {i}")
            value = m.group()
            i = m.end()
        out[key] = value
        if i < n:
            if line[i] != " ":
                raise ValueError(f"expected one space at {i}: {line[i:i + 20]!r}")
            i += 1
            if i == n:
                raise ValueError("trailing space")
    return out


def typed(fields):
    """logfmt values as JSON would carry them: numbers as numbers."""
    return {k: (float(v) if k == "duration_ms" else int(v)) if k in NUMBERS else v for k, v in fields.items()}


def check_order(test, keys):
    test.assertEqual(keys[0], "time")
    positions = [KEYS.index(k) for k in keys]  # ValueError for an unknown key
    test.assertEqual(positions, sorted(positions), keys)
    for required in ("time", "client", "action", "method", "host", "path", "bytes_in", "bytes_out", "duration_ms", "entry"):
        test.assertIn(required, keys)


def raw_connect(proxy, authority, then=b""):
    """CONNECT, read the proxy's answer, optionally send bytes, then wait for the proxy to close."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE) as s:
        s.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        status, _, _ = h.read_head(s)
        if then:
            s.sendall(then)
        h.read_all_until_close(s)
    return status


def guard_refusal(proxy):
    """CONNECT to a name that resolves to the guarded addresses, then a TLS hello without SNI."""
    s, status = h.connect_tunnel(proxy, f"{FRONTED}:443")
    with s:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with ctx.wrap_socket(s, server_hostname=None):
                pass
        except (ssl.SSLError, ConnectionError, OSError):
            pass
    return status


class EveryKindOfLine(unittest.TestCase):
    """The same traffic through a text proxy and a json proxy: every kind of line, in both formats."""

    KINDS = ("intercept", "tunnel", "forward", "block", "deny", "guard", "handshake", "pac")

    @classmethod
    def setUpClass(cls):
        resolve = env.resolve_all()
        resolve[FRONTED] = resolve[h.OTHER_HOST]
        resolve["plain.example.com"] = f"127.0.0.1:{env.nginx.ports['plain']}"
        cls.lines = {}
        for fmt in ("text", "json"):
            proxy = env.proxy(f"kinds-{fmt}", resolve=resolve, extra=GUARD)
            cls.lines[fmt] = cls.drive(proxy, fmt)

    @classmethod
    def drive(cls, proxy, fmt):
        # log.format is set by a reload (which is also how a changed format applies).
        with open(proxy.config) as f:
            text = f.read()
        with open(proxy.config, "w") as f:
            f.write(text.replace("log:\n", f"log:\n  format: {fmt}\n", 1))
        proxy.reload()
        h.curl(proxy, f"https://{h.AUTH_HOSTS[0]}/common/oauth2/authorize?code=SECRET&x=1", "-H",
               "Cookie: session=SECRET", "-H", "Authorization: Bearer SECRET", cacert=env.ca_crt)
        h.curl(proxy, f"https://{h.OTHER_HOST}/tunnelled", cacert=env.pki.root_crt)
        h.curl(proxy, "http://plain.example.com/forwarded?q=SECRET")
        raw_connect(proxy, f"{h.BLOCKED_HOST}:443")
        raw_connect(proxy, f"{h.OTHER_HOST}:22")
        guard_refusal(proxy)
        h.curl(proxy, f"https://{h.AUTH_HOSTS[1]}/untrusted", cacert=env.pki.root_crt)  # unknown_ca
        h.raw_request(proxy, b"GET /proxy.pac HTTP/1.1\r\nHost: proxy.corp.example\r\nConnection: close\r\n\r\n")
        lines = h.wait_until(lambda: (lambda ls: ls if len(ls) >= 8 else None)(proxy.access_lines()),
                             what="8 access-log lines")
        return lines

    def parsed(self, fmt):
        out = []
        for line in self.lines[fmt]:
            if fmt == "json":
                record = json.loads(line)
                self.assertIsInstance(record, dict)
                keys = list(record)
            else:
                record = typed(parse_logfmt(line))
                keys = list(parse_logfmt(line))
            check_order(self, keys)
            out.append(record)
        return out

    def kind_of(self, r):
        reason = r.get("reason", "")
        if "sign_in_guard" in reason:
            return "guard"
        if "handshake failed" in reason:
            return "handshake"
        return r["action"]

    def by_kind(self, fmt):
        records = {}
        for r in self.parsed(fmt):
            records.setdefault(self.kind_of(r), r)
        return records

    def test_every_kind_is_logged_and_parses_strictly_in_both_formats(self):
        for fmt in ("text", "json"):
            with self.subTest(fmt=fmt):
                records = self.by_kind(fmt)
                self.assertEqual(set(records), set(self.KINDS), self.lines[fmt])

    def test_the_two_formats_carry_the_same_keys_and_values(self):
        text, js = self.by_kind("text"), self.by_kind("json")
        for kind in self.KINDS:
            with self.subTest(kind=kind):
                a, b = dict(text[kind]), dict(js[kind])
                # Sizes differ by a byte or two between runs (TLS records, dates): compared by type.
                for volatile in ("time", "client", "duration_ms", "upstream", "bytes_in", "bytes_out"):
                    self.assertEqual(type(a.get(volatile)), type(b.get(volatile)), volatile)
                    a.pop(volatile, None)
                    b.pop(volatile, None)
                self.assertEqual(a, b)

    def test_fields_of_each_kind(self):
        for fmt in ("text", "json"):
            r = self.by_kind(fmt)
            with self.subTest(fmt=fmt):
                i = r["intercept"]
                self.assertEqual((i["method"], i["host"], i["path"], i["status"]),
                                 ("GET", h.AUTH_HOSTS[0], "/common/oauth2/authorize", 200))
                self.assertEqual(i["tls"][:5], "TLSv1")
                self.assertEqual(i["sni"], h.AUTH_HOSTS[0])
                self.assertRegex(i["upstream"], r"^127\.0\.0\.1:\d+$")
                self.assertGreater(i["bytes_in"], 0)
                self.assertGreater(i["bytes_out"], 0)
                self.assertIsInstance(i["duration_ms"], float)
                t = r["tunnel"]
                self.assertEqual((t["method"], t["host"], t["status"], t["sni"]),
                                 ("CONNECT", h.OTHER_HOST, 200, h.OTHER_HOST))
                self.assertGreater(t["bytes_out"], 39)
                f = r["forward"]
                self.assertEqual((f["host"], f["path"], f["status"]), ("plain.example.com", "/forwarded", 200))
                b = r["block"]
                self.assertEqual((b["method"], b["host"], b["path"], b["status"]), ("CONNECT", h.BLOCKED_HOST, "-", 403))
                self.assertIn("reason", b)
                self.assertGreater(b["bytes_in"], 0, "the refused request was read: its bytes count")
                d = r["deny"]
                self.assertEqual(d["status"], 403)
                self.assertIn("port", d["reason"])
                self.assertGreater(d["bytes_in"], 0)
                g = r["guard"]
                self.assertEqual((g["action"], g["host"]), ("deny", FRONTED))
                self.assertNotIn("status", g, "the client got 200 Connection established, then a close")
                hs = r["handshake"]
                self.assertEqual(hs["action"], "intercept")
                self.assertNotIn("status", hs, "a failed handshake has no HTTP status")
                self.assertIn("unknown_ca", hs["reason"])
                self.assertGreater(hs["bytes_in"], 0, "the ClientHello was read")
                p = r["pac"]
                self.assertEqual((p["method"], p["path"], p["status"]), ("GET", "/proxy.pac", 200))

    def test_no_secret_is_ever_logged(self):
        for fmt in ("text", "json"):
            text = "\n".join(self.lines[fmt])
            self.assertNotIn("SECRET", text)
            self.assertNotIn("code=", text)


class StrictLogfmtParser(unittest.TestCase):
    """The parser the suite relies on rejects what a strict decoder rejects."""

    def test_it_rejects_loose_lines(self):
        for bad in ['time=a path=/a"b', "time=a  x=1", "time=a x", 'time=a x="a', 'time=a x="\\q"', "time=a x=",
                    'time=a x="plain"', "time=a x=1 "]:
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    parse_logfmt(bad)

    def test_it_reads_escapes(self):
        self.assertEqual(parse_logfmt('time=a x="a \\"b\\" \\\\ \\u000a"'), {"time": "a", "x": 'a "b" \\ \n'})


class Rotation(unittest.TestCase):
    def test_sigusr1_reopens_the_access_log_after_a_move(self):
        proxy = env.proxy("rotate")
        h.raw_request(proxy, b"GET /proxy.pac HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        h.wait_until(lambda: proxy.access_lines(), what="a first line")
        os.rename(proxy.access_log, proxy.access_log + ".1")
        before = len(proxy.stderr_lines_matching(r"access log reopened"))
        proxy.proc.send_signal(signal.SIGUSR1)
        h.wait_until(lambda: len(proxy.stderr_lines_matching(r"access log reopened")) > before,
                     what="'access log reopened' on stderr")
        h.raw_request(proxy, b"GET /wpad.dat HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        lines = h.wait_until(lambda: proxy.access_lines(), what="a line in the new file")
        self.assertIn("path=/wpad.dat", lines[-1])
        with open(proxy.access_log + ".1") as f:
            self.assertNotIn("/wpad.dat", f.read())

    def test_a_reload_applies_a_new_log_access_and_log_format(self):
        proxy = env.proxy("relog")
        moved = os.path.join(proxy.dir, "moved.log")
        with open(proxy.config) as f:
            text = f.read()
        with open(proxy.config, "w") as f:
            f.write(text.replace(f'access: "{proxy.access_log}"', f'access: "{moved}"\n  format: json'))
        proxy.reload()
        h.raw_request(proxy, b"GET /proxy.pac HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")

        def moved_lines():
            try:
                with open(moved) as f:
                    return f.read().splitlines()
            except FileNotFoundError:
                return []

        line = h.wait_until(moved_lines, what="a line in the new log.access")[-1]
        self.assertEqual(json.loads(line)["path"], "/proxy.pac")
        self.assertEqual(proxy.access_lines(), [])

    def test_a_log_file_that_cannot_be_opened_rejects_the_reload_with_the_os_error(self):
        proxy = env.proxy("badlog")
        with open(proxy.config) as f:
            text = f.read()
        with open(proxy.config, "w") as f:
            f.write(text.replace(f'access: "{proxy.access_log}"', 'access: "/nonexistent-dir/a.log"'))
        proxy.proc.send_signal(signal.SIGHUP)
        line = h.wait_until(lambda: proxy.stderr_lines_matching(r"reload rejected.*"), what="reload rejected")[-1]
        self.assertIn("/nonexistent-dir/a.log", line)
        self.assertIn("No such file or directory", line)
        h.raw_request(proxy, b"GET /proxy.pac HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        h.wait_until(lambda: proxy.access_lines(), what="the old log still written")


class OperationalLog(unittest.TestCase):
    def start(self, name, journal):
        folder = os.path.join(env.dir, name)
        os.makedirs(folder, exist_ok=True)
        config = os.path.join(folder, "trproxy.yaml")
        with open(config, "w") as f:
            f.write(h.Proxy.render(env.ca_dir, "v2", {}, None, "", 0, 0, ""))
        err_path = os.path.join(folder, "stderr.log")
        err = open(err_path, "w")
        st = os.fstat(err.fileno())
        environment = dict(os.environ)
        environment.pop("JOURNAL_STREAM", None)
        if journal:
            environment["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        else:  # a JOURNAL_STREAM naming another file (stderr redirected) means no prefixes
            environment["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino + 1}"
        proc = subprocess.Popen([h.TRPROXY, "--config", config], stdout=subprocess.DEVNULL, stderr=err,
                                env=environment)

        def read():
            with open(err_path) as f:
                return f.read()

        try:
            h.wait_until(lambda: "admin endpoint on" in read(), what="trproxy started")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=h.DEADLINE)
            err.close()
        return read()

    def test_journald_stderr_gets_syslog_priorities(self):
        text = self.start("journal", True)
        lines = text.splitlines()
        self.assertTrue(all(re.match(r"<[0-7]>", l) for l in lines), text)
        self.assertTrue([l for l in lines if l.startswith("<6>info listening on")], text)
        # The harness config uses the documentation's example ids: a start warns about them.
        self.assertTrue([l for l in lines if l.startswith("<4>warning ")], text)

    def test_other_stderr_gets_timestamps_and_no_priorities(self):
        text = self.start("nojournal", False)
        self.assertRegex(text, r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info listening on")
        self.assertNotRegex(text, r"(?m)^<\d>")


class Errors(unittest.TestCase):
    def write(self, name, text):
        return h.write_file(env.dir, name, text)

    def test_a_busy_port_names_the_listener_and_the_os_error(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            path = self.write("busy.yaml", h.Proxy.render(env.ca_dir, "v2", {}, None, "", port, 0, ""))
            r = h.run_trproxy("--config", path)
        self.assertEqual(r.returncode, 1, r.stderr)
        last = r.stderr.strip().splitlines()[-1]
        self.assertEqual(last, f"trproxy: cannot listen on 127.0.0.1:{port} (listen): Address already in use")

    def test_config_errors_start_with_file_and_line(self):
        text = h.Proxy.render(env.ca_dir, "v2", {}, None, "", 3128, 9090, "")
        bad = text.replace(h.POLICY, "not-a-guid")
        line = 1 + bad.splitlines().index('    policy_id: "not-a-guid"')
        path = self.write("line.yaml", bad)
        r = h.run_trproxy("--config", path, "--check")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.strip(),
                         f'trproxy: {path}:{line}: tenant_restrictions.v2.policy_id: "not-a-guid" is not a GUID')
        typo = self.write("typo2.yaml", text + "limits:\n  idle_timout: 5s\n")
        r = h.run_trproxy("--config", typo, "--check")
        self.assertEqual(r.stderr.strip(), f"trproxy: {typo}:{len(text.splitlines()) + 2}: limits.idle_timout: unknown key")

    def test_a_missing_ca_file_names_the_os_error(self):
        text = h.Proxy.render("/nonexistent-ca", "v2", {}, None, "", 3128, 9090, "")
        r = h.run_trproxy("--config", self.write("noca.yaml", text), "--check")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent-ca/ca.crt", r.stderr)
        self.assertIn("No such file or directory", r.stderr)

    def test_version_names_commit_openssl_and_boost(self):
        r = h.run_trproxy("--version")
        self.assertEqual(r.returncode, 0)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^trproxy \d+\.\d+\.\d+$")
        self.assertRegex(lines[1], r"^commit ([0-9a-f]{7,40}|unknown)$")
        self.assertRegex(lines[2], r"^OpenSSL 3\.\d+\.\d+")
        self.assertRegex(lines[3], r"^Boost 1\.\d+\.\d+$")


DEPLOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy")
RULES = os.path.join(DEPLOY, "prometheus", "trproxy-rules.yaml")
RULES_TEST = os.path.join(DEPLOY, "prometheus", "trproxy-rules.test.yaml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "trproxy-dashboard.json")


def promtool(*args, stdin=None):
    if shutil.which("promtool") is None:
        raise unittest.SkipTest("promtool is not installed (packages.txt lists prometheus)")
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True, timeout=60)


def metric_names_in(expr):
    """The trproxy_* and process_* series names a PromQL expression reads (recording-rule names
    like trproxy:x:rate5m are not exported names and are left out)."""
    return set(re.findall(r"\b((?:trproxy|process)_[a-zA-Z0-9_]+)", expr))


def dashboard_exprs():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    exprs = []
    for panel in dashboard["panels"]:
        exprs += [t["expr"] for t in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable.get("type") == "query":
            exprs.append(variable["definition"])
    return exprs


def rule_exprs():
    import yaml
    with open(RULES) as f:
        rules = yaml.safe_load(f)
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


class ShippedForOperators(unittest.TestCase):
    """deploy/prometheus and deploy/grafana against a running trproxy's /metrics."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("scrape")
        # Some traffic, so histograms and counters have moved.
        h.curl(cls.proxy, f"https://{h.AUTH_HOSTS[0]}/scrape", cacert=env.ca_crt)
        # The request is counted when its line is written, after the client has its answer:
        # scraping at once raced it (failed once under ASan).
        cls.proxy.wait_access_lines(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{cls.proxy.admin_port}/metrics", timeout=h.DEADLINE) as r:
            cls.metrics = r.read().decode()
        cls.exported = set(re.findall(r"(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)", cls.metrics))
        # A family declared without samples (the app counters of a config without apps) counts too.
        cls.exported |= set(re.findall(r"(?m)^# TYPE (\S+) ", cls.metrics))

    def test_promtool_check_metrics_accepts_a_live_scrape(self):
        r = promtool("check", "metrics", stdin=self.metrics)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_promtool_check_rules(self):
        r = promtool("check", "rules", RULES)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_promtool_test_rules(self):
        r = promtool("test", "rules", RULES_TEST)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_metric_the_dashboard_and_rules_query_is_exported(self):
        for source, exprs in (("dashboard", dashboard_exprs()), ("rules", rule_exprs())):
            names = set().union(*(metric_names_in(e) for e in exprs))
            self.assertGreater(len(names), 10, source)
            with self.subTest(source=source):
                self.assertEqual(sorted(names - self.exported), [], f"{source} queries names trproxy does not export")

    def test_every_labelled_series_exists_from_start_at_zero(self):
        for series in ('trproxy_requests_total{action="block"} 0', 'trproxy_requests_refused_total{status="421"} 0',
                       'trproxy_upstream_responses_total{code="5xx",host_class="msa"} 0',
                       'trproxy_client_tls_handshake_failures_total{reason="unknown_ca"} 0',
                       'trproxy_egress_refused_total{rule="self"} 0'):
            self.assertIn("\n" + series + "\n", self.metrics)

    def test_build_config_ca_and_process_metrics(self):
        version = h.run_trproxy("--version").stdout.splitlines()
        commit = version[1].split()[1]
        self.assertRegex(self.metrics, rf'(?m)^trproxy_build_info\{{version="[0-9.]+",commit="{commit}",'
                                       r'openssl="3\.[0-9.]+",boost="1\.[0-9.]+"\} 1$')
        with open(self.proxy.config, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.assertRegex(self.metrics, rf'(?m)^trproxy_config_info\{{revision="1",sha256="{digest}",mode="v2"\}} 1$')
        not_after = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", env.ca_crt], capture_output=True,
                                   text=True).stdout.strip().split("=", 1)[1]
        expected = calendar.timegm(time.strptime(not_after, "%b %d %H:%M:%S %Y %Z"))
        self.assertIn(f"\ntrproxy_ca_not_after_timestamp_seconds {expected}\n", self.metrics)
        self.assertRegex(self.metrics, r"(?m)^trproxy_config_last_reload_successful 1$")
        self.assertRegex(self.metrics, r"(?m)^trproxy_max_connections \d+$")
        self.assertRegex(self.metrics, r"(?m)^trproxy_leaf_certificate_cache_entries [1-9]\d*$")
        self.assertRegex(self.metrics, r"(?m)^trproxy_client_tls_handshake_seconds_count [1-9]\d*$")
        self.assertRegex(self.metrics, r'(?m)^trproxy_upstream_responses_total\{code="2xx",host_class="auth"\} [1-9]')
        rss = int(re.search(r"(?m)^process_resident_memory_bytes (\d+)$", self.metrics).group(1))
        self.assertGreater(rss, 1 << 20)
        start = float(re.search(r"(?m)^process_start_time_seconds (\S+)$", self.metrics).group(1))
        self.assertLess(abs(start - time.time()), 300, "the process started during this test run")
        fds = int(re.search(r"(?m)^process_open_fds (\d+)$", self.metrics).group(1))
        # Connections come and go between the scrape and this count: near, not equal.
        self.assertLessEqual(abs(fds - len(os.listdir(f"/proc/{self.proxy.proc.pid}/fd"))), 10, fds)
        self.assertGreater(fds, 5)  # stdio, listeners, the epoll and eventfd of each worker

    def test_a_rejected_reload_shows_in_the_reload_metrics(self):
        proxy = env.proxy("reload-metrics")
        with open(proxy.config) as f:
            good = f.read()
        with open(proxy.config, "w") as f:
            f.write(good.replace(h.TENANT, "not-a-guid"))
        proxy.proc.send_signal(signal.SIGHUP)
        url = f"http://127.0.0.1:{proxy.admin_port}/metrics"

        def scrape():
            with urllib.request.urlopen(url, timeout=h.DEADLINE) as r:
                return r.read().decode()

        text = h.wait_until(lambda: (lambda t: t if "\ntrproxy_config_last_reload_successful 0\n" in t else None)(
            scrape()), what="last reload unsuccessful")
        self.assertIn('trproxy_config_reloads_total{result="failure"} 1', text)
        with open(proxy.config, "w") as f:
            f.write(good)
        self.assertEqual(proxy.reload(), 2)
        text = scrape()
        self.assertIn("\ntrproxy_config_last_reload_successful 1\n", text)
        stamp = float(re.search(r"(?m)^trproxy_config_last_reload_success_timestamp_seconds (\S+)$", text).group(1))
        self.assertLess(abs(stamp - time.time()), 30)


if __name__ == "__main__":
    unittest.main()
