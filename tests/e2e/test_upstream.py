"""Upstream connections and TLS resumption (issue 10): verified TLS connections to the sign-in
upstreams are pooled per worker and reused across client connections; a pooled connection the
server closed is not reused; an idempotent request whose pooled connection turns out dead before
any response byte goes again on a fresh connection; a connection that carried NTLM/Negotiate
authentication stays pinned to its client connection. A client resumes its TLS session with a
ticket (openssl s_client -sess_out/-sess_in); a second upstream connection resumes the first
one's session (nginx $ssl_session_reused).

Real peers: nginx logs `$connection $connection_requests $ssl_session_reused` for each request,
so the tests count upstream connections as the server saw them; a small Python TLS server plays
an upstream that closes a kept-alive connection just as the next request arrives."""

import base64
import os
import re
import signal
import socket
import ssl
import subprocess
import textwrap
import threading
import unittest
import urllib.request

import harness as h

HOST = h.AUTH_HOSTS[0]
env = None


class OneWorkerProxy(h.Proxy):
    """One worker: one pool, so every client connection can meet every pooled connection."""

    @staticmethod
    def render(*args, **kwargs):
        return h.Proxy.render(*args, **kwargs).replace("threads: 2", "threads: 1")


def one_worker_proxy(name, port, extra=""):
    proxy = OneWorkerProxy(os.path.join(env.dir, name), env.ca_dir, trust=env.pki.root_crt,
                           resolve={HOST: f"127.0.0.1:{port}"}, extra=extra)
    env.proxies.append(proxy)
    return proxy


def metric(proxy, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=h.DEADLINE) as r:
        text = r.read().decode()
    m = re.search(rf"(?m)^{re.escape(name)} (\d+)", text)
    return int(m.group(1)) if m else None


