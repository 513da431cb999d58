"""Fail closed against a client that tries (issue 9, "Traffic rules"): the attacks of the issue,
run with real peers on loopback. Each class fails (or errors: the keys it configures do not
exist there) against the engine of 8e5dc0c and passes against this one; the stalled hello, the
second server name and the unspecified address also failed against the first engine of issue 9
(3737a8e).

Loopback stands in for Microsoft's sign-in ranges (`sign_in_guard.addresses: [127.0.0.0/8]`);
the metadata addresses are checked with `trproxy explain`, never with traffic. The attack
"CONNECT 127.0.0.1:<admin port>, then GET /metrics" is test_regressions.EgressRulesB6; its
variant through 0.0.0.0 runs in a network namespace of its own."""

import json
import os
import re
import select
import socket
import ssl
import struct
import subprocess
import threading
import unittest
import urllib.request

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())

SIGN_IN = h.AUTH_HOSTS[0]
RECORD = 16384


# --- ClientHellos -------------------------------------------------------------------------------

def both_roots():
    """A CA file trusting trproxy's CA and the upstream test root: a client that would accept
    the proxy's minted leaf and nginx's own certificate alike, so a tunnelled connection is not
    stopped by the client and the test sees where the request really went."""
    path = os.path.join(env.dir, "both-roots.pem")
    if not os.path.exists(path):
        with open(path, "w") as out:
            for name in (env.ca_crt, env.pki.root_crt):
                with open(name) as f:
                    out.write(f.read())
    return path


def long_alpn():
    """An ALPN list of ~20 KiB (http/1.1 first): a ClientHello larger than one 16 KiB record."""
    return ["http/1.1"] + [f"x-{i:03d}-" + "a" * 190 for i in range(100)]


def first_flight(ctx, server_hostname):
    """The bytes `ctx` sends first (its ClientHello), from an in-memory handshake."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def record_lengths(wire):
    out, i = [], 0
    while i + 5 <= len(wire):
        length = struct.unpack(">H", wire[i + 3:i + 5])[0]
        out.append((wire[i], length))
        i += 5 + length
    return out


def client_hello(sni=None, total=None, sni_last=False, second_sni=None):
    """A TLS 1.3-style ClientHello on the wire, grown to `total` handshake bytes with a padding
    extension (type 21), cut into 16 KiB records. With sni_last, the server name comes after the
    padding (in the last record); second_sni adds another server_name extension after it."""
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + b"\x00\x02\x13\x01" + b"\x01\x00"

    def ext(kind, data):
        return struct.pack(">HH", kind, len(data)) + data

    server_name = b""
    if sni:
        name = sni.encode()
        server_name = ext(0, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name)
    extensions = ext(43, b"\x02\x03\x04")  # supported_versions: TLS 1.3
    if not sni_last:
        extensions = server_name + extensions
    if total:
        pad = total - (4 + len(body) + 2 + len(extensions) + len(server_name) * sni_last + 4)
        assert pad >= 0
        extensions += ext(21, b"\0" * pad)
    if sni_last:
        extensions += server_name
    if second_sni:
        name = second_sni.encode()
        extensions += ext(0, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name)
    body += struct.pack(">H", len(extensions)) + extensions
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    assert total is None or len(message) == total
    return b"".join(b"\x16\x03\x01" + struct.pack(">H", len(message[i:i + RECORD])) + message[i:i + RECORD]
                    for i in range(0, len(message), RECORD))


# --- observing the other side -------------------------------------------------------------------

class ByteRecorder(h.PythonUpstream):
    """A TCP upstream that records every byte each connection receives, and when it ends."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connections = []
        super().__init__()

    def handle(self, sock):
        conn = {"data": bytearray(), "closed": False}
        with self.lock:
            self.connections.append(conn)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                with self.lock:
                    conn["data"] += chunk
        finally:
            with self.lock:
                conn["closed"] = True

    def received(self):
        with self.lock:
            return b"".join(bytes(c["data"]) for c in self.connections)

    def settled(self, connections):
        """Waits until `connections` connections were accepted and have all ended; returns the
        bytes they received."""
        def done():
            with self.lock:
                return len(self.connections) >= connections and all(c["closed"] for c in self.connections)

        h.wait_until(done, what=f"{connections} upstream connection(s) accepted and closed")
        return self.received()


