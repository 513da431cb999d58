#!/usr/bin/env python3
"""Soak and chaos (issue 23): a mixed load against one trproxy for --minutes N while faults are
injected on a schedule, then the invariants. Loopback only.

Load (client threads, each picking an action at random):
  keep-alive sign-ins   several requests on one intercepted connection
  new sign-ins          one request per intercepted connection
  tunnels               CONNECT to an echo server, bytes round-tripped and compared
  plain forwards        absolute-form GETs to a plain-HTTP origin
  scrapes               /proxy.pac on the proxy port, /metrics and /readyz on the admin port
  long connections      a tunnel kept open across several reloads, echoing now and then
Faults (one fault thread, round robin, every --fault-every seconds):
  a policy change by SIGHUP; a policy change by rewriting the config (watch_files); a broken
  config (refused, the old one kept), then the good one back; the CA files rewritten in place;
  an upstream that resets mid-response; an upstream that stalls past upstream_response_timeout;
  clients that vanish mid-request and mid-response; slow readers; descriptor pressure (idle
  connections up to limits.max_connections, refused beyond); the descriptor limit (the proxy's
  soft RLIMIT_NOFILE lowered to what it holds, then restored: accepts pause and resume); a DNS
  outage (below).
DNS (as root, the default there; --no-dns leaves it out): the run happens in a private network
  and mount namespace of its own (tests/e2e/dns_namespace.py: nothing leaves it) whose
  resolv.conf names the harness's DNS server. The load adds plain forwards to names the proxy
  looks up (an origin on 10.77.0.2), and the fault silences the DNS server for a while: a name
  in the proxy's cache must still be served, a name it must look up gets the proxy's own 502/504
  (never a hang), and once the server answers again a new name resolves.
Invariants (exit 1 on any violation):
  - every request the origin receives on a sign-in host carries exactly one policy line, and its
    policy was current at some moment between the client sending the head and the origin
    reading it (the harness records when each revision was written and when it was seen active);
  - every response a client reads answers its own request (the origin echoes the request's id);
  - no crash and no sanitizer report (run it against an ASan build with --binary);
  - RSS and open descriptors flat: the least-squares slope over the second half of the run below
    --rss-slope KiB/min and --fd-slope fds/min;
  - every fault moved the metric it should (reload failures, upstream failures, refusals, ...).

  python3 bench/soak.py --minutes 2                       (the CI run, under ASan: --binary)
  python3 bench/soak.py --minutes 60 --clients 16         (the figures in bench/README)
"""

import argparse
import collections
import hashlib
import itertools
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

# The policies a reload alternates between: tenant id and policy id both change.
POLICIES = [(f"{n}aaabbbb-0000-cccc-1111-dddd2222eeee", f"{n}aaaaaa{n}-2bb2-3cc3-4dd4-5eeeeeeeeee5") for n in range(1, 10)]
SIGN_IN = "login.microsoftonline.com"
PLAIN = "plain.soak.example"
DNS_ZONE = "dns.soak.test"  # names the proxy looks up in DNS (the namespace run only)
CACHED_NAMES = [f"cached-{n}.{DNS_ZONE}" for n in range(4)]
DNS_TTL = 60
DNS_ANSWER_BOUND = 7.0  # seconds: upstream.connect_timeout (2s, lookup included) and slack for ASan
ECHO = "echo.soak.example"
MAX_CONNECTIONS = 400
POLICY_RE = re.compile(rb"(?im)^sec-restrict-tenant-access-policy:[ \t]*([^\r\n]*?)[ \t]*$")
HOST_RE = re.compile(rb"(?im)^host:[ \t]*([^\r\n:]*)")


class Violations:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, what):
        with self.lock:
            self.items.append(what)
            if len(self.items) <= 20:
                print(f"VIOLATION: {what}", flush=True)


