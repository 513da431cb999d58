"""Black-box regression tests for the engine bugs B1-B8 of the engine review (as of commit
8e5dc0c, /work/shared/engine-review.md section 0). Each class is named after its bug and fails
against that commit's binary for the bug's own reason."""

import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import time
import unittest

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())

PLAIN = "plain.example.com"


def plain_resolve():
    """Every name at the TLS echo server, except plain.example.com at the plain-HTTP one."""
    resolve = env.resolve_all("good")
    resolve[PLAIN] = f"127.0.0.1:{env.nginx.ports['plain']}"
    return resolve


def read_until_closed(sock, timeout):
    """(bytes, closed): everything received until the peer closes or `timeout` passes."""
    end = time.monotonic() + timeout
    data = b""
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return data, False
        except (ConnectionResetError, ssl.SSLError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


def trickle(sock, payload, interval, give_up_after):
    """Sends payload one byte per `interval` s, reading whatever comes back, until the peer
    closes or `give_up_after` s have passed since the first byte. Returns (seconds from the
    first byte to the close, or None if still open; bytes received)."""
    sock.setblocking(False)
    received = b""
    first = time.monotonic()
    next_send = first
    sent = 0
    while True:
        now = time.monotonic()
        if now - first >= give_up_after:
            return None, received
        if now >= next_send and sent < len(payload):
            try:
                sock.send(payload[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed; the read below sees it
            sent += 1
            next_send += interval
        wait = max(0.0, min(next_send, first + give_up_after) - time.monotonic())
        readable, _, _ = select.select([sock], [], [], wait)
        if readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return time.monotonic() - first, received
            received += chunk


class HeadDeadlineB1(unittest.TestCase):
    """B1: limits.head_timeout must be an absolute deadline on a whole request head, running
    from its first byte (from accept for the first request), not an idle timeout re-armed by
    every read (slowloris). Partial head at expiry: 408, then close; nothing sent: close."""

    TIMEOUT = 1.0
    LOWER = 0.9
    UPPER = 3.0 * h.TIME_SCALE
    # Never a complete head: the proxy can only time it out.
    SLOW_HEAD = (f"GET http://{PLAIN}/slow HTTP/1.1\r\nHost: {PLAIN}\r\nX-Slow: ".encode() + b"a" * 200)

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("b1", resolve=plain_resolve(), extra="limits:\n  head_timeout: 1s\n")

    def assert_408_within_bounds(self, sock):
        closed_after, received = trickle(sock, self.SLOW_HEAD, interval=0.25, give_up_after=8.0)
        self.assertIsNotNone(closed_after, "a client trickling one byte every 0.25 s was still connected 8 s "
                                           f"after its first byte (received {received[:80]!r}): the head "
                                           "deadline is re-armed by every read")
        self.assertTrue(received.startswith(b"HTTP/1.1 408"), f"expected a 408 before the close, got {received!r}")
        self.assertGreaterEqual(closed_after, self.LOWER)
        self.assertLessEqual(closed_after, self.UPPER)

    def test_trickling_client_gets_408_at_the_head_deadline(self):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) as s:
            self.assert_408_within_bounds(s)

    def test_trickled_second_head_on_a_kept_alive_connection_gets_408(self):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) as s:
            s.sendall(f"GET http://{PLAIN}/first HTTP/1.1\r\nHost: {PLAIN}\r\n\r\n".encode())
            status, _, body = h.read_response(s)
            self.assertEqual(status, 200)
            self.assertEqual(h.echo_fields(body.decode())["uri"], "/first")
            self.assert_408_within_bounds(s)

    def test_silent_client_is_closed_without_a_response_at_the_head_deadline(self):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) as s:
            started = time.monotonic()
            data, closed = read_until_closed(s, h.DEADLINE)
            elapsed = time.monotonic() - started
        self.assertTrue(closed, "a silent client was not closed")
        self.assertEqual(data, b"", "a client that sent nothing gets no response")
        self.assertGreaterEqual(elapsed, self.LOWER)
        self.assertLessEqual(elapsed, self.UPPER)