def closed_by_peer(sock):
    """True once the peer has closed `sock` (EOF or reset), without consuming data."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def send_all_or_closed(sock, data):
    """Sends data; a proxy that closes part-way (it refuses early) is not an error here."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def metric(proxy, family, labels):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=h.DEADLINE) as r:
        text = r.read().decode()
    m = re.search(rf"^{re.escape(family)}\{{{re.escape(labels)}\}} (\d+)$", text, re.MULTILINE)
    if not m:
        raise AssertionError(f"{family}{{{labels}}} is not in /metrics")
    return int(m.group(1))


def wait_for_metric(proxy, family, labels, at_least):
    return h.wait_until(lambda: metric(proxy, family, labels) >= at_least,
                        what=f"{family}{{{labels}}} >= {at_least}")


def wait_for_access_line(proxy, pattern):
    return h.wait_until(lambda: next((l for l in proxy.access_lines() if re.search(pattern, l)), None),
                        what=f"an access-log line matching {pattern!r}")


def open_egress(port):
    return f"egress:\n  connect_ports: [443, {port}]\n  deny: []\n"


# --- a. a sign-in hello larger than a record, after a CONNECT to an address ---------------------

class LargeSignInHelloIsIntercepted(unittest.TestCase):
    """A CONNECT to an IP literal, then a ClientHello that names the sign-in host and is larger
    than one 16 KiB TLS record (a long ALPN list): the proxy must read the whole hello, see the
    SNI and intercept; 8e5dc0c gave up after one record and tunnelled, so the sign-in reached the
    server untagged."""

    PROXY = "a-literal"

    @classmethod
    def setUpClass(cls):
        cls.good = env.nginx.ports["good"]
        cls.proxy = env.proxy(cls.PROXY, extra=open_egress(cls.good))

    def authority(self):
        return f"127.0.0.1:{self.good}"

    def context(self):
        ctx = ssl.create_default_context(cafile=both_roots())
        ctx.set_alpn_protocols(long_alpn())
        return ctx

    def test_premise_the_hello_spans_two_records(self):
        wire = first_flight(self.context(), SIGN_IN)
        records = record_lengths(wire)
        self.assertGreater(len(wire), RECORD + 5, "the hello must be larger than one TLS record")
        self.assertGreaterEqual(len(records), 2, records)
        self.assertTrue(all(kind == 22 for kind, _ in records), records)

    def test_the_sign_in_is_intercepted_and_tagged(self):
        s, status = h.connect_tunnel(self.proxy, self.authority())
        with s:
            self.assertIn(" 200 ", status)
            with self.context().wrap_socket(s, server_hostname=SIGN_IN) as tls:
                issuer = dict(x[0] for x in tls.getpeercert()["issuer"])["commonName"]
                tls.sendall(f"GET /a HTTP/1.1\r\nHost: {SIGN_IN}\r\nConnection: close\r\n\r\n".encode())
                status, _, body = h.read_response(tls)
        self.assertEqual(status, 200)
        seen = h.echo_fields(body.decode())
        self.assertEqual(seen["strap"], h.V2_VALUE,
                         f"the sign-in reached nginx without the header (certificate issuer: {issuer!r}): tunnelled")
        self.assertNotEqual(issuer, "trproxy test upstream root", "nginx's own certificate: not intercepted")


class LargeSignInHelloAfterAnOrdinaryName(LargeSignInHelloIsIntercepted):
    """The same after a CONNECT to an ordinary name (www.example.com:443 is nginx through
    upstream.resolve). No new configuration key: 8e5dc0c runs it and tunnels untagged."""

    PROXY = "a-named"

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy(cls.PROXY)

    def authority(self):
        return f"{h.OTHER_HOST}:443"


# --- b. the sign-in address guard ---------------------------------------------------------------

