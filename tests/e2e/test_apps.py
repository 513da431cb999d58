"""SaaS app tenant controls (issue 21) through real interception: curl and Python TLS clients,
a Python upstream that answers as every vendor host (certificates from the test root) and
records each request head byte for byte. Per app: exactly one line of each header with the
configured value, no client copy; a custom app; report mode unchanged; WebSocket frames both
ways after 101; a 1 GiB download and a 256 MiB upload with the proxy's memory bounded."""

import base64
import hashlib
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import harness as h

ORG = "0f0e0d0c-0b0a-4909-8807-060504030201"
APPS_YAML = f"""apps:
  github:  {{ enterprises: [octo-corp] }}
  google:  {{ domains: [contoso.com, contoso.org] }}
  slack:   {{ requester: T0123ABCD, workspaces: [T0123ABCD, E0456EFGH] }}
  dropbox: {{ teams: ["dbtid:AAC1234567890"] }}
  youtube: {{ restrict: moderate }}
  chatgpt: {{ workspaces: [{ORG}] }}
  claude:  {{ organizations: [{ORG}] }}
  webex:   {{ domains: [contoso.com] }}
  custom:
    - name: intranet-saas
      hosts: [saas.example.com]
      headers: {{ X-Example-Allowed-Tenant: corp }}
"""
# A host of each app, and the lines its requests must carry (exactly once each).
EXPECTED = {
    "github.com": ["sec-GitHub-allowed-enterprise: octo-corp"],
    "accounts.google.com": ["X-GoogApps-Allowed-Domains: contoso.com,contoso.org"],
    "app.slack.com": ["X-Slack-Allowed-Workspaces-Requester: T0123ABCD",
                      "X-Slack-Allowed-Workspaces: T0123ABCD,E0456EFGH"],
    "www.dropbox.com": ["X-Dropbox-allowed-Team-Ids: dbtid:AAC1234567890"],
    "www.youtube.com": ["YouTube-Restrict: Moderate"],
    "chatgpt.com": [f"ChatGPT-Allowed-Workspace-Id: {ORG}"],
    "claude.ai": [f"anthropic-allowed-org-ids: {ORG}"],
    "identity.webex.com": ["CiscoSpark-Allowed-Domains: contoso.com"],
    "saas.example.com": ["X-Example-Allowed-Tenant: corp"],
}
HEADER_NAMES = sorted({line.split(":")[0] for lines in EXPECTED.values() for line in lines})
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3
# A page whose script opens a WebSocket to the intercepted app host and shows the echo in its title.
# The external script after it is answered only once the socket's close frame reached the origin:
# until then the page is still loading, and headless Chromium dumps the DOM after the load.
WS_PAGE = """<html><head><title>waiting</title></head><body><script>
const ws = new WebSocket("wss://app.slack.com/ws");
ws.onopen = () => ws.send("hello from chromium");
ws.onmessage = (e) => { document.title = "echo:" + e.data; ws.close(); };
ws.onerror = () => { document.title = "websocket error"; };
</script>
<script src="/hold.js"></script>
</body></html>"""
EVENTS, EVENT_GAP = 6, 0.4  # 2.4 s of events against a 1 s upstream_response_timeout
# ~2 s of upload against the same 1 s, in steps larger than the buffers between proxy and origin
# (the origin's receive buffer is kept small), so the proxy is still sending when 1 s has passed.
SLOW_CHUNK, SLOW_GAP, SLOW_BODY = 2 * 1024 * 1024, 0.1, 40 * 1024 * 1024
# Sanitizer runs (TRPROXY_E2E_TIME_SCALE > 1) move an eighth as much, and their allocators keep
# freed memory in quarantine, so the memory bound is asserted on the plain build only.
SANITIZED = h.TIME_SCALE > 1
DOWNLOAD = (1 << 30) // (8 if SANITIZED else 1)
UPLOAD = (256 << 20) // (8 if SANITIZED else 1)

env = upstream = proxy = report = ca_dir = None