class Timeline:
    """Which policy was current when: each revision's write time, and when it was seen active."""

    def __init__(self, first):
        self.lock = threading.Lock()
        self.revisions = [(first, 0.0, 0.0)]  # (policy, written at, seen active at)

    def written(self, policy, at):
        """A revision about to be written: possible from now, its predecessor until it is seen."""
        with self.lock:
            self.revisions.append((policy, at, float("inf")))

    def seen_active(self, at):
        with self.lock:
            policy, written, _ = self.revisions[-1]
            self.revisions[-1] = (policy, written, at)

    def possible(self, sent, received):
        """Policies current at some moment in [sent, received]: revision k may be current from
        its write until the next revision was seen active."""
        with self.lock:
            out = set()
            for k, (policy, written, _) in enumerate(self.revisions):
                until = self.revisions[k + 1][2] if k + 1 < len(self.revisions) else float("inf")
                if written <= received and until >= sent:
                    out.add(policy)
            return out


class Origin:
    """The sign-in host (TLS) or the plain origin: answers `GET /r/ID` with `id=ID`, records the
    policy lines each request carried; /reset/ID resets mid-response, /stall/ID never answers,
    /big/ID sends 4 MiB."""

    def __init__(self, h, tls_cert, soak, bind=("127.0.0.1", 0)):
        self.soak = soak
        outer = self

        class Server(h.PythonUpstream):
            def handle(self, sock):
                outer.handle(sock)

        self.server = Server(tls_cert, bind)
        self.address = self.server.address

    def handle(self, sock):
        data = b""
        while True:
            try:
                received = self.soak.h.recv_head(sock, data)
            except OSError:
                return
            if received is None:
                return
            head, data = received
            read_at = time.monotonic()
            path = head.split(b" ", 2)[1].decode("latin-1")
            kind, _, ident = path.strip("/").partition("/")
            self.soak.check_origin_request(head, ident, read_at)
            if kind == "reset":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if kind == "stall":
                while sock.recv(65536):
                    pass
                return
            body = f"id={ident}\n".encode()
            if kind == "big":
                body += b"b" * (4 << 20)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def close(self):
        self.server.close()


class Echo:
    def __init__(self, h):
        class Server(h.PythonUpstream):
            def handle(self, sock):
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return
                    sock.sendall(data)

        self.server = Server()
        self.address = self.server.address

    def close(self):
        self.server.close()