class SignInAddressGuard(unittest.TestCase):
    """Loopback stands in for the sign-in service's addresses. Reaching them with no SNI, or with
    an unrelated SNI (domain fronting, the sign-in host in the Host field inside), is closed
    before any TLS reaches nginx; an SNI in tunnel_names is tunnelled; `action: log` tunnels
    but counts and logs. The address decides, whether the CONNECT named it or a name led there."""

    GUARD = 'sign_in_guard:\n  addresses: ["127.0.0.0/8"]\n  tunnel_names: [graph.microsoft.com]\n'
    FRONTED = "fronted.example.net"

    @classmethod
    def setUpClass(cls):
        cls.good = env.nginx.ports["good"]
        resolve = env.resolve_all()
        resolve[cls.FRONTED] = f"127.0.0.1:{cls.good}"
        cls.refusing = env.proxy("b-refuse", resolve=resolve, extra=open_egress(cls.good) + cls.GUARD)
        cls.logging = env.proxy("b-log", resolve=resolve,
                                extra=open_egress(cls.good) + cls.GUARD + "  action: log\n")

    def tls_attempt(self, proxy, authority, sni, host=SIGN_IN):
        return h.get_through_tunnel(self, env.pki.root_crt, proxy, authority, sni, host, "/b")

    def assert_refused(self, authority, sni):
        before_nginx = env.nginx.seen_settled("good")
        before = metric(self.refusing, "trproxy_sign_in_guard_total", 'outcome="refused"')
        seen = self.tls_attempt(self.refusing, authority, sni)
        self.assertIsNone(seen, f"CONNECT {authority} with SNI {sni!r} reached the sign-in address: {seen}")
        self.assertEqual(env.nginx.seen_settled("good"), before_nginx, "nothing may reach nginx")
        wait_for_metric(self.refusing, "trproxy_sign_in_guard_total", 'outcome="refused"', before + 1)

    def test_ip_literal_without_sni_is_closed(self):
        self.assert_refused(f"127.0.0.1:{self.good}", None)
        wait_for_access_line(self.refusing, r"host=127\.0\.0\.1\b.*reason=.*sign_in_guard")

    def test_fronted_sni_with_the_sign_in_host_inside_is_closed(self):
        self.assert_refused(f"127.0.0.1:{self.good}", "www.attacker.example")

    def test_a_name_that_resolves_there_without_sni_is_closed(self):
        self.assert_refused(f"{self.FRONTED}:443", None)
        wait_for_access_line(self.refusing, rf"host={re.escape(self.FRONTED)}\b.*reason=.*sign_in_guard")

    def test_a_tunnel_name_is_tunnelled(self):
        before = metric(self.refusing, "trproxy_sign_in_guard_total", 'outcome="tunnelled"')
        seen = self.tls_attempt(self.refusing, f"127.0.0.1:{self.good}", "graph.microsoft.com",
                                host="graph.microsoft.com")
        self.assertIsNotNone(seen, "graph.microsoft.com is in tunnel_names: it must be tunnelled")
        self.assertEqual(seen["uri"], "/b")
        self.assertEqual(seen["strap"], "", "a tunnel is not intercepted")
        wait_for_metric(self.refusing, "trproxy_sign_in_guard_total", 'outcome="tunnelled"', before + 1)

    def test_action_log_tunnels_and_counts(self):
        before = metric(self.logging, "trproxy_sign_in_guard_total", 'outcome="logged"')
        seen = self.tls_attempt(self.logging, f"127.0.0.1:{self.good}", None, host="www.example.com")
        self.assertIsNotNone(seen, "with action: log the connection is tunnelled")
        self.assertEqual(seen["uri"], "/b")
        wait_for_metric(self.logging, "trproxy_sign_in_guard_total", 'outcome="logged"', before + 1)
        wait_for_access_line(self.logging, r"action=tunnel.*reason=.*sign_in_guard")


# --- c. a hello the proxy cannot read ------------------------------------------------------------

