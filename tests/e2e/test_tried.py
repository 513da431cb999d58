"""Defects found by trying (issue 19): each class reproduces one defect of the adversarial review
of b13a49d through the real binary, and fails against that binary for the defect's own reason.

The sign-in origin here is Python's TLS over memory BIOs, so a test decides how the response
bytes are cut into TLS records and TCP writes (two records in one write is what Asio's
ssl::stream hid from the pool's readiness check)."""

import itertools
import os
import resource
import socket
import ssl
import threading
import time
import unittest

import harness as h
from test_parent_proxy import ParentProxy

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())

HOST = h.AUTH_HOSTS[0]


def ok(body, extra=b""):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


STOLEN = ok(b"stolen: another client's sign-in response")


class RecordOrigin(h.PythonUpstream):
    """A keep-alive TLS origin for the sign-in hosts. `responder(request_line, head)` returns
    the response as a list of TLS records, all sent in one TCP write; None answers nothing.
    Records (connection number, request line, head) of every request and the plaintext each
    connection received."""

    def __init__(self, cert, responder):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(*cert)
        self.responder = responder
        self.requests = []
        self.received = {}
        self.closed = set()
        self.lock = threading.Lock()
        self.numbers = itertools.count(1)
        super().__init__()  # plain TCP: the TLS is ours, over memory BIOs

    def handle(self, sock):
        number = next(self.numbers)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_side=True)

        def flush():
            data = outgoing.read()
            if data:
                sock.sendall(data)

        def pull():
            data = sock.recv(65536)
            if not data:
                raise EOFError
            incoming.write(data)

        def read():
            while True:
                try:
                    return tls.read(65536)
                except ssl.SSLWantReadError:
                    flush()
                    pull()

        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    flush()
                    pull()
            flush()
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = read()
                    with self.lock:
                        self.received[number] = self.received.get(number, b"") + chunk
                    data += chunk
                head, data = data.split(b"\r\n\r\n", 1)
                line = head.split(b"\r\n", 1)[0].decode()
                with self.lock:
                    self.requests.append((number, line, head.decode("latin-1")))
                records = self.responder(line, head)
                if records is None:
                    while True:  # keep reading what comes (a body) until the proxy closes
                        chunk = read()
                        with self.lock:
                            self.received[number] += chunk
                for record in records:
                    tls.write(record)
                flush()  # every record in one TCP write
        except (EOFError, ssl.SSLZeroReturnError, ssl.SSLEOFError):
            pass
        finally:
            with self.lock:
                self.closed.add(number)

    def connection_of(self, request_line):
        with self.lock:
            return [n for n, line, _ in self.requests if line == request_line]