class Soak:
    def __init__(self, args):
        self.args = args
        if args.binary:
            os.environ["TRPROXY_BIN"] = os.path.abspath(args.binary)
        import harness as h  # after TRPROXY_BIN: the harness reads it at import
        self.h = h
        self.dir = tempfile.mkdtemp(prefix="trproxy-soak-")
        self.violations = Violations()
        self.counts = collections.Counter()
        self.count_lock = threading.Lock()
        self.ids = itertools.count(1)
        self.stop = threading.Event()
        self.samples = []  # (seconds, rss KiB, fds)
        self.policy = POLICIES[0]
        self.timeline = Timeline(":".join(self.policy))
        self.started = time.monotonic()
        self.pending = {}  # request id -> monotonic time its head was sent
        self.pending_lock = threading.Lock()
        self.reload_lock = threading.RLock()
        self.pressure = threading.Event()  # descriptor pressure or limit under way
        self.pressure_ended = 0.0  # when it last ended: refusals until shortly after are expected
        self.dns = None  # the harness's DNS server, in the namespace run
        self.dns_waits = []  # seconds until the proxy answered a lookup the silent server ignored

    def count(self, what, n=1):
        with self.count_lock:
            self.counts[what] += n

    # ---- setup ----

    def start(self):
        h = self.h
        self.pki = h.Pki(os.path.join(self.dir, "pki"))
        self.ca_dir = os.path.join(self.dir, "ca")
        r = h.run_trproxy("ca", "init", "--dir", self.ca_dir)
        if r.returncode != 0:
            raise SystemExit("ca init failed: " + r.stderr)
        self.sign_in = Origin(h, self.pki.good, self)
        self.plain = Origin(h, None, self)
        self.echo = Echo(h)
        self.dns_origin = None
        if self.args.in_namespace:
            import dns_namespace as ns
            import slow_dns
            self.dns = slow_dns.SlowDns(ns.DNS_ADDRESS, ns.UPSTREAM_ADDRESS, 0.0, ttl=DNS_TTL)
            self.dns_origin = Origin(h, None, self, bind=(ns.UPSTREAM_ADDRESS, 80))
        resolve = {SIGN_IN: self.sign_in.address, PLAIN: self.plain.address, ECHO: self.echo.address}
        extra = (f"limits:\n  max_connections: {MAX_CONNECTIONS}\n  upstream_response_timeout: 1s\n"
                 "  head_timeout: 2s\n  shutdown_grace: 2s\n")
        self.proxy = h.Proxy(os.path.join(self.dir, "proxy"), self.ca_dir, resolve=resolve,
                             trust=self.pki.root_crt, watch=True, extra=extra, access_log=self.args.keep, threads=2)
        with open(self.proxy.config) as f:
            self.config_text = f.read()
        self.config_text = self.with_policy(self.config_text, self.policy)
        self.reload_by(lambda: self.write_config(self.config_text))

    def write_config(self, text):
        with open(self.proxy.config + ".new", "w") as f:
            f.write(text)
        os.rename(self.proxy.config + ".new", self.proxy.config)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.proxy.admin_port}/metrics", timeout=10) as r:
            return r.read().decode()

    @staticmethod
    def metric_in(text, name, labels=""):
        """The sum of a metric's samples in an exposition, those with `labels` (exact) or all."""
        pattern = re.compile(rf"(?m)^{re.escape(name)}{re.escape(labels)}(?:\{{[^}}]*\}})? (\S+)$")
        return sum(float(v) for v in pattern.findall(text))

    def metric(self, name, labels=""):
        return self.metric_in(self.metrics(), name, labels)

    def config_state(self):
        """(revision of the runtime in place, its file's SHA-256, successful reloads counted). A
        reload is counted once every worker holds it, so revision == count means none is under
        way; the start counts as revision 1 and as one success."""
        text = self.metrics()
        info = re.search(r'(?m)^trproxy_config_info\{revision="(\d+)",sha256="([0-9a-f]+)"', text)
        count = re.search(r'(?m)^trproxy_config_reloads_total\{result="success"\} (\S+)$', text)
        return int(info.group(1)), info.group(2), int(float(count.group(1)))

    def settled(self, sha=None):
        revision, running, counted = self.config_state()
        return revision == counted and (sha is None or running == sha)

    def reload_by(self, change, result="success"):
        """Makes a change and waits (bounded) until a reload with `result` has been counted since
        and no reload is under way, with the file now on disk in place: from then on every head
        is decided by it. One change at a time (the fault and policy threads share the files),
        and none while an earlier reload is still reaching the workers: its count would be
        taken for this change's."""
        with self.reload_lock:
            self.h.wait_until(self.settled, timeout=30, interval=0.02, what="no reload under way")
            before = self.reloads(result)
            change()
            with open(self.proxy.config, "rb") as f:
                sha = hashlib.sha256(f.read()).hexdigest() if result == "success" else None
            self.h.wait_until(lambda: (self.reloads(result) > before and self.settled(sha)) or None,
                              timeout=30, interval=0.02, what=f"a reload ({result})")

    @staticmethod
    def with_policy(text, policy):
        text = re.sub(r'tenant_id: "[^"]*"', f'tenant_id: "{policy[0]}"', text)
        return re.sub(r'policy_id: "[^"]*"', f'policy_id: "{policy[1]}"', text)

    def reloads(self, result):
        return self.metric("trproxy_config_reloads_total", f'{{result="{result}"}}')

    # ---- invariants on the origin side ----

    def check_origin_request(self, head, ident, read_at):
        lines = POLICY_RE.findall(head)
        with self.pending_lock:
            sent = self.pending.get(ident)
        host = HOST_RE.search(head)
        if head.startswith(b"GET http") or not host or host.group(1).lower() != SIGN_IN.encode():
            if lines:
                self.violations.add(f"a plain forward to another host carried a policy line: {lines}")
            return
        if len(lines) != 1:
            self.violations.add(f"request {ident}: {len(lines)} policy lines")
            return
        value = lines[0].decode()
        if sent is None or value not in self.timeline.possible(sent, read_at):
            with self.timeline.lock:
                near = [(p[:2], round(w - self.started, 3), round(a - self.started, 3))
                        for p, w, a in self.timeline.revisions[-3:]]
            self.violations.add(f"request {ident}: policy {value[:2]} was not current between its send "
                                f"({(sent or 0) - self.started:.3f}) and its receipt ({read_at - self.started:.3f}); "
                                f"revisions (policy, written, active): {near}")
        self.count("origin requests checked")

    # ---- the load ----

    def request(self, sock, kind, host, absolute=False):
        """Sends one GET; a sign-in request carries a client copy of the policy line to strip."""
        ident = f"{threading.get_ident() % 10000}-{next(self.ids)}"
        target = f"http://{host}/{kind}/{ident}" if absolute else f"/{kind}/{ident}"
        spoofed = "" if absolute else f"sec-Restrict-Tenant-Access-Policy: {self.h.TENANT}:spoofed\r\n"
        with self.pending_lock:
            self.pending[ident] = time.monotonic()
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{spoofed}\r\n".encode())
        return ident

    def expect_answer(self, sock, ident):
        status, _, body = self.h.read_response(sock)
        if status == 503 and b"too many connections" in body:
            self.count("refused at max_connections (503)")
            return
        if status in (502, 504) or status is None:
            # The proxy's own answer when the origin is slow or gone (a machine under load, a
            # reset): counted, not a wrong answer.
            self.count(f"answered {status} by the proxy" if status else "closed before an answer")
            return
        if not self.own_answer(status, body, ident):
            self.violations.add(f"request {ident} answered {status} {body[:40]!r}")
        self.count("responses checked")

    @staticmethod
    def own_answer(status, body, ident):
        """The origin's 200 to request `ident` (it echoes the id first)."""
        return status == 200 and body.startswith(f"id={ident}\n".encode())

    def intercepted(self):
        return self.h.tls_through(self.proxy, SIGN_IN, os.path.join(self.ca_dir, "ca.crt"))

    def keepalive_sign_ins(self):
        with self.intercepted() as s:
            for _ in range(random.randint(2, 8)):
                self.expect_answer(s, self.request(s, "r", SIGN_IN))

    def new_sign_in(self):
        with self.intercepted() as s:
            self.expect_answer(s, self.request(s, "r", SIGN_IN))

    def tunnel(self, rounds=None, pause=0.0):
        s, status = self.h.connect_tunnel(self.proxy, f"{ECHO}:443")
        with s:
            if " 503 " in status + " ":
                self.count("refused at max_connections (503)")
                return
            if self.under_pressure() and " 502 " in status + " ":
                self.count("tunnel refused during the descriptor limit (502)")
                return
            if " 200 " not in status + " ":
                self.violations.add(f"tunnel refused: {status}")
                return
            for _ in range(rounds or random.randint(1, 5)):
                # Not a TLS record's first byte: a tunnel whose bytes start like a ClientHello
                # must carry a parseable one, or it is closed (fail closed, by design).
                payload = b"SOAK" + os.urandom(random.randint(1, 64 << 10))
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    got += chunk
                if got != payload:
                    self.violations.add(f"a tunnel returned {len(got)} bytes, not the {len(payload)} it was sent")
                    return
                self.count("tunnel round trips")
                if pause and self.stop.wait(pause):
                    return

    def forward(self, host=PLAIN):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=self.h.DEADLINE) as s:
            self.expect_answer(s, self.request(s, "r", host, absolute=True))

    def dns_request(self, name):
        """One plain forward to a name the proxy looks up: (status, body, request id)."""
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=self.h.DEADLINE) as s:
            ident = self.request(s, "r", name, absolute=True)
            status, _, body = self.h.read_response(s)
            return status, body, ident

    def dns_forward(self):
        self.forward(random.choice(CACHED_NAMES))

    def scrape(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.proxy.port}/proxy.pac", timeout=10) as r:
            if b"FindProxyForURL" not in r.read():
                self.violations.add("the PAC file lost its function")
        self.metrics()
        self.count("scrapes")

    LOAD = [(keepalive_sign_ins, 4), (new_sign_in, 3), (tunnel, 2), (forward, 2), (scrape, 1)]

    def client(self):
        load = self.LOAD + ([(Soak.dns_forward, 1)] if self.dns else [])
        actions = [a for a, w in load for _ in range(w)]
        while not self.stop.is_set():
            action = random.choice(actions)
            try:
                action(self)
                self.count(action.__name__)
            except (OSError, ssl.SSLError, AssertionError, TimeoutError) as error:
                # Refusals during descriptor pressure (503 at max_connections) are expected; a
                # wrong answer is a violation, recorded where it is seen.
                reason = str(error).split("\n")[0][:60] if isinstance(error, AssertionError) else type(error).__name__
                self.count(f"{action.__name__} errors ({reason})")

    def long_connection(self):
        while not self.stop.is_set():
            try:
                self.tunnel(rounds=30, pause=1.0)
            except (OSError, TimeoutError):
                self.count("long connection errors")

    # ---- faults ----

    def change_policy(self, by_signal):
        """The next policy (tenant and policy id), by the file watch or by SIGHUP as well (with
        watch_files on, the signal races the watch: either reload counts)."""
        def change():
            self.policy = POLICIES[(POLICIES.index(self.policy) + 1) % len(POLICIES)]
            self.config_text = self.with_policy(self.config_text, self.policy)
            self.timeline.written(":".join(self.policy), time.monotonic())
            self.write_config(self.config_text)
            if by_signal:
                self.proxy.proc.send_signal(signal.SIGHUP)

        with self.reload_lock:
            self.reload_by(change)  # on a timeout the old policy stays possible until a later one is seen
            self.timeline.seen_active(time.monotonic())

    def reloads_forever(self):
        """A policy change every --reload-every seconds, by SIGHUP and by the file in turn."""
        for by_signal in itertools.cycle((True, False)):
            if self.stop.wait(self.args.reload_every):
                return
            try:
                self.change_policy(by_signal)
                self.count("policy changes by SIGHUP" if by_signal else "policy changes by file")
            except (OSError, TimeoutError) as error:
                self.count(f"policy change errors ({type(error).__name__})")

    def broken_config(self):
        with self.reload_lock:
            self.reload_by(lambda: self.write_config(self.config_text.replace("tenant_restrictions:",
                                                                              "tenant_restrictions: [broken")),
                           result="failure")
            self.reload_by(lambda: self.write_config(self.config_text))

    def rewrite_ca(self):
        def change():
            for name in ("ca.crt", "ca.key"):
                path = os.path.join(self.ca_dir, name)
                shutil.copy2(path, path + ".new")
                os.rename(path + ".new", path)

        self.reload_by(change)

    def upstream_reset(self):
        with self.intercepted() as s:
            self.request(s, "reset", SIGN_IN)
            status, _, _ = self.h.read_head(s)  # the head came; the body breaks off
            s.settimeout(self.h.DEADLINE)
            while s.recv(65536):
                pass

    def upstream_stall(self):
        with self.intercepted() as s:
            self.request(s, "stall", SIGN_IN)
            status, _, body = self.h.read_response(s)
            if status != 504:
                self.violations.add(f"a stalled upstream answered {status}, not 504")

    def vanish_mid_request(self):
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=10) as s:
            s.sendall(f"GET http://{PLAIN}/r/x HTTP/1.1\r\nHost: ".encode())

    def vanish_mid_response(self):
        with self.intercepted() as s:
            self.request(s, "big", SIGN_IN)
            s.recv(4096)

    def slow_reader(self):
        with self.intercepted() as s:
            ident = self.request(s, "big", SIGN_IN)
            got = 0
            for _ in range(20):
                chunk = s.recv(16 << 10)
                if not chunk:
                    break
                got += len(chunk)
                if self.stop.wait(0.05):
                    return
            if got == 0:
                self.violations.add(f"slow reader {ident} got nothing")

    def descriptor_pressure(self):
        held = []
        self.pressure.set()
        try:
            for _ in range(MAX_CONNECTIONS + 20):
                try:
                    held.append(socket.create_connection(("127.0.0.1", self.proxy.port), timeout=2))
                except OSError:
                    break
            self.stop.wait(1.0)
        finally:
            for s in held:
                s.close()
            self.stop.wait(1.0)  # the proxy sees the closes
            self.pressure.clear()

    def under_pressure(self):
        """Descriptor pressure or the lowered limit under way, or just over (its closes and
        refusals still arriving)."""
        return self.pressure.is_set() or time.monotonic() < self.pressure_ended + 2.0

    def descriptor_limit(self):
        """The proxy's soft RLIMIT_NOFILE lowered to the descriptors it holds plus a few for a
        second and a half, idle connections opened past it: accepts pause (no spinning: that is
        tests/e2e/test_tried.py's DescriptorsRunOut) and resume. No config change meanwhile (a
        reload that cannot open its file is refused, the old config kept: counted, but it would
        blur the policy timeline)."""
        pid = self.proxy.proc.pid
        held = []
        with self.reload_lock:
            soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            self.pressure.set()
            try:
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir(f"/proc/{pid}/fd")) + 8, hard))
                for _ in range(30):
                    held.append(socket.create_connection(("127.0.0.1", self.proxy.port), timeout=2))
                self.stop.wait(1.5)
            finally:
                resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
                for s in held:
                    s.close()
                self.pressure_ended = time.monotonic()
                self.pressure.clear()

    def dns_outage(self):
        """The DNS server stops answering, then comes back."""
        status, body, ident = self.dns_request(CACHED_NAMES[0])  # in the proxy's cache from here on
        if not self.own_answer(status, body, ident):
            self.count(f"dns outage: a cached name before it answered {status}")  # a lookup may meet the end of the last outage
        self.dns.silent = True
        try:
            status, body, ident = self.dns_request(CACHED_NAMES[0])
            if not self.own_answer(status, body, ident):
                self.violations.add(f"DNS silent: a name in the proxy's cache answered {status} {body[:60]!r}")
            started = time.monotonic()
            status, body, _ = self.dns_request(f"fresh-{next(self.ids)}.{DNS_ZONE}")
            waited = time.monotonic() - started
            self.dns_waits.append(waited)
            if status not in (502, 504):
                self.violations.add(f"DNS silent: a name to look up answered {status} {body[:60]!r}, not the proxy's 502/504")
            elif waited > DNS_ANSWER_BOUND:
                self.violations.add(f"DNS silent: the proxy took {waited:.1f}s to answer (connect_timeout is 2s)")
        finally:
            self.dns.silent = False
        status, body, ident = self.dns_request(f"fresh-{next(self.ids)}.{DNS_ZONE}")
        if not self.own_answer(status, body, ident):
            self.violations.add(f"DNS back: a new name answered {status} {body[:60]!r}")

    FAULTS = [
        ("broken config", broken_config, 'trproxy_config_reloads_total{result="failure"}'),
        ("CA rewritten", rewrite_ca, "trproxy_config_reloads_total"),
        ("upstream reset", upstream_reset, "trproxy_upstream_failures_total"),
        ("upstream stall", upstream_stall, 'trproxy_requests_refused_total{status="504"}'),
        ("vanish mid-request", vanish_mid_request, "trproxy_requests_refused_total"),
        ("vanish mid-response", vanish_mid_response, "trproxy_connections_total"),
        ("slow reader", slow_reader, "trproxy_connections_total"),
        ("descriptor pressure", descriptor_pressure, "trproxy_connections_refused_total"),
        ("descriptor limit", descriptor_limit, "trproxy_accept_pauses_total"),
        ("DNS outage", dns_outage, 'trproxy_dns_lookups_total{result="timeout"}'),
    ]

    def faults(self):
        faults = [f for f in self.FAULTS if self.dns or f[0] != "DNS outage"]
        for name, fault, _ in itertools.cycle(faults):
            if self.stop.wait(self.args.fault_every):
                return
            try:
                fault(self)
                self.count(f"fault: {name}")
            except (OSError, ssl.SSLError, TimeoutError, AssertionError) as error:
                self.count(f"fault: {name}")
                self.count(f"fault errors: {name} ({type(error).__name__})")

    def sample(self):
        pid = self.proxy.proc.pid
        while not self.stop.wait(1.0):
            try:
                with open(f"/proc/{pid}/status") as f:
                    rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
                fds = len(os.listdir(f"/proc/{pid}/fd"))
            except (OSError, AttributeError):
                self.violations.add("trproxy is gone")
                return
            # Not while 400 idle connections are held on purpose: the slope is of what stays.
            if not self.pressure.is_set():
                self.samples.append((time.monotonic() - self.started, rss, fds))

    # ---- the run ----

    def run(self):
        self.start()
        before = self.metrics()
        threads = [threading.Thread(target=self.client, daemon=True) for _ in range(self.args.clients)]
        threads += [threading.Thread(target=self.long_connection, daemon=True) for _ in range(2)]
        threads += [threading.Thread(target=target, daemon=True)
                    for target in (self.faults, self.reloads_forever, self.sample)]
        for t in threads:
            t.start()
        self.stop.wait(self.args.minutes * 60)
        self.stop.set()
        for t in threads:
            t.join(timeout=60)
        after = self.metrics()
        self.check_metrics(before, after)
        code = self.proxy.stop(check=False)
        report = self.h.sanitizer_report(self.proxy.stderr_text())
        if report:
            self.violations.add(f"sanitizer report:\n{report[:2000]}")
        if code != 0:
            self.violations.add(f"trproxy exited {code}")
        self.check_slopes()
        self.report(before, after)
        for server in (self.sign_in, self.plain, self.echo, self.dns_origin, self.dns):
            if server:
                server.close()
        return 1 if self.violations.items else 0

    def check_metrics(self, before, after):
        def value(text, spec):
            name, _, labels = spec.partition("{")
            return self.metric_in(text, name, "{" + labels if labels else "")

        for name, _, metric in self.FAULTS:
            if self.counts[f"fault: {name}"] and value(after, metric) <= value(before, metric):
                self.violations.add(f"fault '{name}' did not move {metric}")

    def check_slopes(self):
        half = [s for s in self.samples if s[0] >= self.args.minutes * 30]
        self.slopes = {}
        for index, name, bound in ((1, "RSS KiB/min", self.args.rss_slope), (2, "fds/min", self.args.fd_slope)):
            if len(half) < 10:
                continue
            xs = [s[0] / 60 for s in half]
            ys = [s[index] for s in half]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            self.slopes[name] = slope
            if slope > bound:
                self.violations.add(f"{name} slope {slope:.1f} over the second half is above {bound}")

    def report(self, before, after):
        print(f"\nsoak: {self.args.minutes} min, {self.args.clients} clients, faults every {self.args.fault_every}s, "
              f"a policy change every {self.args.reload_every}s")
        for what, n in sorted(self.counts.items()):
            print(f"  {what:55} {n}")
        if self.samples:
            rss = [s[1] for s in self.samples]
            fds = [s[2] for s in self.samples]
            print(f"  RSS KiB: first {rss[0]}, last {rss[-1]}, max {max(rss)}; fds: first {fds[0]}, last {fds[-1]}, max {max(fds)}")
        for name, slope in getattr(self, "slopes", {}).items():
            print(f"  slope over the second half: {slope:.2f} {name}")
        if self.dns_waits:
            print(f"  DNS outages: the proxy answered a name it could not look up within {max(self.dns_waits):.2f}s "
                  f"(longest of {len(self.dns_waits)})")
        print(f"  policy revisions: {len(self.timeline.revisions)}")
        print(f"  violations: {len(self.violations.items)}")