class UnreadableHelloIsClosed(unittest.TestCase):
    """After a CONNECT to an ordinary host, a TLS ClientHello that cannot be parsed, that is
    larger than 64 KiB, that stops half-way or that names two servers is closed: not one byte
    reaches the upstream (the proxy cannot know where it goes). A Python upstream records what
    it receives."""

    NAME = "recorded.example.org"

    def setUp(self):
        self.recorder = ByteRecorder()
        self.addCleanup(self.recorder.close)
        resolve = env.resolve_all()
        resolve[self.NAME] = self.recorder.address
        self.proxy = env.proxy(f"c-{self._testMethodName}", resolve=resolve)
        self.addCleanup(self.proxy.stop)

    def send_after_connect(self, first, rest=b""):
        """CONNECT, send `first`, then wait until the proxy closes the client connection or the
        upstream receives something; in that case `rest` is sent too, as an attacker would.
        Returns (what happened, the bytes the upstream received once its connection ended)."""
        s, status = h.connect_tunnel(self.proxy, f"{self.NAME}:443")
        with s:
            self.assertIn(" 200 ", status)
            send_all_or_closed(s, first)
            outcome = h.wait_until(lambda: ("closed" if closed_by_peer(s) else
                                            "tunnelled" if self.recorder.received() else None),
                                   what="the proxy closing, or the upstream receiving bytes")
            if outcome == "tunnelled":
                send_all_or_closed(s, rest)
        return outcome, self.recorder.settled(1)

    def test_garbage_handshake_in_a_valid_record(self):
        garbage = b"\x01\x00\x00\x3c" + b"\xff" * 0x3c  # a ClientHello header, then nonsense
        outcome, got = self.send_after_connect(b"\x16\x03\x01" + struct.pack(">H", len(garbage)) + garbage)
        self.assertEqual(got, b"", "an unparseable ClientHello was tunnelled")
        self.assertEqual(outcome, "closed")

    def test_hello_over_64k(self):
        wire = client_hello(sni="www.example.org", total=64 * 1024 + 1)
        self.assertEqual(len(record_lengths(wire)), 5)
        outcome, got = self.send_after_connect(wire)
        self.assertEqual(got, b"", "a ClientHello over 64 KiB was tunnelled")
        self.assertEqual(outcome, "closed")

    def test_hello_stalled_after_its_first_record(self):
        # The sign-in name is in the second record, which the client holds back past the 3 s
        # the proxy waits for a hello. Were the first record tunnelled then, the client could
        # send the rest to whatever the CONNECT reached.
        wire = client_hello(sni=SIGN_IN, total=20000, sni_last=True)
        first = wire[:5 + RECORD]
        outcome, got = self.send_after_connect(first, wire[len(first):])
        self.assertEqual(got, b"", "a ClientHello left incomplete past the wait was tunnelled")
        self.assertEqual(outcome, "closed")

    def test_hello_with_a_second_server_name(self):
        # The proxy would see the first name; a server that takes the last one gets the sign-in.
        outcome, got = self.send_after_connect(client_hello(sni="www.example.org", second_sni=SIGN_IN))
        self.assertEqual(got, b"", "a ClientHello naming two servers was tunnelled")
        self.assertEqual(outcome, "closed")

    def test_control_a_40k_hello_to_an_ordinary_name_is_tunnelled_whole(self):
        wire = client_hello(sni=self.NAME, total=40 * 1024)
        s, status = h.connect_tunnel(self.proxy, f"{self.NAME}:443")
        with s:
            self.assertIn(" 200 ", status)
            s.sendall(wire)
            h.wait_until(lambda: len(self.recorder.received()) >= len(wire), what="the whole hello upstream")
        self.assertEqual(self.recorder.settled(1), wire)


# --- d. block and allow with *. wildcards --------------------------------------------------------