def leaky(line, head):
    """Bytes after a complete response, in a record of their own, in the same TCP write."""
    parts = line.split(" ", 2)
    if len(parts) < 3:  # a body this origin does not parse (a chunked POST's rest)
        return []
    method, path, _ = parts
    if path == "/two-records":
        return [ok(b"first"), STOLEN]
    if path == "/head":
        return [b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", b"a body"]
    if path == "/no-content":
        return [b"HTTP/1.1 204 No Content\r\n\r\n", STOLEN]
    if path == "/not-modified":
        return [b"HTTP/1.1 304 Not Modified\r\n\r\n", STOLEN]
    if path == "/trailer":
        return None
    return [ok(b"answer:" + path.encode())]


def get(sock, path, method="GET", extra=""):
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n".encode())


class Origin:
    origin = proxy = None

    @classmethod
    def setUpClass(cls):
        cls.origin = RecordOrigin(env.pki.good, leaky)
        resolve = env.resolve_all()
        for host in h.AUTH_HOSTS:
            resolve[host] = cls.origin.address
        # One worker: every client connection meets the same upstream pool.
        cls.proxy = env.proxy(cls.__name__, resolve=resolve, threads=1, extra=getattr(cls, "EXTRA", ""))

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.origin.close()

    def client(self):
        return h.tls_through(self.proxy, HOST, env.ca_crt)


class PooledConnectionAnswersNextClient(Origin, unittest.TestCase):
    """1: bytes behind a complete response, in their own TLS record, must end that upstream
    connection; before, the pool handed it to the next client, who read them as its answer."""

    def check(self, path, method="GET"):
        with self.client() as first:
            get(first, path, method)
            status, head, rest = h.read_head(first)
            self.assertIn(status, (200, 204, 304))
        for attempt in range(3):  # whatever the pool holds now, every next client gets its own answer
            own = f"/after{path}/{attempt}"
            with self.client() as second:
                get(second, own)
                status, _, body = h.read_response(second)
            self.assertEqual((status, body), (200, b"answer:" + own.encode()), f"after {method} {path}")

    def test_a_second_record_in_the_same_write(self):
        self.check("/two-records")

    def test_a_body_after_head(self):
        self.check("/head", "HEAD")

    def test_a_body_after_204(self):
        self.check("/no-content")

    def test_a_body_after_304(self):
        self.check("/not-modified")

    def test_a_clean_connection_is_still_reused(self):
        with self.client() as first:
            get(first, "/clean")
            self.assertEqual(h.read_response(first)[2], b"answer:/clean")
        with self.client() as second:
            get(second, "/clean-again")
            self.assertEqual(h.read_response(second)[2], b"answer:/clean-again")
        self.assertEqual(self.origin.connection_of("GET /clean HTTP/1.1"),
                         self.origin.connection_of("GET /clean-again HTTP/1.1"))


class NegotiateRequestPinsUpstream(Origin, unittest.TestCase):
    """6: a request that carries Authorization: Negotiate/NTLM authenticates its upstream
    connection even when the answer carries no WWW-Authenticate: it never serves another client."""

    def test_authorization_pins(self):
        for scheme in ("Negotiate", "NTLM", "negotiate"):
            with self.subTest(scheme=scheme):
                with self.client() as first:
                    get(first, f"/auth/{scheme}", extra=f"Authorization: {scheme} YIIB\r\n")
                    self.assertEqual(h.read_response(first)[0], 200)
                    with self.client() as second:
                        get(second, f"/other/{scheme}")
                        self.assertEqual(h.read_response(second)[0], 200)
                    # The first client's connection goes on on its own upstream connection.
                    get(first, f"/auth-again/{scheme}")
                    self.assertEqual(h.read_response(first)[0], 200)
                authed = self.origin.connection_of(f"GET /auth/{scheme} HTTP/1.1")
                self.assertNotEqual(authed, self.origin.connection_of(f"GET /other/{scheme} HTTP/1.1"))
                self.assertEqual(authed, self.origin.connection_of(f"GET /auth-again/{scheme} HTTP/1.1"))

    def test_basic_does_not_pin(self):
        with self.client() as first:
            get(first, "/basic", extra="Authorization: Basic dXNlcjpwYXNz\r\n")
            self.assertEqual(h.read_response(first)[0], 200)
        with self.client() as second:
            get(second, "/after-basic")
            self.assertEqual(h.read_response(second)[0], 200)
        self.assertEqual(self.origin.connection_of("GET /basic HTTP/1.1"),
                         self.origin.connection_of("GET /after-basic HTTP/1.1"))


class ConnectionNominatesInjectedHeader(Origin, unittest.TestCase):
    """2: a Connection token naming a tenant-restriction field would make the next hop delete
    the header trproxy inserted: 400, nothing forwarded."""

    def test_intercepted(self):
        for tokens in ("keep-alive, sec-Restrict-Tenant-Access-Policy", "Restrict-Access-To-Tenants",
                       "close,restrict-access-context", "SEC-RESTRICT-TENANT-ACCESS-POLICY  "):
            with self.subTest(tokens=tokens):
                with self.client() as s:
                    get(s, "/nominated", extra=f"Connection: {tokens}\r\n")
                    status, _, body = h.read_response(s)
                self.assertEqual(status, 400)
                self.assertIn(b"Connection", body)
        self.assertEqual(self.origin.connection_of("GET /nominated HTTP/1.1"), [])

    def test_plain_forward(self):
        status, _, _ = h.raw_request(self.proxy, b"GET http://plain.example.com/ HTTP/1.1\r\n"
                                                 b"Host: plain.example.com\r\n"
                                                 b"Connection: Restrict-Access-Context\r\n\r\n")
        self.assertEqual(status, 400)

    def test_ordinary_tokens_pass(self):
        with self.client() as s:
            get(s, "/ordinary", extra="Connection: keep-alive, x-trace\r\n")
            self.assertEqual(h.read_response(s)[0], 200)


class TrailerCarriesTenantField(Origin, unittest.TestCase):
    """3: a tenant-restriction field in a chunked trailer fails closed: both connections end,
    nothing of it reaches the origin, the refusal is counted and logged with its reason."""

    def test_trailer_refused(self):
        for name in ("sec-Restrict-Tenant-Access-Policy", "RESTRICT-ACCESS-TO-TENANTS", "Restrict_Access_Context"):
            with self.subTest(name=name):
                before = h.scrape(self.proxy).get('trproxy_requests_refused_total{status="400"}', 0)
                lines = len(self.proxy.access_lines())
                seen = len(self.origin.connection_of("POST /trailer HTTP/1.1"))
                with self.client() as s:
                    get(s, "/trailer", "POST", "Transfer-Encoding: chunked\r\n")
                    s.sendall(f"5\r\nhello\r\n0\r\n{name}: spoofed-tenant:spoofed-policy\r\n\r\n".encode())
                    self.assertEqual(h.read_all_until_close(s), b"")
                # The origin's thread records the head on its own time: the proxy may close first.
                h.wait_until(lambda: len(self.origin.connection_of("POST /trailer HTTP/1.1")) > seen,
                             what="the origin recording the request")
                number = self.origin.connection_of("POST /trailer HTTP/1.1")[-1]
                h.wait_until(lambda: number in self.origin.closed, what="the origin connection closed")
                self.assertNotIn(b"spoofed", self.origin.received[number])
                self.assertIn(b"hello", self.origin.received[number])
                self.assertEqual(h.scrape(self.proxy)['trproxy_requests_refused_total{status="400"}'], before + 1)
                self.proxy.wait_access_lines(lines + 1)
                self.assertIn("tenant-restriction field in chunked trailer", self.proxy.access_lines()[-1])

    def test_other_trailers_pass(self):
        def answered(line, head):
            return [ok(b"answer")] if line.startswith("POST /other-trailer") else leaky(line, head)

        self.origin.responder = answered
        try:
            with self.client() as s:
                get(s, "/other-trailer", "POST", "Transfer-Encoding: chunked\r\n")
                s.sendall(b"0\r\nX-Checksum: abc\r\n\r\n")
                self.assertEqual(h.read_response(s)[0], 200)
        finally:
            self.origin.responder = leaky


class GuardBehindParent(unittest.TestCase):
    """4: behind upstream.proxy the parent resolves names, so the proxy never saw the address a
    tunnel reached and the guard never ran: CONNECT to a name that leads to a sign-in address,
    with an SNI of that name and the sign-in host inside, signed in untagged. The proxy now
    resolves the name itself for the guard. `localhost` is the name here (the resolver answers
    it from /etc/hosts, no DNS traffic) and loopback stands in for the sign-in ranges."""

    GUARD = ('sign_in_guard:\n  addresses: ["127.0.0.0/8", "::1/128"]\n  tunnel_names: [graph.microsoft.com]\n'
             'egress:\n  deny: []\n')

    @classmethod
    def setUpClass(cls):
        good = ("127.0.0.1", env.nginx.ports["good"])
        cls.parent = ParentProxy({"localhost:443": good})
        # No upstream.resolve for localhost: the parent is asked for the name, as in production.
        cls.proxy = env.proxy("guard-parent", resolve=env.resolve_all(), parent=cls.parent.address, extra=cls.GUARD)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.parent.close()

    def attempt(self, sni, host):
        """CONNECT localhost:443, TLS with `sni`, one GET; the echo fields, or None if closed."""
        return h.get_through_tunnel(self, env.pki.root_crt, self.proxy, "localhost:443", sni, host, "/guard")

    def test_fronted_name_is_refused(self):
        before = h.scrape(self.proxy).get('trproxy_sign_in_guard_total{outcome="refused"}', 0)
        nginx_before = env.nginx.seen_settled("good")
        self.assertIsNone(self.attempt("localhost", HOST))
        self.assertEqual(env.nginx.seen_settled("good"), nginx_before, "nothing may reach the sign-in address")
        h.wait_until(lambda: h.scrape(self.proxy)['trproxy_sign_in_guard_total{outcome="refused"}'] == before + 1,
                     what="the guard's refusal counted")

    def test_an_allowed_name_still_tunnels_through_the_parent(self):
        seen = self.attempt("graph.microsoft.com", "graph.microsoft.com")
        self.assertIsNotNone(seen, "graph.microsoft.com is in tunnel_names: it must be tunnelled")
        self.assertEqual(seen["uri"], "/guard")
        self.assertEqual(seen["strap"], "", "a tunnel is not intercepted")
        self.assertTrue(self.parent.asked_for("localhost:443"), self.parent.asked)


class NumericHostSpellings(unittest.TestCase):
    """5: inet_aton spellings of an address are no host name: behind a parent they reached the
    parent as names (which a resolver reads as 127.0.0.1); they are a 400 everywhere."""

    SPELLINGS = ("2130706433", "127.1", "127.0.1", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "1.2.3.04",
                 "10.0.0.1.", "example.0x10")

    @classmethod
    def setUpClass(cls):
        cls.parent = RecordingListener()
        cls.proxy = env.proxy("numeric", parent=cls.parent.address)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.parent.close()

    def test_connect_and_forward(self):
        for spelling in self.SPELLINGS:
            for raw in (f"CONNECT {spelling}:443 HTTP/1.1\r\nHost: {spelling}:443\r\n\r\n",
                        f"GET http://{spelling}/ HTTP/1.1\r\nHost: {spelling}\r\n\r\n",
                        f"GET http://plain.example.com/ HTTP/1.1\r\nHost: {spelling}\r\n\r\n"):
                with self.subTest(raw=raw):
                    status, _, body = h.raw_request(self.proxy, raw.encode())
                    self.assertEqual(status, 400, body)
        self.assertEqual(self.parent.accepted, 0)

    def test_ordinary_names_and_literals_are_not_caught(self):
        # Names whose last label is not a number, and a canonical literal, go on to the parent
        # (which closes: 502), not a 400.
        for host in ("1.2.3.4.example.com", "0x10.example.com", "127.0.0.1"):
            with self.subTest(host=host):
                status, _, _ = h.raw_request(self.proxy, f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                self.assertNotEqual(status, 400)


class RecordingListener:
    """A TCP listener on 127.0.0.1 that counts connections and closes each at once."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


class PerClientShare(unittest.TestCase):
    """7: one client address holding every slot starved everyone else; now it gets at most
    limits.max_connections_per_client, refusals counted by reason."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("share", extra="limits:\n  max_connections: 10\n  max_connections_per_client: 3\n")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def test_one_address_cannot_take_every_slot(self):
        held = [socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) for _ in range(3)]
        try:
            h.wait_until(lambda: h.scrape(self.proxy)["trproxy_active_connections"] == 3, what="3 connections held")
            with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE) as fourth:
                status, _, body = h.read_response(fourth)
            self.assertEqual(status, 503)
            self.assertIn(b"max_connections_per_client", body)
            connect = f"CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n\r\n".encode()
            status, _, _ = h.raw_request_from(self.proxy.port, connect, source="127.0.0.2")
            self.assertEqual(status, 200)
            m = h.scrape(self.proxy)
            self.assertEqual(m['trproxy_connections_refused_total{reason="per_client"}'], 1)
            self.assertEqual(m['trproxy_connections_refused_total{reason="max_connections"}'], 0)
        finally:
            for s in held:
                s.close()