class PoolNginx:
    """nginx with two TLS servers for the sign-in host: `long` keeps idle connections 60 s, `short`
    closes them after 1 s. Each answers `conn=<nginx connection number>` and logs it."""

    def __init__(self, folder, pki):
        self.dir = folder
        os.makedirs(os.path.join(folder, "logs"), exist_ok=True)
        self.ports = {"long": h.free_port(), "short": h.free_port()}
        servers = ""
        for name, keepalive in (("long", "60s"), ("short", "1s")):
            servers += textwrap.dedent(f"""\
                server {{
                  listen 127.0.0.1:{self.ports[name]} ssl;
                  ssl_certificate {pki.good[0]}; ssl_certificate_key {pki.good[1]};
                  keepalive_timeout {keepalive};
                  access_log {folder}/logs/{name}.log pool;
                  location /ntlm {{ add_header WWW-Authenticate NTLM always; return 401 "conn=$connection\\n"; }}
                  location / {{ return 200 "conn=$connection\\n"; }}
                }}
                """)
        conf = (h.nginx_preamble(folder) + "  keepalive_requests 1000;\n"
                "  log_format pool '$connection $connection_requests $ssl_session_reused $request_uri';\n" +
                textwrap.indent(servers, "  ") + "}\n")
        self.conf = os.path.join(folder, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["nginx", "-p", folder, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for port in self.ports.values():
            h.wait_for_port(port)

    def log(self, name):
        """[(connection, requests on it, session reused, uri)] as nginx logged them."""
        path = os.path.join(self.dir, "logs", name + ".log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [tuple(line.split()) for line in f.read().splitlines()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=h.DEADLINE)


class ClosingUpstream:
    """A TLS upstream that answers the first request of each connection, keeps the connection,
    and closes it without answering when the second request arrives: what a server that timed
    out an idle connection just as the proxy reused it looks like. Counts requests per
    connection."""

    def __init__(self, pki):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*pki.good)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests = []  # (connection index, request line)
        self.lock = threading.Lock()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                index = self.connections
            threading.Thread(target=self._serve, args=(raw, index), daemon=True).start()

    def _serve(self, raw, index):
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as tls:
                tls.settimeout(h.DEADLINE)
                data, served = b"", 0
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                    while b"\r\n\r\n" in data:
                        head, data = data.split(b"\r\n\r\n", 1)
                        with self.lock:
                            self.requests.append((index, head.split(b"\r\n", 1)[0].decode()))
                        if served == 1:
                            return  # close without an answer
                        served += 1
                        body = f"conn={index}\n".encode()
                        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        except (OSError, ssl.SSLError):
            return

    def close(self):
        self.listener.close()


def setUpModule():
    global env
    env = h.Environment()


def tearDownModule():
    env.close()


def get_conn(proxy, path="/"):
    code, body, err = h.curl(proxy, f"https://{HOST}{path}", cacert=env.ca_crt)
    assert code == 0, f"curl failed ({code}): {err}"
    m = re.search(r"conn=(\d+)", body)
    assert m, body
    return m.group(1)


class UpstreamPool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = PoolNginx(os.path.join(env.dir, "pool-nginx"), env.pki)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def test_new_client_connections_share_one_upstream_connection(self):
        proxy = one_worker_proxy("pool-share", self.nginx.ports["long"])
        conns = [get_conn(proxy, f"/share{i}") for i in range(10)]  # ten curls: ten client connections
        self.assertEqual(len(set(conns)), 1, f"upstream connections used: {conns}")
        self.assertEqual(metric(proxy, "trproxy_upstream_pool_hits_total"), 9)
        self.assertEqual(metric(proxy, "trproxy_upstream_pool_misses_total"), 1)
        self.assertEqual(metric(proxy, "trproxy_upstream_tls_handshakes_total"), 1)
        logged = [entry for entry in self.nginx.log("long") if entry[3].startswith("/share")]
        self.assertEqual(len(logged), 10)
        self.assertEqual({entry[0] for entry in logged}, {conns[0]})
        self.assertEqual(max(int(entry[1]) for entry in logged), 10)  # $connection_requests

    def test_a_connection_the_server_closed_while_idle_is_evicted_not_reused(self):
        proxy = one_worker_proxy("pool-evict", self.nginx.ports["short"])
        first = get_conn(proxy, "/evict1")
        # nginx closes the idle connection after 1 s; the pool sees the close and drops it.
        h.wait_until(lambda: metric(proxy, "trproxy_upstream_pool_evictions_total") == 1, what="eviction")
        second = get_conn(proxy, "/evict2")
        self.assertNotEqual(first, second)
        self.assertEqual(metric(proxy, "trproxy_upstream_pool_hits_total"), 0)
        self.assertEqual(metric(proxy, "trproxy_upstream_pool_retries_total"), 0)
        # The second upstream connection resumed the first one's TLS session.
        reused = {entry[3]: entry[2] for entry in self.nginx.log("short")}
        self.assertEqual(reused["/evict1"], ".")
        self.assertEqual(reused["/evict2"], "r")
        self.assertEqual(metric(proxy, "trproxy_upstream_tls_resumptions_total"), 1)

    def test_an_ntlm_challenge_pins_the_upstream_connection_to_its_client(self):
        proxy = one_worker_proxy("pool-ntlm", self.nginx.ports["long"])
        with h.tls_through(proxy, HOST, env.ca_crt) as tls:
            tls.sendall(f"GET /ntlm HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            status, _, body = h.read_response(tls)
            self.assertEqual(status, 401)
            pinned = re.search(rb"conn=(\d+)", body).group(1).decode()
            # Another client connection meanwhile: the pinned connection is not in the pool.
            other = get_conn(proxy, "/other")
            self.assertNotEqual(other, pinned)
            tls.sendall(f"GET /again HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            status, _, body = h.read_response(tls)
            self.assertEqual(status, 200)
            self.assertEqual(re.search(rb"conn=(\d+)", body).group(1).decode(), pinned,
                             "the authenticated client moved to another upstream connection")
        # Its client is gone: the pinned connection was closed, never pooled.
        after = [get_conn(proxy, f"/after{i}") for i in range(3)]
        self.assertNotIn(pinned, after)


class RetryOnDeadPooledConnection(unittest.TestCase):
    def test_an_idempotent_request_goes_again_on_a_fresh_connection(self):
        upstream = ClosingUpstream(env.pki)
        try:
            proxy = one_worker_proxy("pool-retry", upstream.port)
            self.assertEqual(get_conn(proxy, "/one"), "1")
            # The pooled connection looks healthy until the request is on it; then it closes.
            self.assertEqual(get_conn(proxy, "/two"), "2")
            self.assertEqual(upstream.requests, [(1, "GET /one HTTP/1.1"), (1, "GET /two HTTP/1.1"),
                                                 (2, "GET /two HTTP/1.1")])
            self.assertEqual(metric(proxy, "trproxy_upstream_pool_retries_total"), 1)
            # A POST is never sent twice: the client gets the 502.
            code, body, _ = h.curl(proxy, f"https://{HOST}/three", "-X", "POST", "-d", "", cacert=env.ca_crt)
            self.assertEqual(code, 0)
            self.assertIn("502", body)
        finally:
            upstream.close()


def s_client(proxy, *args):
    """openssl s_client through the proxy to the sign-in host; one request, read until close."""
    request = f"GET /resume HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
    r = subprocess.run(["openssl", "s_client", "-proxy", f"127.0.0.1:{proxy.port}", "-connect", f"{HOST}:443",
                        "-servername", HOST, "-CAfile", env.ca_crt, "-verify_return_error", "-ign_eof", *args],
                       input=request, capture_output=True, text=True, timeout=h.DEADLINE)
    return r.stdout


class ClientResumption(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = PoolNginx(os.path.join(env.dir, "resume-nginx"), env.pki)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def session_file(self, name):
        return os.path.join(env.dir, name + ".session")

    def test_a_client_resumes_its_session_with_a_ticket(self):
        proxy = one_worker_proxy("resume-one", self.nginx.ports["long"])
        first = s_client(proxy, "-sess_out", self.session_file("one"))
        self.assertIn("New, TLSv1.3", first)
        second = s_client(proxy, "-sess_in", self.session_file("one"))
        self.assertIn("Reused, TLSv1.3", second)
        self.assertIn("conn=", second)  # and the request went through
        self.assertEqual(metric(proxy, 'trproxy_tls_handshakes_total{side="client",kind="resumed"}'), 1)
        self.assertEqual(metric(proxy, 'trproxy_tls_handshakes_total{side="client",kind="full"}'), 1)
        # Another process seals tickets with keys of its own: a full handshake, still working.
        other = one_worker_proxy("resume-other", self.nginx.ports["long"])
        out = s_client(other, "-sess_in", self.session_file("one"))
        self.assertIn("New, TLSv1.3", out)
        self.assertIn("conn=", out)

    def write_keys(self, name, *keys):
        path = os.path.join(env.dir, name)
        with open(path, "w") as f:
            f.write("# trproxy session-ticket keys, newest first\n" + "".join(k + "\n" for k in keys))
        return path

    def test_replicas_sharing_a_ticket_key_file_resume_each_others_sessions(self):
        new_key = lambda: base64.b64encode(os.urandom(80)).decode()
        old, newer = new_key(), new_key()
        keys = self.write_keys("shared.keys", old)
        extra = f"tls:\n  ticket_keys: {keys}\n"
        replica_a = one_worker_proxy("replica-a", self.nginx.ports["long"], extra)
        replica_b = one_worker_proxy("replica-b", self.nginx.ports["long"], extra)
        self.assertIn("New, TLSv1.3", s_client(replica_a, "-sess_out", self.session_file("a")))
        # The load balancer sends the returning client to the other replica: it resumes there.
        out = s_client(replica_b, "-sess_in", self.session_file("a"))
        self.assertIn("Reused, TLSv1.3", out)
        self.assertIn("conn=", out)
        self.assertEqual(metric(replica_b, 'trproxy_tls_handshakes_total{side="client",kind="resumed"}'), 1)

        # Rotation, as docs/upstream.md says: the new key first, the old one kept to open tickets already out.
        with open(keys, "w") as f:
            f.write(newer + "\n" + old + "\n")
        replica_b.reload()
        self.assertIn("Reused, TLSv1.3", s_client(replica_b, "-sess_in", self.session_file("a")))
        self.assertIn("New, TLSv1.3", s_client(replica_b, "-sess_out", self.session_file("b")))
        # Once the old key is gone, its tickets no longer open: a full handshake, still served.
        with open(keys, "w") as f:
            f.write(newer + "\n")
        replica_b.reload()
        self.assertIn("New, TLSv1.3", s_client(replica_b, "-sess_in", self.session_file("a")))
        self.assertIn("Reused, TLSv1.3", s_client(replica_b, "-sess_in", self.session_file("b")))

    def test_a_bad_ticket_key_file_fails_check_and_is_refused_on_reload(self):
        bad = self.write_keys("bad.keys", base64.b64encode(os.urandom(80)).decode(), "c2hvcnQ=")
        proxy = one_worker_proxy("bad-keys", self.nginx.ports["long"])
        with open(proxy.config) as f:
            good_config = f.read()
        with open(proxy.config, "a") as f:
            f.write(f"tls:\n  ticket_keys: {bad}\n")
        r = h.run_trproxy("--check", "--config", proxy.config)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn(f"{bad}:3: tls.ticket_keys: a key must be the base64 of 80 random bytes", r.stderr)
        proxy.proc.send_signal(signal.SIGHUP)
        h.wait_until(lambda: proxy.stderr_lines_matching(r"reload rejected.*(tls\.ticket_keys.*)"),
                     what="the reload rejected for the key file")
        with open(proxy.config, "w") as f:
            f.write(good_config)
        self.assertIn("conn=", s_client(proxy))  # still serving on the running configuration


if __name__ == "__main__":
    unittest.main()