class WildcardBlockAndAllow(unittest.TestCase):
    """`block: ["*.example.com"]`, `allow: [www.example.com]`: a blocked name is refused whether
    the CONNECT, the SNI or an absolute-form URL names it, and the PAC agrees."""

    UNLISTED = "unlisted.example.net"

    @classmethod
    def setUpClass(cls):
        resolve = env.resolve_all()
        resolve[cls.UNLISTED] = f"127.0.0.1:{env.nginx.ports['good']}"
        cls.proxy = env.proxy("d", resolve=resolve, block=(h.BLOCKED_HOST, "*.example.com"),
                              extra="allow: [www.example.com]\n")

    def test_connect_to_a_blocked_name_gets_403(self):
        for authority in ("evil.example.com:443", "EVIL.Example.COM.:443", "a.b.example.com:443"):
            with self.subTest(authority=authority):
                s, status = h.connect_tunnel(self.proxy, authority)
                s.close()
                self.assertIn(" 403 ", status)

    def test_connect_to_the_allowed_name_is_tunnelled(self):
        seen = h.get_through_tunnel(self, env.pki.root_crt, self.proxy, f"{h.OTHER_HOST}:443", h.OTHER_HOST, h.OTHER_HOST, "/d",
                                  check_hostname=True)
        self.assertIsNotNone(seen, "the allowed name was not tunnelled")
        self.assertEqual(seen["uri"], "/d")

    def test_blocked_sni_behind_an_unlisted_connect_is_closed(self):
        before = env.nginx.seen_settled("good")
        seen = h.get_through_tunnel(self, env.pki.root_crt, self.proxy, f"{self.UNLISTED}:443", "evil.example.com", "evil.example.com",
                                  "/d-sni")
        self.assertIsNone(seen, "a TLS connection with a blocked SNI was tunnelled")
        self.assertEqual(env.nginx.seen_settled("good"), before, "nothing may reach nginx")

    def test_absolute_form_to_a_blocked_name_gets_403(self):
        status, _, body = h.raw_request(self.proxy, b"GET http://evil.example.com/ HTTP/1.1\r\n"
                                                    b"Host: evil.example.com\r\nConnection: close\r\n\r\n")
        self.assertEqual(status, 403, body)

    def test_pac_sends_blocked_names_to_the_proxy_and_the_allowed_one_direct(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.proxy.admin_port}/proxy.pac",
                                    timeout=h.DEADLINE) as r:
            pac = r.read().decode()
        # Netscape's shExpMatch (shell expression: * and ?), as PAC runtimes provide it.
        script = r"""
            const vm = require('vm');
            const esc = (x) => x.replace(/[.+^${}()|[\]\\]/g, '\\$&');
            const shExpMatch = (s, p) =>
                new RegExp('^' + p.split('*').map((a) => a.split('?').map(esc).join('.')).join('.*') + '$').test(s);
            const c = {shExpMatch};
            vm.createContext(c);
            vm.runInContext(process.argv[1], c);
            for (const host of process.argv.slice(2)) console.log(host + ' ' + c.FindProxyForURL('https://' + host + '/', host));
        """
        hosts = ["evil.example.com", "a.b.example.com", h.OTHER_HOST, "example.com", h.AUTH_HOSTS[0]]
        out = subprocess.run(["node", "-e", script, pac, *hosts], capture_output=True, text=True, timeout=h.DEADLINE)
        self.assertEqual(out.returncode, 0, out.stderr)
        decisions = dict(line.split(" ", 1) for line in out.stdout.splitlines())
        proxy = f"PROXY 127.0.0.1:{self.proxy.port}"
        self.assertEqual(decisions["evil.example.com"], proxy)
        self.assertEqual(decisions["a.b.example.com"], proxy)
        self.assertEqual(decisions[h.AUTH_HOSTS[0]], proxy)
        self.assertEqual(decisions[h.OTHER_HOST], "DIRECT")
        self.assertEqual(decisions["example.com"], "DIRECT", "*.example.com does not match example.com")


# --- e. explain: the metadata rule without traffic -----------------------------------------------