class PortRefusalsCounted(unittest.TestCase):
    """8: refusals by egress.connect_ports / forward_ports are counted under rule="port"."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("ports")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def test_port_series(self):
        for raw in (f"CONNECT {h.OTHER_HOST}:25 HTTP/1.1\r\nHost: {h.OTHER_HOST}:25\r\n\r\n",
                    "GET http://plain.example.com:25/ HTTP/1.1\r\nHost: plain.example.com:25\r\n\r\n"):
            status, _, _ = h.raw_request(self.proxy, raw.encode())
            self.assertEqual(status, 403)
        self.assertEqual(h.scrape(self.proxy)['trproxy_egress_refused_total{rule="port"}'], 2)


def cpu_ticks(pid):
    """User plus system clock ticks of every thread of pid so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class DescriptorsRunOut(unittest.TestCase):
    """Found by bench/soak.py's descriptor-limit fault: at EMFILE the admin listener retried its
    accept at once, spinning a core at 100% until a descriptor freed (the proxy listener paused;
    the admin one had `if (ec) continue;`). Both now pause, log the episode once and count it."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = env.proxy("descriptors")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def test_listeners_pause_at_the_limit_and_serve_after_it(self):
        pid = self.proxy.proc.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        admin = client = None
        try:
            # Not one descriptor to spare: every accept fails with EMFILE.
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir(f"/proc/{pid}/fd")), hard))
            admin = socket.create_connection(("127.0.0.1", self.proxy.admin_port), timeout=h.DEADLINE)
            admin.sendall(b"GET /readyz HTTP/1.1\r\nHost: admin\r\n\r\n")
            client = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=h.DEADLINE)
            client.sendall(f"CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n\r\n".encode())
            h.wait_until(lambda: "Too many open files" in self.proxy.stderr_text(), what="out of descriptors")
            # While out of descriptors nothing is answered, and a paused listener costs no CPU
            # (a spinning one burned the whole second).
            ticks, started = cpu_ticks(pid), time.monotonic()
            admin.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                admin.recv(1)
            used = (cpu_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - started)
            self.assertLess(used, 0.3, "a listener spins while out of descriptors")
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        with admin, client:
            admin.settimeout(h.DEADLINE)
            status, _, body = h.read_response(admin)
            self.assertEqual((status, body), (200, b"ready\n"))
            self.assertEqual(h.read_head(client)[0], 200)  # the CONNECT waiting in the backlog
        metrics = h.scrape(self.proxy)
        self.assertGreater(metrics['trproxy_accept_pauses_total{listener="admin"}'], 0)
        self.assertGreater(metrics['trproxy_accept_pauses_total{listener="proxy"}'], 0)
        self.assertEqual(metrics['trproxy_accept_pauses_total{listener="transparent"}'], 0)
        self.assertIn(f"accept on admin 127.0.0.1:{self.proxy.admin_port}: accepting again after",
                      self.proxy.stderr_text())


if __name__ == "__main__":
    unittest.main()


class LateBytesOrigin(h.PythonUpstream):
    """A plain-HTTP keep-alive origin that answers each request with `answer:PATH`; after the
    answer to /first it waits for `release`, then sends a whole second response nobody asked for."""

    def __init__(self):
        self.release, self.sent = threading.Event(), threading.Event()
        self.connections = itertools.count(1)
        self.opened = 0
        super().__init__()

    def handle(self, sock):
        self.opened = next(self.connections)
        # No Nagle: the late response must be in the proxy's socket when `sent` is set, not held
        # back until the first response's ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b""
        while True:
            received = h.recv_head(sock, data)
            if received is None:
                return
            head, data = received
            path = head.split(b" ")[1]
            sock.sendall(ok(b"answer:" + path))
            if path == b"/first":
                self.release.wait(h.DEADLINE)
                sock.sendall(STOLEN)
                self.sent.set()


class KeptConnectionWithBytesBehind(unittest.TestCase):
    """Found by the engine fuzz target (tests/regressions/engine/forward-kept-connection-late-bytes):
    a plain-HTTP forward keeps its upstream connection for its client, and bytes the server sent
    after a complete response, arriving once that exchange had ended, were read as the answer to
    the client's next request. A kept connection holding bytes is now closed and the request
    dials anew (the same check guards a connection pinned by NTLM/Negotiate)."""

    def test_late_bytes_end_the_kept_connection(self):
        origin = LateBytesOrigin()
        self.addCleanup(origin.close)
        resolve = env.resolve_all()
        resolve["plain.example.com"] = origin.address
        proxy = env.proxy("KeptConnectionWithBytesBehind", resolve=resolve)
        self.addCleanup(proxy.stop)
        request = b"GET http://plain.example.com%s HTTP/1.1\r\nHost: plain.example.com\r\n\r\n"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE) as s:
            s.sendall(request % b"/first")
            self.assertEqual(h.read_response(s)[::2], (200, b"answer:/first"))
            origin.release.set()
            self.assertTrue(origin.sent.wait(h.DEADLINE))
            s.sendall(request % b"/second")
            self.assertEqual(h.read_response(s)[::2], (200, b"answer:/second"))
        self.assertEqual(origin.opened, 2)
