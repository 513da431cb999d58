"""Discovery, staged enforcement and outcomes (DESIGN.md, "Profiles and report mode", "Sign-in
outcomes", /tenants, explain): profiles chosen by the client's loopback source address, a report
profile forwarding a spoofed header unchanged, a reload moving a client at its next request, block
codes found in HTML and JSON error pages served plain, gzip, deflate and br by nginx (and by a
canned upstream whose chunks split the codes) and counted exactly once, the bytes the client
receives identical to the upstream's, /tenants, and explain for every host class."""

import gzip
import json
import os
import re
import socket
import ssl
import subprocess
import textwrap
import threading
import unittest
import urllib.request
import zlib

import harness as h

BROTLI_MODULE = "/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so"
PILOT, REPORTER = "127.0.0.2", "127.0.0.3"  # clients' source addresses (all of 127/8 is loopback)
PILOT_TENANTS = "contoso.com,fabrikam.onmicrosoft.com"

# Canned sign-in error pages: (file, content type, host class, the code it carries or None).
PAGES = {
    "v1-block.html": ("text/html", "AADSTS500021"),
    "v2-block.json": ("application/json", "AADSTS5000211"),
    "policy-id.html": ("text/html", "AADSTS1000108"),
    "msa-block.html": ("text/html", "80045C4D"),
    "msa-header.json": ("application/json", "80045C54"),
    "ok.html": ("text/html", None),
    "long-code.html": ("text/html", None),  # AADSTS50002111: no code of ours
}


def page_text(name):
    _, code = PAGES[name]
    filler = "".join(f"<p class=\"c{i}\">Sign in to your account, step {i}.</p>\n" for i in range(400))
    if name == "long-code.html":
        return f"<html><body>{filler}<b>AADSTS50002111: something else</b></body></html>"
    if name.endswith(".json"):
        return json.dumps({"error": "invalid_request", "error_codes": [5000211],
                           "error_description": f"{code}: A tenant restrictions policy added to this request by a "
                                                f"device or network administrator does not allow access.",
                           "padding": filler})
    if code is None:
        return f"<html><body>{filler}</body></html>"
    # The code twice: one blocked sign-in is still counted once.
    return (f"<html><head><title>Sign in</title></head><body>{filler}<div id=\"error\">{code}: Access blocked."
            f"</div><script>var code='{code}';</script></body></html>")


class PagesNginx:
    """nginx with the good test certificate serving the canned pages: dynamic gzip and br by
    Accept-Encoding (chunked), pre-compressed deflate files with an explicit Content-Encoding
    (Content-Length framed), and a 302 carrying Restrict-Access-Confirm."""

    def __init__(self, folder, pki):
        self.dir = folder
        self.root = os.path.join(folder, "pages")
        os.makedirs(os.path.join(self.root, "deflate"), exist_ok=True)
        os.makedirs(os.path.join(folder, "logs"), exist_ok=True)
        for name in PAGES:
            text = page_text(name).encode()
            with open(os.path.join(self.root, name), "wb") as f:
                f.write(text)
            with open(os.path.join(self.root, "deflate", name), "wb") as f:
                f.write(zlib.compress(text, 9))
        crt, key = pki.good
        for _ in range(5):
            self.port = h.free_port()
            conf = f"load_module {BROTLI_MODULE};\n" + h.nginx_preamble(folder) + textwrap.dedent(f"""\
                  types {{ text/html html; application/json json; }}
                  gzip on; gzip_types application/json; gzip_min_length 0; gzip_vary on;
                  brotli on; brotli_types application/json; brotli_min_length 0;
                  server {{
                    listen 127.0.0.1:{self.port} ssl;
                    ssl_certificate {crt};
                    ssl_certificate_key {key};
                    root {self.root};
                    location = /common/confirm {{ add_header Restrict-Access-Confirm 1; return 302 /common/ok; }}
                    location ^~ /deflate/ {{ gzip off; brotli off; add_header Content-Encoding deflate; }}
                    location ~ ^/[^/]+/(?<page>[^/]+)$ {{ try_files /$page =404; }}
                  }}
                }}
                """)
            self.conf = os.path.join(folder, "nginx.conf")
            with open(self.conf, "w") as f:
                f.write(conf)
            self.proc = subprocess.Popen(["nginx", "-p", folder, "-c", self.conf], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True)
            try:
                h.wait_for_port(self.port, proc=self.proc)
                return
            except RuntimeError:
                if "Address already in use" not in self.proc.stderr.read():
                    raise
        raise RuntimeError("nginx (pages) could not bind a port")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=h.DEADLINE)