class ExplainEgress(unittest.TestCase):
    """`trproxy explain` answers offline with the engine's decisions: the cloud metadata
    addresses are denied by egress.deny (checked here, never with traffic), and an intercepted
    host shows the exact header line it gets. Run under strace: explain opens no socket."""

    @classmethod
    def setUpClass(cls):
        cls.config = os.path.join(env.dir, "e-explain.yaml")
        with open(cls.config, "w") as f:
            f.write(h.Proxy.render(env.ca_dir, "v2", {}, None, "", 3128, 9090, ""))

    def explain(self, target):
        r = h.run_trproxy("explain", "--config", self.config, target)
        self.assertEqual(r.returncode, 0, f"explain {target}: {r.stdout}{r.stderr}")
        return r.stdout

    def test_metadata_and_link_local_are_denied_by_egress_deny(self):
        for target in ("169.254.169.254:443", "http://169.254.169.254/latest/meta-data/",
                       "[fd00:ec2::254]:443", "http://[fd00:ec2::254]/latest/meta-data/",
                       "100.100.100.200:443", "http://100.100.100.200/latest/meta-data/",
                       "127.0.0.1:443", "[::1]:443", "0.0.0.0:443", "http://224.0.0.1/"):
            with self.subTest(target=target):
                self.assertIn("action: deny (egress.deny", self.explain(target))

    def test_a_metadata_port_that_is_not_a_connect_port_is_denied_too(self):
        self.assertRegex(self.explain("[fd00:ec2::254]:80"), r"action: deny \(egress\.")

    def test_an_auth_host_shows_the_exact_header_line(self):
        out = self.explain(f"https://{SIGN_IN}/common/oauth2/v2.0/authorize")
        self.assertIn("action: intercept\n", out)
        self.assertIn(f"header: sec-Restrict-Tenant-Access-Policy: {h.V2_VALUE}\n", out)

    def test_explain_sends_nothing(self):
        if subprocess.run(["strace", "-V"], capture_output=True).returncode != 0:
            self.skipTest("strace is not available")
        trace = os.path.join(env.dir, "e-explain.strace")
        # LeakSanitizer cannot run under ptrace: an ASan build of trproxy runs here without it.
        traced_env = dict(os.environ)
        traced_env["ASAN_OPTIONS"] = (traced_env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto", "-o", trace,
                            h.TRPROXY, "explain", "--config", self.config, "169.254.169.254:443"],
                           capture_output=True, text=True, timeout=h.DEADLINE, env=traced_env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("action: deny (egress.deny", r.stdout)
        with open(trace) as f:
            calls = [line for line in f if re.search(r"\b(socket|connect|sendto)\(", line)]
        self.assertEqual(calls, [], "explain opened a socket")


# --- f. the proxy's own listeners -------------------------------------------------------------------

NETNS_PROBE = r"""
import json, socket, subprocess, sys
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
import harness as h
folder, ca_dir, extra = sys.argv[1:4]
results = {}
with h.Proxy(folder, ca_dir, extra=extra) as proxy:
    for target in (f"0.0.0.0:{proxy.admin_port}", f"[::ffff:0.0.0.0]:{proxy.admin_port}", f"[::]:{proxy.port}",
                   f"0.0.0.0:{proxy.port}"):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE) as s:
            s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"
                      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            results[target] = h.read_all_until_close(s).decode(errors="replace")
print(json.dumps(results))
"""


class OwnListenersThroughTheUnspecifiedAddress(unittest.TestCase):
    """`CONNECT 127.0.0.1:<admin port>` then `GET /metrics` is test_regressions.EgressRulesB6.
    The kernel connects 0.0.0.0 (and ::) to loopback, so with an egress.deny that leaves them out
    (`deny: []` here) `CONNECT 0.0.0.0:<admin port>` reached /metrics through the proxy. Traffic to
    0.0.0.0 is only sent inside a network namespace of its own (unshare -rn), where it cannot
    leave the namespace's loopback."""

    def test_connect_to_the_unspecified_address_never_reaches_the_proxy_itself(self):
        if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
            self.skipTest("cannot create a network namespace (unshare -rn)")
        folder = os.path.join(env.dir, "f-netns")
        extra = 'egress:\n  connect_ports: ["1-65535"]\n  deny: []\n'
        r = subprocess.run(["unshare", "-rn", "python3", "-c", NETNS_PROBE, folder, env.ca_dir, extra],
                           cwd=os.path.dirname(os.path.abspath(__file__)), capture_output=True, text=True,
                           timeout=3 * h.DEADLINE)
        self.assertEqual(r.returncode, 0, r.stderr)
        results = json.loads(r.stdout.splitlines()[-1])
        self.assertEqual(len(results), 4)
        for target, response in results.items():
            with self.subTest(target=target):
                self.assertFalse("trproxy_" in response,
                                 f"the admin listener answered through the proxy: {response[:120]!r}")
                self.assertTrue(response.startswith("HTTP/1.1 403 "), response[:200])


if __name__ == "__main__":
    unittest.main()