class PolicyPerRequestB2(unittest.TestCase):
    """B2: after SIGHUP the next request on a kept-alive connection uses the new policy
    (DESIGN "Policy applies per request"), not the snapshot taken when it was accepted."""

    def reload_to_v1(self, proxy, resolve):
        proxy.write_config(env.ca_dir, "v1", resolve, env.pki.root_crt, "")
        proxy.reload()

    def test_intercepted_keep_alive_connection_gets_v1_after_reload(self):
        host = h.AUTH_HOSTS[0]
        with env.proxy("b2-intercept") as proxy, h.tls_through(proxy, host, env.ca_crt) as tls:
            tls.sendall(f"GET /one HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, _, body = h.read_response(tls)
            self.assertEqual(status, 200)
            self.assertEqual(h.echo_fields(body.decode())["strap"], h.V2_VALUE)
            self.reload_to_v1(proxy, env.resolve_all())
            tls.sendall(f"GET /two HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, _, body = h.read_response(tls)
            self.assertEqual(status, 200)
            seen = h.echo_fields(body.decode())
            self.assertEqual(seen["uri"], "/two")
            self.assertEqual((seen["strap"], seen["rat"], seen["rac"]), ("", h.V1_TENANTS, h.V1_CONTEXT),
                             "the second request on the same connection still had the pre-reload policy")

    def test_plain_forward_keep_alive_connection_gets_v1_after_reload(self):
        host = h.AUTH_HOSTS[1]
        resolve = env.resolve_all("plain")
        with env.proxy("b2-forward", resolve=resolve) as proxy, \
                socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE) as s:
            s.sendall(f"GET http://{host}/one HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, _, body = h.read_response(s)
            self.assertEqual(status, 200)
            self.assertEqual(h.echo_fields(body.decode())["strap"], h.V2_VALUE)
            self.reload_to_v1(proxy, resolve)
            s.sendall(f"GET http://{host}/two HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, _, body = h.read_response(s)
            self.assertEqual(status, 200)
            seen = h.echo_fields(body.decode())
            self.assertEqual(seen["uri"], "/two")
            self.assertEqual((seen["strap"], seen["rat"], seen["rac"]), ("", h.V1_TENANTS, h.V1_CONTEXT),
                             "the second request on the same connection still had the pre-reload policy")


class ReloadEndsWhatPolicyNoLongerAllows(unittest.TestCase):
    """DESIGN "Policy applies per request": a tunnel whose host becomes blocked (or intercepted)
    by a reload is closed within 1 s; an intercepted connection whose host is no longer
    intercepted is closed after its current response."""

    def test_tunnel_to_a_newly_blocked_host_is_closed_within_1s(self):
        with env.proxy("reload-block") as proxy, \
                h.tls_through(proxy, h.OTHER_HOST, env.pki.root_crt) as tls:
            tls.sendall(f"GET /before HTTP/1.1\r\nHost: {h.OTHER_HOST}\r\n\r\n".encode())
            status, _, _ = h.read_response(tls)
            self.assertEqual(status, 200)
            with open(proxy.config, "w") as f:
                f.write(h.Proxy.render(env.ca_dir, "v2", env.resolve_all(), env.pki.root_crt, "", proxy.listen_port,
                                       proxy.admin_listen_port, proxy.access_log,
                                       block=(h.BLOCKED_HOST, h.OTHER_HOST)))
            proxy.reload()
            reloaded_at = time.monotonic()
            data, closed = read_until_closed(tls, 3.0)
            self.assertTrue(closed, "the tunnel to a host blocked by the reload stayed open")
            self.assertLess(time.monotonic() - reloaded_at, 1.5)

    def test_tunnel_to_a_host_still_allowed_stays_open(self):
        with env.proxy("reload-keep") as proxy, \
                h.tls_through(proxy, h.OTHER_HOST, env.pki.root_crt) as tls:
            proxy.reload()
            tls.sendall(f"GET /after HTTP/1.1\r\nHost: {h.OTHER_HOST}\r\n\r\n".encode())
            status, _, body = h.read_response(tls)
            self.assertEqual(status, 200)
            self.assertEqual(h.echo_fields(body.decode())["uri"], "/after")

    def test_intercepted_connection_closes_after_its_host_stops_being_intercepted(self):
        host = h.AUTH_HOSTS[0]
        with env.proxy("reload-unintercept") as proxy, h.tls_through(proxy, host, env.ca_crt) as tls:
            tls.sendall(f"GET /one HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, _, _ = h.read_response(tls)
            self.assertEqual(status, 200)
            others = [a for a in h.AUTH_HOSTS if a != host]
            proxy.write_config(env.ca_dir, "v2", env.resolve_all(), env.pki.root_crt, "",
                               tenant_extra=f"  auth_hosts: [{', '.join(others)}]\n")
            proxy.reload()
            data, closed = read_until_closed(tls, 3.0)
            self.assertTrue(closed, "an idle intercepted connection to a host no longer intercepted stayed open")


DNS_PROBE = r"""
set -e
trap 'kill $(jobs -p) 2>/dev/null' EXIT  # on every exit, the early ones too
ip link set lo up
mount --bind "$1/resolv.conf" /etc/resolv.conf
python3 -c "
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 53))
open(sys.argv[1] + '/dns.bound', 'w').close(); time.sleep(30)" "$1" &
# Bounded waits (15 s each) for the silent server's bind and the proxy's listener: a query sent
# before the bind would be refused at once, a 502 and not the timeout this is about.
for i in $(seq 300); do [ -e "$1/dns.bound" ] && break; sleep 0.05; done
[ -e "$1/dns.bound" ] || { echo "the silent DNS server did not bind" >&2; exit 1; }
"$2" --config "$1/dns.yaml" 2>"$1/dns.err" >/dev/null &
for i in $(seq 300); do grep -q "listening on" "$1/dns.err" && break; sleep 0.05; done
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$1/dns.err" | cut -d: -f2)
[ -n "$port" ] || { echo "trproxy did not listen: $(tail -n 5 "$1/dns.err")" >&2; exit 1; }
python3 - "$port" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
started = time.monotonic()
s.sendall(b"CONNECT slow.example.org:443 HTTP/1.1\r\nHost: slow.example.org:443\r\n\r\n")
print(s.recv(200).split(b"\r\n")[0].decode(), round(time.monotonic() - started, 2))
PY
"""


class DnsUnderConnectTimeoutB9(unittest.TestCase):
    """B9: the name lookup counts against upstream.connect_timeout. In a network namespace of its
    own, /etc/resolv.conf names a DNS server on 127.0.0.1 that never answers (resolv.conf: 5 s
    timeout, 2 attempts); with connect_timeout 1s the CONNECT must get 504 in about 1 s."""

    def test_a_silent_dns_server_gives_504_at_connect_timeout(self):
        if shutil.which("unshare") is None or os.geteuid() != 0:
            self.skipTest("needs root and unshare for a private network and mount namespace")
        folder = os.path.join(env.dir, "dns")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:5 attempts:2\n")
        with open(os.path.join(folder, "dns.yaml"), "w") as f:
            f.write(h.Proxy.render(env.ca_dir, "v2", {}, env.pki.root_crt, "", 0, 0, "")
                    .replace("connect_timeout: 2s", "connect_timeout: 1s"))
        r = subprocess.run(["unshare", "-nm", "bash", "-c", DNS_PROBE, "probe", folder, h.TRPROXY],
                           capture_output=True, text=True, timeout=3 * h.DEADLINE)
        self.assertEqual(r.returncode, 0, r.stderr)
        status, seconds = r.stdout.strip().rsplit(" ", 1)
        self.assertIn(" 504 ", status + " ")
        self.assertGreaterEqual(float(seconds), 0.9)
        self.assertLess(float(seconds), 4.0, "the lookup was not bounded by connect_timeout")


class ForwardRequestFramingB3(unittest.TestCase):
    """B3: on the plain-HTTP forward path the request head's views pointed into a buffer that the
    body pump overwrote: a 4-byte body `HEAD` arriving just after the head made the proxy frame
    the response as a HEAD response and drop its body."""

    ROUNDS = 100
    MAX_FAILURES = 5  # enough to prove the bug; stops a broken engine from taking minutes

    def test_post_with_body_head_in_a_second_segment_keeps_every_response_body(self):
        head = (f"POST http://{PLAIN}/b3 HTTP/1.1\r\nHost: {PLAIN}\r\nContent-Length: 4\r\n"
                "Connection: close\r\n\r\n").encode()
        failures = []
        with env.proxy("b3", resolve=plain_resolve()) as proxy:
            for i in range(self.ROUNDS):
                with socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE) as s:
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    s.sendall(head)
                    time.sleep(0.0002)  # the subject: the body comes in its own segment, just after
                    s.sendall(b"HEAD")
                    try:
                        status, text, body = h.read_response(s, timeout=5)
                    except (socket.timeout, TimeoutError):
                        status, text, body = "timeout", "", b""
                length = int(re.search(r"(?im)^content-length:\s*(\d+)", text).group(1)) if status == 200 else -1
                if status != 200 or len(body) != length or b"method=POST" not in body:
                    failures.append((i, status, len(body), length))
                    if len(failures) >= self.MAX_FAILURES:
                        break
        self.assertEqual(failures, [], f"responses that lost their body (round, status, got, Content-Length), "
                                       f"stopped after {self.MAX_FAILURES}")


class ServerSpeaksFirstB4(unittest.TestCase):
    """B4: a CONNECT to an ordinary host whose client stays silent must become a working tunnel
    after the 3 s ClientHello wait (DESIGN: "protocols where the server speaks first"); the old
    engine's peek timeout closed the client socket instead."""

    NAME = "banner.example.com"

    @classmethod
    def setUpClass(cls):
        cls.server = h.BannerEchoServer()
        resolve = env.resolve_all()
        resolve[cls.NAME] = cls.server.address
        cls.proxy = env.proxy("b4", resolve=resolve)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def read_exactly(self, sock, n):
        data = b""
        sock.settimeout(h.DEADLINE)
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def test_silent_client_receives_the_banner_and_the_tunnel_works(self):
        s, status = h.connect_tunnel(self.proxy, f"{self.NAME}:443")
        with s:
            self.assertIn(" 200 ", status)
            banner = self.read_exactly(s, len(h.BannerEchoServer.BANNER))
            self.assertEqual(banner, h.BannerEchoServer.BANNER, "the tunnel closed before the server's banner")
            s.sendall(b"ping\r\n")
            self.assertEqual(self.read_exactly(s, 6), b"ping\r\n")

    def test_client_that_speaks_after_4s_of_silence_gets_the_echo(self):
        s, status = h.connect_tunnel(self.proxy, f"{self.NAME}:443")
        with s:
            self.assertIn(" 200 ", status)
            time.sleep(4)  # the subject: silence past the 3 s ClientHello wait
            try:
                s.sendall(b"hello\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.fail("the tunnel was closed during the client's silence")
            expected = h.BannerEchoServer.BANNER + b"hello\r\n"
            self.assertEqual(self.read_exactly(s, len(expected)), expected)


class OneDispatchB5(unittest.TestCase):
    """B5: every request on a proxy connection goes through the same dispatch, so a kept-alive
    connection that carried an absolute-form GET still accepts CONNECT and the PAC request."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("b5", resolve=plain_resolve())

    def first_forward(self, s):
        s.sendall(f"GET http://{PLAIN}/first HTTP/1.1\r\nHost: {PLAIN}\r\n\r\n".encode())
        status, _, body = h.read_response(s)
        self.assertEqual(status, 200)
        self.assertEqual(h.echo_fields(body.decode())["uri"], "/first")

    def test_connect_after_an_absolute_form_get(self):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) as s:
            self.first_forward(s)
            s.sendall(f"CONNECT {h.OTHER_HOST}:443 HTTP/1.1\r\nHost: {h.OTHER_HOST}:443\r\n\r\n".encode())
            status, head, rest = h.read_head(s)
            self.assertEqual(status, 200, head)
            self.assertEqual(rest, b"")
            ctx = ssl.create_default_context(cafile=env.pki.root_crt)  # a blind tunnel: nginx's certificate
            with ctx.wrap_socket(s, server_hostname=h.OTHER_HOST) as tls:
                tls.sendall(f"GET /through HTTP/1.1\r\nHost: {h.OTHER_HOST}\r\nConnection: close\r\n\r\n".encode())
                status, _, body = h.read_response(tls)
            self.assertEqual(status, 200)
            self.assertEqual(h.echo_fields(body.decode())["uri"], "/through")

    def test_pac_after_an_absolute_form_get(self):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) as s:
            self.first_forward(s)
            s.sendall(f"GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1:{self.proxy.port}\r\n\r\n".encode())
            status, head, body = h.read_response(s)
        self.assertEqual(status, 200, body)
        self.assertRegex(head, r"(?im)^content-type: application/x-ns-proxy-autoconfig\r?$")
        self.assertIn(b"FindProxyForURL", body)


class EgressRulesB6(unittest.TestCase):
    """B6: DESIGN "Egress rules": CONNECT only to egress.connect_ports (default 443),
    absolute-form only to egress.forward_ports (default 80), never to a denied address
    (loopback ...) nor to the proxy's own listeners; a refusal is a 403 with a one-line reason
    before any byte reaches the destination. upstream.resolve addresses are exempt from the
    address list, not from the port rules."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("b6", resolve=plain_resolve())

    def assert_refused(self, raw):
        """403 with a non-empty reason; returns everything the client got until the close."""
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) as s:
            s.sendall(raw)
            status, head, body = h.read_response(s)
            # Whatever follows (until close, or 2 s of quiet) must not come from the destination.
            rest, _ = read_until_closed(s, 2.0)
        self.assertEqual(status, 403, f"{raw[:60]!r} got {head!r}")
        self.assertTrue(body.strip(), "a refusal carries a reason")
        return body + rest

    def test_connect_to_the_admin_listener_is_refused_and_never_reaches_it(self):
        # The GET is pipelined behind the CONNECT: if the tunnel were opened, the admin
        # listener would answer it with the metrics.
        got = self.assert_refused(
            f"CONNECT 127.0.0.1:{self.proxy.admin_port} HTTP/1.1\r\nHost: 127.0.0.1:{self.proxy.admin_port}\r\n\r\n"
            f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.assertNotIn(b"trproxy_", got)

    def test_connect_to_the_proxy_listener_is_refused(self):
        self.assert_refused(f"CONNECT 127.0.0.1:{self.proxy.port} HTTP/1.1\r\n"
                            f"Host: 127.0.0.1:{self.proxy.port}\r\n\r\n".encode())

    def test_connect_to_loopback_on_443_is_refused(self):
        self.assert_refused(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n")

    def test_connect_to_a_port_outside_connect_ports_is_refused(self):
        # www.example.com is in upstream.resolve: its address is exempt, its port is not.
        self.assert_refused(f"CONNECT {h.OTHER_HOST}:8443 HTTP/1.1\r\nHost: {h.OTHER_HOST}:8443\r\n\r\n".encode())

    def test_absolute_form_to_the_admin_listener_is_refused(self):
        got = self.assert_refused(f"GET http://127.0.0.1:{self.proxy.admin_port}/metrics HTTP/1.1\r\n"
                                  f"Host: 127.0.0.1:{self.proxy.admin_port}\r\n\r\n".encode())
        self.assertNotIn(b"trproxy_", got)

    def test_absolute_form_to_a_port_outside_forward_ports_is_refused(self):
        self.assert_refused(f"GET http://{PLAIN}:8080/ HTTP/1.1\r\nHost: {PLAIN}:8080\r\n\r\n".encode())

    def test_control_resolved_hosts_on_loopback_are_allowed_on_the_default_ports(self):
        s, status = h.connect_tunnel(self.proxy, f"{h.OTHER_HOST}:443")
        s.close()
        self.assertIn(" 200 ", status)
        status, _, body = h.raw_request(self.proxy, f"GET http://{PLAIN}/ok HTTP/1.1\r\nHost: {PLAIN}\r\n"
                                                    "Connection: close\r\n\r\n".encode())
        self.assertEqual(status, 200)
        self.assertEqual(h.echo_fields(body.decode())["uri"], "/ok")


class UnderscoreTenantHeadersB7(unittest.TestCase):
    """B7: the tenant-restriction field names spelled with `_` for `-` (any case) are removed
    like the originals (DESIGN "Header field names are not bent"); only the inserted header
    reaches the upstream. nginx drops underscore fields, so a Python origin records the raw
    head, and a control field proves that underscore names are visible there."""

    TENANT_NAMES = {"restrict-access-to-tenants", "restrict-access-context", "sec-restrict-tenant-access-policy"}
    SPOOFS = ("Restrict_Access_To_Tenants: evil.example\r\n"
              "restrict_access_context: 00000000-0000-0000-0000-000000000000\r\n"
              "sec_Restrict_Tenant_Access_Policy: 00000000-0000-0000-0000-000000000000:x\r\n"
              "RESTRICT_ACCESS-TO_TENANTS: evil2.example\r\n"
              "Sec-Restrict_Tenant-Access_Policy: restrict-msa\r\n")
    CONTROL = "X_Underscore_Control"

    def request(self, target, host):
        return (f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{self.SPOOFS}{self.CONTROL}: kept\r\n"
                "Connection: close\r\n\r\n").encode()

    def assert_only_the_inserted_header(self, recorder):
        self.assertEqual(len(recorder.heads), 1)
        names = recorder.field_names()
        self.assertIn(self.CONTROL, names, "control: an underscore field must be visible at the recorder")
        tenant = [n for n in names if n.lower().replace("_", "-") in self.TENANT_NAMES]
        self.assertEqual(tenant, ["sec-Restrict-Tenant-Access-Policy"], recorder.heads[-1])
        self.assertIn(f"sec-Restrict-Tenant-Access-Policy: {h.V2_VALUE}\r\n", recorder.heads[-1] + "\r\n")

    def test_intercepted_request(self):
        host = h.AUTH_HOSTS[0]
        with h.HeadRecorder(tls_cert=env.pki.good) as recorder:
            with env.proxy("b7-intercept", resolve={host: recorder.address}) as proxy, \
                    h.tls_through(proxy, host, env.ca_crt) as tls:
                tls.sendall(self.request("/b7", host))
                status, _, body = h.read_response(tls)
            self.assertEqual(status, 200, body)
            self.assert_only_the_inserted_header(recorder)

    def test_plain_forward_to_a_sign_in_host(self):
        host = h.AUTH_HOSTS[2]
        with h.HeadRecorder() as recorder:
            with env.proxy("b7-forward", resolve={host: recorder.address}) as proxy:
                status, _, body = h.raw_request(proxy, self.request(f"http://{host}/b7", host))
            self.assertEqual(status, 200, body)
            self.assert_only_the_inserted_header(recorder)

    def test_control_an_ordinary_host_gets_the_underscore_fields_untouched(self):
        # Not a sign-in host: nothing is stripped, so the recorder sees every spoofed name as
        # sent. This proves the observation above can see the fields when they pass.
        with h.HeadRecorder() as recorder:
            with env.proxy("b7-control", resolve={PLAIN: recorder.address}) as proxy:
                status, _, body = h.raw_request(proxy, self.request(f"http://{PLAIN}/b7", PLAIN))
            self.assertEqual(status, 200, body)
            sent = [line.split(":", 1)[0] for line in self.SPOOFS.splitlines()]
            self.assertEqual([n for n in recorder.field_names() if n in sent], sent)


class CheckLoadsTheCaB8(unittest.TestCase):
    """B8: `--check` must load the CA exactly as a start does, so a missing CA file fails it
    with exit code 2 naming the file (systemd's ExecStartPre relies on it)."""

    def test_missing_ca_files_fail_check_naming_the_file(self):
        for missing in ("ca.crt", "ca.key"):
            with self.subTest(missing=missing):
                folder = os.path.join(env.dir, f"b8-no-{missing}")
                os.makedirs(folder, exist_ok=True)
                for name in ("ca.crt", "ca.key"):
                    if name != missing:
                        shutil.copy(os.path.join(env.ca_dir, name), os.path.join(folder, name))
                config = os.path.join(folder, "trproxy.yaml")
                with open(config, "w") as f:
                    f.write(h.Proxy.render(folder, "v2", {}, None, "", 3128, 9090, ""))
                r = h.run_trproxy("--config", config, "--check")
                self.assertEqual(r.returncode, 2, f"--check with no {missing}: {r.stdout}{r.stderr}")
                self.assertIn(os.path.join(folder, missing), r.stderr)


if __name__ == "__main__":
    unittest.main()