class CannedUpstream(h.PythonUpstream):
    """A TLS origin that answers every request with the raw response bytes registered for its
    path, written in the given pieces with a flush between them, so codes straddle both chunk
    boundaries and the proxy's reads."""

    def __init__(self, tls_cert):
        self.responses = {}
        super().__init__(tls_cert)

    def handle(self, sock):
        data = b""
        while True:
            received = h.recv_head(sock, data)
            if received is None:
                return
            head, data = received
            path = head.split(b" ", 2)[1].decode()
            for piece in self.responses[path]:
                sock.sendall(piece)


def chunked(body, sizes):
    """body as chunked framing with the given chunk sizes (cycled)."""
    out, pos, i = b"", 0, 0
    while pos < len(body):
        n = sizes[i % len(sizes)]
        out += b"%x\r\n" % len(body[pos:pos + n]) + body[pos:pos + n] + b"\r\n"
        pos, i = pos + n, i + 1
    return out + b"0\r\n\r\n"


env = pages = canned = None


def setUpModule():
    global env, pages, canned
    env = h.Environment()
    try:
        pages = PagesNginx(os.path.join(env.dir, "pages"), env.pki)
        canned = CannedUpstream(env.pki.good)
    except BaseException:
        env.close()
        raise


def tearDownModule():
    canned.close()
    pages.stop()
    env.close()


def profiles_yaml(reporter_mode="report"):
    return textwrap.dedent(f"""\
        profiles:
          - name: pilot
            clients: ["{PILOT}/32"]
            v1:
              allowed_tenants: [contoso.com, fabrikam.onmicrosoft.com]
              access_context: "{h.V1_CONTEXT}"
          - name: discovery
            clients: ["{REPORTER}/32", "127.0.0.2/31"]
            v2:
              tenant_id: "{h.TENANT}"
              policy_id: "{h.POLICY}"
            mode: {reporter_mode}
        """)


def resolve_to(port):
    return {host: f"127.0.0.1:{port}" for host in h.ALL_NAMES}


def request(proxy, host, path, source="127.0.0.1", headers=(), keep=None):
    """One HTTPS request through the proxy from `source`; returns (status, head, raw body bytes
    as received, the TLS socket when keep is set)."""
    sock = keep
    if sock is None:
        raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE, source_address=(source, 0))
        raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        status, _, _ = h.read_head(raw)
        assert status == 200, f"CONNECT {host} from {source}: {status}"
        sock = ssl.create_default_context(cafile=env.ca_crt).wrap_socket(raw, server_hostname=host)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
    status, head, body = read_raw_response(sock)
    if keep is None:
        sock.close()
    return status, head, body


def read_raw_response(sock):
    """One response, its body bytes exactly as they came (chunk framing included)."""
    status, head, rest = h.read_head(sock)
    data = rest
    m = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if m:
        while len(data) < int(m.group(1)):
            data += sock.recv(65536)
    elif re.search(r"(?im)^transfer-encoding:\s*chunked", head):
        while not data.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return status, head, data


def dechunk(data):
    out = b""
    while True:
        size_line, data = data.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2:]


def decode(head, body):
    if re.search(r"(?im)^transfer-encoding:\s*chunked", head):
        body = dechunk(body)
    encoding = re.search(r"(?im)^content-encoding:\s*(\S+)", head)
    encoding = encoding.group(1).lower() if encoding else "identity"
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body  # br: Python has no decoder here; such bodies are compared raw with nginx's