class AppOrigin(h.PythonUpstream):
    """Answers as every app host: records heads; /ws upgrades and echoes WebSocket frames;
    /download/N streams N bytes; PUT/POST bodies are counted; /claude-block answers as Claude
    does to a refused organization."""

    def __init__(self, tls_cert):
        self.heads = []
        self.lock = threading.Lock()
        self.websocket_closed = threading.Event()
        self.download_sent, self.download_ended = 0, threading.Event()  # the latest /download/N
        super().__init__(tls_cert)
        # Accepted sockets inherit it: a slow reader's backlog then stays in the sender.
        self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)

    def handle(self, sock):
        data = b""
        while True:
            received = h.recv_head(sock, data)
            if received is None:
                return
            head, data = received
            text = head.decode("latin-1")
            with self.lock:
                self.heads.append(text)
            path = text.split(" ", 2)[1]
            if path == "/ws":
                return self.websocket(sock, text, data)
            if path == "/ws-page":
                self.send_page(sock)
                continue
            if path == "/hold.js":
                self.hold(sock)
                continue
            if path == "/events":
                return self.events(sock)
            if path in ("/slow-upload", "/silent-after-body"):
                return self.slow_body(sock, text, data, answer=path == "/slow-upload")
            length = re.search(r"(?im)^content-length:\s*(\d+)", text)
            received_bytes = len(data)
            need = int(length.group(1)) if length else 0
            while received_bytes < need:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    return
                received_bytes += len(chunk)
            data = b""
            if path.startswith("/download/"):
                size = int(path.rsplit("/", 1)[1])
                sock.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
                block = b"\0" * (64 << 10)
                self.download_sent = 0
                try:
                    while size > 0:
                        step = min(size, len(block))
                        sock.sendall(block[:step])
                        size -= step
                        self.download_sent += step
                finally:
                    self.download_ended.set()
            elif path == "/github-refused":
                body = b"Access to this enterprise is restricted by your network administrator.\n"
                sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: " +
                             str(len(body)).encode() + b"\r\n\r\n" + body)
            elif path == "/claude-block":
                body = b'{"type":"error","error":{"type":"permission_error","error_code":"tenant_restriction_violation"}}'
                sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: " +
                             str(len(body)).encode() + b"\r\n\r\n" + body)
            else:
                body = f"received {received_bytes}\n".encode()
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def send_page(self, sock):
        page = WS_PAGE.encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + str(len(page)).encode() +
                     b"\r\n\r\n" + page)

    def hold(self, sock):
        """Answers once a WebSocket close frame came: the page's script tag for it keeps the page
        loading (and headless Chromium's DOM dump waiting) until the socket's work is done."""
        self.websocket_closed.wait(h.DEADLINE)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nContent-Length: 3\r\n\r\n//\n")

    def events(self, sock):
        """Server-sent events, one every EVENT_GAP s: longer in all than the proxy's response timeout,
        which bounds the wait for a response head, not a body that keeps flowing."""
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(EVENTS):
            event = f"data: event {i}\n\n".encode()
            sock.sendall(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            time.sleep(EVENT_GAP)  # the stream's own pace (what the test is about), not a synchronisation
        sock.sendall(b"0\r\n\r\n")

    def slow_body(self, sock, head, data, answer):
        """Reads the body SLOW_CHUNK bytes at a time, SLOW_GAP s apart (its own pace: longer in all
        than the response timeout), then answers, or (answer False) never does."""
        need = int(re.search(r"(?im)^content-length:\s*(\d+)", head).group(1)) - len(data)
        while need > 0:
            time.sleep(SLOW_GAP)
            step = min(SLOW_CHUNK, need)
            while step > 0:  # a TLS read returns one record at most
                chunk = sock.recv(min(step, 65536))
                if not chunk:
                    return
                step -= len(chunk)
                need -= len(chunk)
        if answer:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nuploaded\n")
            return
        sock.recv(1)  # holds the connection without answering until the proxy gives up on it

    def websocket(self, sock, head, data):
        key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        while True:
            frame, data = read_frame(sock, data)
            if frame is None:
                return
            opcode, payload = frame
            sock.sendall(make_frame(opcode, payload, mask=False))
            if opcode == 8:  # close: echoed, then the server closes
                self.websocket_closed.set()
                return


def make_frame(opcode, payload, mask=True):
    head = bytes([0x80 | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(sock, data):
    def need(n):
        nonlocal data
        while len(data) < n:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            data += chunk
        return True

    if not need(2):
        return None, data
    opcode, size, masked = data[0] & 0x0F, data[1] & 0x7F, data[1] & 0x80
    pos = 2
    if size == 126:
        need(4)
        size, pos = struct.unpack("!H", data[2:4])[0], 4
    elif size == 127:
        need(10)
        size, pos = struct.unpack("!Q", data[2:10])[0], 10
    key = b""
    if masked:
        need(pos + 4)
        key, pos = data[pos:pos + 4], pos + 4
    need(pos + size)
    payload = data[pos:pos + size]
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return (opcode, payload), data[pos + size:]


def setUpModule():
    global env, upstream, proxy, report, ca_dir
    env = h.Environment()
    try:
        cert = env.pki.leaf("apps", list(EXPECTED) + ["api.github.com"], env.pki.root_crt, env.pki.root_key)
        upstream = AppOrigin(cert)
        # A CA made for this config: its name constraints permit the app hosts.
        ca_dir = os.path.join(env.dir, "apps-ca")
        config = h.write_file(env.dir, "apps-ca.yaml", "tenant_restrictions:\n  v2: {tenant_id: "
                              f"{h.TENANT}, policy_id: {h.POLICY}}}\n" + APPS_YAML)
        r = h.run_trproxy("ca", "init", "--dir", ca_dir, "--config", config)
        if r.returncode != 0:
            raise RuntimeError("ca init --config failed: " + r.stderr)
        resolve = dict(env.resolve_all(), **{host: upstream.address for host in list(EXPECTED) + ["api.github.com"]})
        kw = dict(trust=env.pki.root_crt, resolve=resolve, threads=1,
                  extra=APPS_YAML + "limits:\n  upstream_response_timeout: 1s\n")
        proxy = h.Proxy(os.path.join(env.dir, "apps"), ca_dir, **kw)
        env.proxies.append(proxy)
        report = h.Proxy(os.path.join(env.dir, "apps-report"), ca_dir, tenant_extra="  mode: report\n", **kw)
        env.proxies.append(report)
    except BaseException:
        if upstream:
            upstream.close()
        env.close()
        raise


def tearDownModule():
    upstream.close()
    env.close()


def recorded_after(count):
    h.wait_until(lambda: len(upstream.heads) > count, what="the upstream to record a head")
    with upstream.lock:
        return upstream.heads[count]


def lines_named(head, name):
    return [line for line in head.split("\r\n")[1:] if line.split(":", 1)[0].lower() == name.lower()]


class EveryApp(unittest.TestCase):
    def test_each_app_host_gets_exactly_its_lines_and_no_client_copy(self):
        for host, lines in EXPECTED.items():
            with self.subTest(host=host):
                before = len(upstream.heads)
                spoofed = []
                for name in HEADER_NAMES:  # two copies of every app's header: mixed case and '_'
                    spoofed += ["-H", f"{name.upper()}: spoofed", "-H", f"{name.replace('-', '_')}: spoofed2"]
                code, body, err = h.curl(proxy, f"https://{host}/path?secret=1", *spoofed, cacert=ca_dir + "/ca.crt")
                self.assertEqual(code, 0, err)
                self.assertEqual(body, "received 0\n")
                head = recorded_after(before)
                for line in lines:
                    name, value = line.split(": ", 1)
                    self.assertEqual(lines_named(head, name), [line])
                self.assertNotIn("spoofed", head)
                for name in HEADER_NAMES:
                    self.assertEqual(lines_named(head, name.replace("-", "_")), [])

    def test_access_log_and_metrics_name_the_app(self):
        code, _, err = h.curl(proxy, "https://api.github.com/user", cacert=ca_dir + "/ca.crt")
        self.assertEqual(code, 0, err)
        lines = h.wait_until(lambda: [l for l in proxy.access_lines() if "host=api.github.com" in l] or None,
                             what="the api.github.com access line")
        self.assertIn("app=github", lines[-1])
        self.assertIn("action=intercept", lines[-1])
        self.assertNotIn("secret", "\n".join(proxy.access_lines()))  # no query strings
        metrics = h.scrape(proxy)
        self.assertGreaterEqual(
            metrics['trproxy_app_requests_total{app="github",profile="default",enforcement="enforce"}'], 1)
        self.assertIn('trproxy_app_blocked_total{app="claude",profile="default"}', metrics)

    def test_claude_block_response_is_counted(self):
        key = 'trproxy_app_blocked_total{app="claude",profile="default"}'
        before = h.scrape(proxy)[key]
        code, body, err = h.curl(proxy, "https://claude.ai/claude-block", cacert=ca_dir + "/ca.crt")
        self.assertEqual(code, 0, err)
        self.assertIn("tenant_restriction_violation", body)  # the client gets the upstream's answer
        h.wait_until(lambda: h.scrape(proxy)[key] > before, what="the Claude block counted")
        line = h.wait_until(lambda: [l for l in proxy.access_lines() if "/claude-block" in l] or None,
                            what="the block's access line")[-1]
        self.assertIn("outcome=tenant_restriction_violation", line)

    def test_github_403_is_counted_as_its_block_response_only_when_enforcing(self):
        key = 'trproxy_app_blocked_total{app="github",profile="default"}'
        before = h.scrape(proxy)[key]
        code, _, err = h.curl(proxy, "https://github.com/github-refused", cacert=ca_dir + "/ca.crt")
        self.assertEqual(code, 0, err)
        h.wait_until(lambda: h.scrape(proxy)[key] > before, what="GitHub's 403 counted")
        line = h.wait_until(lambda: [l for l in proxy.access_lines() if "/github-refused" in l] or None,
                            what="the 403's access line")[-1]
        self.assertIn('outcome="blocked (403)"', line)
        # Report mode inserted nothing: a 403 there is not the header's doing.
        code, _, err = h.curl(report, "https://github.com/github-refused", cacert=ca_dir + "/ca.crt")
        self.assertEqual(code, 0, err)
        h.wait_until(lambda: [l for l in report.access_lines() if "/github-refused" in l] or None,
                     what="the report proxy's line")
        self.assertEqual(h.scrape(report).get(key, 0), 0)

    def test_another_host_inside_an_app_connection_is_421(self):
        with h.tls_through(proxy, "github.com", ca_dir + "/ca.crt") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: api.github.com\r\n\r\n")
            status, _, _ = h.read_response(tls)
        self.assertEqual(status, 421)

    def test_report_mode_forwards_app_requests_unchanged(self):
        before = len(upstream.heads)
        code, _, err = h.curl(report, "https://github.com/r", "-H", "sec-github-allowed-enterprise: mine",
                              cacert=ca_dir + "/ca.crt")
        self.assertEqual(code, 0, err)
        head = recorded_after(before)
        self.assertEqual(lines_named(head, "sec-GitHub-allowed-enterprise"), ["sec-github-allowed-enterprise: mine"])
        self.assertGreaterEqual(
            h.scrape(report)['trproxy_app_requests_total{app="github",profile="default",enforcement="report"}'], 1)

    def test_pac_sends_app_hosts_to_the_proxy(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{proxy.port}/proxy.pac", timeout=h.DEADLINE) as r:
            body = r.read().decode()
        self.assertIn('"github.com": true', body)
        self.assertIn('shExpMatch(host, "*.slack.com")', body)


class WebSocket(unittest.TestCase):
    def test_upgrade_is_tagged_and_frames_flow_both_ways_until_close(self):
        before = len(upstream.heads)
        key = base64.b64encode(os.urandom(16)).decode()
        with h.tls_through(proxy, "app.slack.com", ca_dir + "/ca.crt") as tls:
            tls.sendall((f"GET /ws HTTP/1.1\r\nHost: app.slack.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                         f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
                         "X-Slack-Allowed-Workspaces: TSPOOF\r\n\r\n").encode())
            head, rest = h.recv_head(tls)
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
            data = rest
            for message in (b"hello", b"x" * 70000, "grüße".encode()):
                tls.sendall(make_frame(1, message))
                frame, data = read_frame(tls, data)
                self.assertEqual(frame, (1, message))
            tls.sendall(make_frame(8, b"\x03\xe8"))
            frame, data = read_frame(tls, data)
            self.assertEqual(frame[0], 8)
            self.assertEqual(h.read_all_until_close(tls), b"")  # then the relay ends both sides
        upgrade = recorded_after(before)
        self.assertEqual(lines_named(upgrade, "X-Slack-Allowed-Workspaces"),
                         ["X-Slack-Allowed-Workspaces: T0123ABCD,E0456EFGH"])
        line = h.wait_until(lambda: [l for l in proxy.access_lines() if " path=/ws" in l] or None,
                            what="the WebSocket access line")[-1]
        self.assertIn("status=101", line)


class LongResponses(unittest.TestCase):
    def test_server_sent_events_outlive_the_response_timeout_while_bytes_flow(self):
        with h.tls_through(proxy, "app.slack.com", ca_dir + "/ca.crt") as tls:
            tls.sendall(b"GET /events HTTP/1.1\r\nHost: app.slack.com\r\nAccept: text/event-stream\r\n"
                        b"Connection: close\r\n\r\n")
            status, head, body = h.read_response(tls, timeout=h.DEADLINE)
        self.assertEqual(status, 200)
        self.assertEqual([line for line in body.decode().splitlines() if line.startswith("data:")],
                         [f"data: event {i}" for i in range(EVENTS)])


    def upload(self, path):
        with h.tls_through(proxy, "app.slack.com", ca_dir + "/ca.crt") as tls:
            tls.sendall(f"POST {path} HTTP/1.1\r\nHost: app.slack.com\r\nContent-Length: {SLOW_BODY}\r\n"
                        "Connection: close\r\n\r\n".encode())
            started = time.monotonic()
            tls.sendall(b"u" * SLOW_BODY)  # paced by the origin's reads, through the proxy
            status, _, body = h.read_response(tls, timeout=h.DEADLINE)
            return status, body, time.monotonic() - started

    def test_an_upload_longer_than_the_response_timeout_is_answered(self):
        # The response timeout counts from the body's last byte: 1 s here, the upload takes ~2.4 s.
        status, body, seconds = self.upload("/slow-upload")
        self.assertEqual((status, body), (200, b"uploaded\n"))
        self.assertGreater(seconds, 1.5)  # it did outlast the response timeout

    def test_a_silent_upstream_after_the_body_still_gets_504(self):
        status, body, seconds = self.upload("/silent-after-body")
        self.assertEqual(status, 504)
        self.assertIn(b"upstream did not answer in time", body)


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1))


class Bulk(unittest.TestCase):
    """Streaming, never buffering: the proxy's resident memory stays bounded while 1 GiB comes down
    and 256 MiB goes up (recorded in the test output)."""

    def test_one_gib_download_and_256_mib_upload_with_bounded_memory(self):
        start = rss_kib(proxy.proc.pid)
        p = subprocess.run(["curl", "-sS", "--max-time", "300", "-x", proxy.url(), "--cacert", ca_dir + "/ca.crt",
                            "-o", "/dev/null", "-w", "%{size_download}", f"https://www.dropbox.com/download/{DOWNLOAD}"],
                           capture_output=True, text=True, timeout=320, env={**os.environ, "NO_PROXY": ""})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(int(p.stdout), DOWNLOAD)
        after_download = rss_kib(proxy.proc.pid)
        with tempfile.NamedTemporaryFile() as body:
            body.truncate(UPLOAD)
            p = subprocess.run(["curl", "-sS", "--max-time", "300", "-x", proxy.url(), "--cacert",
                                ca_dir + "/ca.crt", "-T", body.name, "https://www.dropbox.com/upload"],
                               capture_output=True, text=True, timeout=320, env={**os.environ, "NO_PROXY": ""})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, f"received {UPLOAD}\n")
        peak = rss_kib(proxy.proc.pid, "VmHWM")
        print(f"\nproxy RSS: start {start} KiB, after 1 GiB down {after_download} KiB, peak {peak} KiB "
              f"after 256 MiB up", flush=True)
        # Far below either transfer: a proxy that buffered a body would hold hundreds of MiB.
        if not SANITIZED:
            self.assertLess(peak - start, 64 * 1024)

    def test_a_client_that_stops_reading_holds_the_origin_back(self):
        """Backpressure on the response side: a client that reads the head of a 512 MiB download
        and then nothing makes the origin's writes block once the kernel buffers between them are
        full; the proxy holds no more than its per-connection buffers meanwhile (recorded), and
        the origin's connection ends when the client goes."""
        size = 512 << 20
        upstream.download_ended.clear()
        start = rss_kib(proxy.proc.pid)
        with h.tls_through(proxy, "www.dropbox.com", ca_dir + "/ca.crt") as client:
            client.sendall(f"GET /download/{size} HTTP/1.1\r\nHost: www.dropbox.com\r\n\r\n".encode())
            self.assertIn(b" 200 ", client.recv(4096))
            seen = []

            def origin_blocked():  # the same count over ten polls 50 ms apart
                seen.append(upstream.download_sent)
                return len(seen) >= 10 and len(set(seen[-10:])) == 1 and seen[-1]

            sent = h.wait_until(origin_blocked, timeout=60 * h.TIME_SCALE, interval=0.05,
                                what="the origin's writes blocking behind a client that stopped reading")
            held = rss_kib(proxy.proc.pid)
            print(f"\nslow reader: origin sent {sent >> 20} MiB of {size >> 20} MiB before blocking; "
                  f"proxy RSS {start} KiB before, {held} KiB while held", flush=True)
            self.assertLess(sent, 64 << 20)  # socket buffers on three hops, not the body
            if not SANITIZED:
                self.assertLess(held - start, 16 * 1024)
        self.assertTrue(upstream.download_ended.wait(h.DEADLINE), "the origin's connection outlived the client's")


if __name__ == "__main__":
    unittest.main()