def run_in_namespace(argv):
    """This script again, in a private network and mount namespace whose resolv.conf names the
    harness's DNS server (one try, one second: an outage is felt at once). Output streams."""
    import dns_namespace as ns
    folder = tempfile.mkdtemp(prefix="trproxy-soak-ns-")
    try:
        with open(os.path.join(folder, "resolv.conf"), "w") as f:
            f.write(f"nameserver {ns.DNS_ADDRESS}\noptions timeout:1 attempts:1\n")
        print("soak: in a network namespace of its own, with a DNS server of the harness's", flush=True)
        return subprocess.run(["unshare", "-nm", "bash", "-c", ns.SETUP, "netns", folder, sys.executable,
                               os.path.abspath(__file__), *argv, "--in-namespace"]).returncode
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-every", type=float, default=2.0, help="seconds between faults")
    parser.add_argument("--reload-every", type=float, default=3.0, help="seconds between policy changes")
    parser.add_argument("--binary", help="the trproxy to soak (default: build/trproxy)")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (config, logs, access log)")
    parser.add_argument("--rss-slope", type=float, default=512.0, help="KiB per minute over the second half")
    parser.add_argument("--fd-slope", type=float, default=5.0, help="descriptors per minute over the second half")
    parser.add_argument("--no-dns", action="store_true", help="no namespace, no DNS outage (the default when not root)")
    parser.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import dns_namespace as ns
    if not args.in_namespace and not args.no_dns and ns.available():
        sys.exit(run_in_namespace(sys.argv[1:]))
    soak = Soak(args)
    try:
        sys.exit(soak.run())
    finally:
        if args.keep:
            print(f"soak: kept {soak.dir}")
        else:
            shutil.rmtree(soak.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