def direct(path, headers=()):
    """The same request straight to the pages nginx: what the upstream sends."""
    ctx = ssl.create_default_context(cafile=env.pki.root_crt)
    with socket.create_connection(("127.0.0.1", pages.port), timeout=h.DEADLINE) as raw, \
            ctx.wrap_socket(raw, server_hostname=h.AUTH_HOSTS[0]) as sock:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\n{extra}Connection: close\r\n\r\n".encode())
        return read_raw_response(sock)


def metrics(proxy):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=h.DEADLINE) as r:
        return r.read().decode()


def metric(text, family, labels=""):
    m = re.search(rf"^{re.escape(family)}{re.escape('{' + labels + '}' if labels else '')} (\d+)$", text,
                  re.MULTILINE)
    if not m:
        raise AssertionError(f"{family}{{{labels}}} is not in /metrics:\n{text}")
    return int(m.group(1))


def tenants(proxy):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/tenants", timeout=h.DEADLINE) as r:
        assert r.headers["Content-Type"] == "application/json"
        return json.loads(r.read())["tenants"]


def access_fields(line):
    return dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))


class Outcomes(unittest.TestCase):
    """Block codes in every encoding, counted once per response, bodies passed byte for byte."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("outcomes", resolve=resolve_to(pages.port))

    def test_every_series_the_config_allows_is_there_from_start(self):
        with env.proxy("zero", resolve=resolve_to(pages.port), extra=profiles_yaml()) as proxy:
            text = metrics(proxy)
        for profile, enforcement in (("default", "enforce"), ("pilot", "enforce"), ("discovery", "report")):
            for host_class in ("auth", "msa"):
                self.assertEqual(metric(text, "trproxy_sign_in_requests_total",
                                        f'profile="{profile}",enforcement="{enforcement}",host_class="{host_class}"'), 0)
            for code in ("AADSTS500021", "AADSTS5000211", "AADSTS1000108", "80045C4D", "80045C54"):
                self.assertEqual(metric(text, "trproxy_sign_in_blocked_total", f'code="{code}",profile="{profile}"'), 0)
        self.assertNotIn('profile="discovery",enforcement="enforce"', text)
        self.assertEqual(metric(text, "trproxy_restrict_access_confirm_total"), 0)

    def test_codes_in_every_encoding_counted_once_with_bytes_unchanged(self):
        before = metrics(self.proxy)
        expected = {}
        encodings = [("identity", ()), ("gzip", (("Accept-Encoding", "gzip"),)), ("br", (("Accept-Encoding", "br"),)),
                     ("deflate", ())]
        for name, (content_type, code) in PAGES.items():
            msa = code is not None and code.startswith("8004")
            host = h.MSA_HOST if msa else h.AUTH_HOSTS[0]
            for encoding, headers in encodings:
                path = f"/deflate/{name}" if encoding == "deflate" else f"/contoso.com/{name}"
                with self.subTest(page=name, encoding=encoding):
                    status, head, body = request(self.proxy, host, path, headers=headers)
                    self.assertEqual(status, 200)
                    d_status, d_head, d_body = direct(path, headers)
                    self.assertEqual(body, d_body, "the client must get the upstream's bytes")
                    if encoding != "identity":
                        self.assertRegex(head, rf"(?im)^content-encoding: {encoding}")
                    if encoding in ("gzip", "br"):
                        self.assertRegex(head, r"(?im)^transfer-encoding: chunked")
                    if encoding != "br":
                        self.assertIn((code or "").encode(), decode(head, body))
                    if code:
                        expected[code] = expected.get(code, 0) + 1
        # The client can have its answer before the worker counts the outcome and writes the
        # access line (in that order): wait for the lines, then read the counters.
        def logged():
            fields = [access_fields(line) for line in self.proxy.access_lines()]
            done = sum(1 for f in fields if f.get("path", "").endswith("long-code.html")) == len(encodings)
            return fields if done else None

        lines = h.wait_until(logged, what="the access lines of every page")
        after = metrics(self.proxy)
        for code in ("AADSTS500021", "AADSTS5000211", "AADSTS1000108", "80045C4D", "80045C54"):
            labels = f'code="{code}",profile="default"'
            self.assertEqual(metric(after, "trproxy_sign_in_blocked_total", labels) -
                             metric(before, "trproxy_sign_in_blocked_total", labels), expected[code], code)
        outcomes = [f.get("outcome") for f in lines if f.get("path", "").endswith("v1-block.html")]
        self.assertEqual(outcomes, ["AADSTS500021"] * 4)
        long_code = [f.get("outcome") for f in lines if f.get("path", "").endswith("long-code.html")]
        self.assertEqual(long_code, [None] * 4)

    def test_codes_split_across_chunks_and_reads_are_found_once(self):
        html = b"<html><body>" + b"x" * 5000 + b" AADSTS5000211: blocked AADSTS5000211 </body></html>"
        gz = gzip.compress(html)
        responses = {
            # every chunk 3 bytes, written in pieces of 7: the code straddles both
            "/t1/chunked": [b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"] +
                           [piece for piece in (lambda d: [d[i:i + 7] for i in range(0, len(d), 7)])(
                               chunked(html, [3]))],
            "/t2/length": [b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n"
                           % len(html), html[:5020], html[5020:5021], html[5021:]],
            "/t3/gzip": [b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n", chunked(gz, [1, 2, 5])],
            "/t4/long": [b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 14\r\n\r\n",
                         b"AADSTS5000211", b"1"],
        }
        canned.responses.update(responses)
        with env.proxy("canned", resolve=resolve_to(canned.port)) as proxy:
            for path, pieces in responses.items():
                with self.subTest(path=path):
                    _, _, body = request(proxy, h.AUTH_HOSTS[2], path)
                    self.assertEqual(body, b"".join(pieces).split(b"\r\n\r\n", 1)[1])
            # counted before the access line is written: wait for the four lines first
            h.wait_until(lambda: sum(1 for l in proxy.access_lines() if "path=/t" in l) == len(responses),
                         what="the four access lines")
            text = metrics(proxy)
            self.assertEqual(metric(text, "trproxy_sign_in_blocked_total", 'code="AADSTS5000211",profile="default"'), 3)
            self.assertEqual(metric(text, "trproxy_sign_in_blocked_total", 'code="AADSTS500021",profile="default"'), 0)

    def test_restrict_access_confirm_is_counted(self):
        before = metric(metrics(self.proxy), "trproxy_restrict_access_confirm_total")
        status, head, _ = request(self.proxy, h.AUTH_HOSTS[0], "/common/confirm")
        self.assertEqual(status, 302)
        self.assertRegex(head, r"(?im)^restrict-access-confirm: 1")
        # counted once the response has gone out: poll (bounded), then check it is exactly one more
        h.wait_until(lambda: metric(metrics(self.proxy), "trproxy_restrict_access_confirm_total") > before,
                     what="the confirm counter")
        self.assertEqual(metric(metrics(self.proxy), "trproxy_restrict_access_confirm_total"), before + 1)


class Profiles(unittest.TestCase):
    """Clients on 127.0.0.2 and 127.0.0.3 get different profiles from one proxy."""

    def test_profiles_by_source_address_report_mode_and_reload(self):
        spoof = (("sec-Restrict-Tenant-Access-Policy", "00000000-0000-0000-0000-000000000000:spoofed"),)
        with env.proxy("profiles", extra=profiles_yaml()) as proxy:
            _, _, body = request(proxy, h.AUTH_HOSTS[0], "/contoso.com/oauth2", source=PILOT, headers=spoof)
            seen = h.echo_fields(text_of(body))
            self.assertEqual(seen["rat"], PILOT_TENANTS)
            self.assertEqual(seen["rac"], h.V1_CONTEXT)
            self.assertEqual(seen["strap"], "")
            _, _, body = request(proxy, h.AUTH_HOSTS[0], "/fabrikam.com/x", source="127.0.0.5", headers=spoof)
            self.assertEqual(h.echo_fields(text_of(body))["strap"], h.V2_VALUE)  # the default profile

            # The report profile: the spoofed header reaches the upstream unchanged, nothing added.
            raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE, source_address=(REPORTER, 0))
            raw.sendall(f"CONNECT {h.AUTH_HOSTS[0]}:443 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            self.assertEqual(h.read_head(raw)[0], 200)
            tls = ssl.create_default_context(cafile=env.ca_crt).wrap_socket(raw, server_hostname=h.AUTH_HOSTS[0])
            _, _, body = request(proxy, h.AUTH_HOSTS[0], "/common/oauth2", headers=spoof, keep=tls)
            seen = h.echo_fields(text_of(body))
            self.assertEqual(seen["strap"], spoof[0][1])
            self.assertEqual(seen["rat"], "")
            # A reload turns the profile to enforce: the same kept-alive connection's next request is tagged.
            with open(proxy.config) as f:
                text = f.read()
            with open(proxy.config, "w") as f:
                f.write(text.replace("mode: report", "mode: enforce"))
            proxy.reload()
            _, _, body = request(proxy, h.AUTH_HOSTS[0], "/common/oauth2", headers=spoof, keep=tls)
            self.assertEqual(h.echo_fields(text_of(body))["strap"], h.V2_VALUE)
            tls.close()

            lines = [access_fields(l) for l in h.wait_until(lambda: len(proxy.access_lines()) >= 4 and proxy.access_lines(),
                                                             what="4 access lines")]
            by_client = [(f["client"].split(":")[0], f.get("profile"), f.get("enforcement"), f.get("tenant"))
                         for f in lines if f.get("action") == "intercept"]
            self.assertEqual(by_client, [(PILOT, "pilot", "enforce", "contoso.com"),
                                         ("127.0.0.5", "default", "enforce", "fabrikam.com"),
                                         (REPORTER, "discovery", "report", "common"),
                                         (REPORTER, "discovery", "enforce", "common")])
            text = metrics(proxy)
            self.assertEqual(metric(text, "trproxy_sign_in_requests_total",
                                    'profile="discovery",enforcement="report",host_class="auth"'), 1)
            self.assertEqual(metric(text, "trproxy_sign_in_requests_total",
                                    'profile="discovery",enforcement="enforce",host_class="auth"'), 1)
            self.assertEqual(metric(text, "trproxy_sign_in_requests_total",
                                    'profile="pilot",enforcement="enforce",host_class="auth"'), 1)

    def test_report_default_forwards_msa_requests_unchanged(self):
        with env.proxy("report-default", tenant_extra="  mode: report\n") as proxy:
            spoof = (("sec-Restrict-Tenant-Access-Policy", "restrict-msa"),)
            _, _, body = request(proxy, h.MSA_HOST, "/", headers=spoof)
            self.assertEqual(h.echo_fields(text_of(body))["strap"], "restrict-msa")
            _, _, body = request(proxy, h.MSA_HOST, "/")
            self.assertEqual(h.echo_fields(text_of(body))["strap"], "")


def text_of(body):
    return body.decode(errors="replace")


class Tenants(unittest.TestCase):
    def test_tenants_after_a_set_of_requests(self):
        with env.proxy("tenants", resolve=resolve_to(pages.port), extra=profiles_yaml()) as proxy:
            self.assertEqual(tenants(proxy), [])
            request(proxy, h.AUTH_HOSTS[0], "/Contoso.com/ok.html")
            request(proxy, h.AUTH_HOSTS[1], "/fabrikam.onmicrosoft.com/v1-block.html", source=PILOT)
            request(proxy, h.AUTH_HOSTS[0], "/contoso.com/v2-block.json", source=REPORTER)
            request(proxy, h.AUTH_HOSTS[0], f"/{h.TENANT.upper()}/ok.html")
            request(proxy, h.AUTH_HOSTS[0], "/favicon.ico")     # not a tenant
            request(proxy, h.MSA_HOST, "/common/ok.html")        # MSA host: no tenant
            request(proxy, h.AUTH_HOSTS[2], "/common/ok.html", source=PILOT)
            # A worker records the tenant once the response has gone out, so the client can
            # get its answer first: wait (bounded) for the five tenant requests.
            h.wait_until(lambda: sum(r["requests"] for r in tenants(proxy)) == 5, what="five tenant requests")
            rows = tenants(proxy)
        self.assertEqual([r["tenant"] for r in rows],
                         ["common", h.TENANT, "contoso.com", "fabrikam.onmicrosoft.com"])
        by = {r["tenant"]: r for r in rows}
        self.assertEqual((by["contoso.com"]["requests"], by["contoso.com"]["blocked"]), (2, 1))
        self.assertEqual(by["contoso.com"]["profiles"], ["default", "discovery"])
        self.assertEqual((by["fabrikam.onmicrosoft.com"]["requests"], by["fabrikam.onmicrosoft.com"]["blocked"]), (1, 1))
        self.assertEqual(by["common"]["profiles"], ["pilot"])
        for row in rows:
            self.assertRegex(row["last_seen"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def config_file(name, extra):
    """A proxy config (as the harness writes them) without starting a proxy."""
    folder = os.path.join(env.dir, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "trproxy.yaml")
    with open(path, "w") as f:
        f.write(h.Proxy.render(env.ca_dir, "v2", env.resolve_all(), env.pki.root_crt, extra, 0, 0, ""))
    return path


class Explain(unittest.TestCase):
    def explain(self, config, target, client=None):
        args = ["explain", "--config", config] + (["--client", client] if client else []) + [target]
        r = h.run_trproxy(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_explain_every_class_a_block_an_egress_denial_and_profiles(self):
        proxy = config_file("explain", profiles_yaml())
        out = self.explain(proxy, f"https://{h.AUTH_HOSTS[0]}/common/oauth2")
        self.assertIn("class: auth\n", out)
        self.assertIn("profile: default\n", out)
        self.assertIn("action: intercept\n", out)
        self.assertIn(f"header: sec-Restrict-Tenant-Access-Policy: {h.V2_VALUE}\n", out)
        out = self.explain(proxy, f"https://{h.AUTH_HOSTS[0]}/common/oauth2", PILOT)
        self.assertIn("profile: pilot\n", out)
        self.assertIn(f"header: Restrict-Access-To-Tenants: {PILOT_TENANTS}\n", out)
        self.assertIn(f"header: Restrict-Access-Context: {h.V1_CONTEXT}\n", out)
        out = self.explain(proxy, h.MSA_HOST, REPORTER)
        self.assertIn("class: msa\n", out)
        self.assertIn("profile: discovery\n", out)
        self.assertIn("enforcement: report\n", out)
        self.assertIn("action: intercept\n", out)
        self.assertIn("headers: none inserted (report mode", out)
        self.assertNotIn("header: ", out)
        out = self.explain(proxy, h.EXCLUDED_HOSTS[0])
        self.assertIn("class: excluded\n", out)
        self.assertIn("action: tunnel\n", out)
        out = self.explain(proxy, f"https://{h.BLOCKED_HOST}/")
        self.assertIn("class: blocked\n", out)
        self.assertIn(f"action: block (block: {h.BLOCKED_HOST})\n", out)
        out = self.explain(proxy, "www.example.com:443")
        self.assertIn("class: other\n", out)
        self.assertIn("action: tunnel\n", out)
        out = self.explain(proxy, "http://plain.example.com/x")
        self.assertIn("action: forward\n", out)
        out = self.explain(proxy, "http://169.254.169.254/latest/meta-data/")
        self.assertIn("action: deny (egress.deny", out)

    def test_check_prints_each_profile_with_header_sizes(self):
        config = config_file("check", profiles_yaml())
        r = h.run_trproxy("--config", config, "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("profile pilot: v1, enforce, clients 127.0.0.2/32\n", r.stdout)
        self.assertIn("profile discovery: v2, report, clients 127.0.0.3/32, 127.0.0.2/31\n", r.stdout)
        line = f"Restrict-Access-To-Tenants: {PILOT_TENANTS}"
        self.assertIn(f"{line}   [{len(line) + 2} bytes on the wire]", r.stdout)
        bad = config + ".bad"
        with open(config) as f, open(bad, "w") as g:
            g.write(f.read().replace("name: discovery", "name: pilot"))
        r = h.run_trproxy("--config", bad, "--check")
        self.assertEqual(r.returncode, 2)
        self.assertIn('profiles[1].name: "pilot" is already the name of a profile', r.stderr)


if __name__ == "__main__":
    unittest.main()
