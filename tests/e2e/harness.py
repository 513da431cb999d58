"""Real peers for trproxy's end-to-end tests: a test PKI made with the openssl CLI, nginx as
the upstream for every host (on loopback, its own prefix under a temp folder), and trproxy
processes started from generated configs. Only 127.0.0.1 is ever contacted.

trproxy binds its listeners to port 0 and the harness reads the bound ports back from its
stderr (`listening on 127.0.0.1:PORT`, `admin endpoint on 127.0.0.1:PORT`), so suites can run in
parallel (ctest -j). TRPROXY_E2E_LEGACY_PORTS=1 picks free ports up front instead, for binaries
that cannot bind port 0. A trproxy whose stderr carries a sanitizer report fails the test that
stops it. TRPROXY_E2E_TIME_SCALE (default 1) stretches the upper bounds of timing assertions for
slow (sanitizer) builds."""

import os
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import textwrap
import urllib.request
import threading
import time
import unittest
import uuid

TENANT = "aaaabbbb-0000-cccc-1111-dddd2222eeee"
POLICY = "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5"
V2_VALUE = f"{TENANT}:{POLICY}"
V1_TENANTS = "contoso.com,fabrikam.onmicrosoft.com"
V1_CONTEXT = "bbbbcccc-1111-dddd-2222-eeee3333ffff"

AUTH_HOSTS = ["login.microsoftonline.com", "login.microsoft.com", "login.windows.net"]
MSA_HOST = "login.live.com"
EXCLUDED_HOSTS = ["device.login.microsoftonline.com", "enterpriseregistration.windows.net"]
OTHER_HOST = "www.example.com"
BLOCKED_HOST = "onedrive.live.com"
ALL_NAMES = AUTH_HOSTS + [MSA_HOST] + EXCLUDED_HOSTS + [OTHER_HOST, "plain.example.com"]

TRPROXY = os.environ.get("TRPROXY_BIN", os.path.join(os.path.dirname(__file__), "../../build/trproxy"))
DEADLINE = 20.0  # bound on every wait in these tests
LEGACY_PORTS = os.environ.get("TRPROXY_E2E_LEGACY_PORTS", "0") == "1"
TIME_SCALE = float(os.environ.get("TRPROXY_E2E_TIME_SCALE", "1"))
# Set by scripts/sanitize.sh for TSan, whose engine is too slow for Chromium's own timeouts: the
# browser suites are left out there by label, and a browser test inside another suite by this.
SKIP_BROWSER = os.environ.get("TRPROXY_E2E_SKIP_BROWSER") == "1"

# What ASan, UBSan, LSan and TSan print when they find something.
SANITIZER_MARKERS = ("Sanitizer", "runtime error:")


def sanitizer_report(text):
    """The lines of text around the first sanitizer report, or None."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if any(marker in line for marker in SANITIZER_MARKERS):
            return "\n".join(lines[max(0, i - 2):i + 40])
    return None


def wait_until(predicate, timeout=DEADLINE, interval=0.02, what="condition"):
    """Polls predicate until it returns something truthy (returned); TimeoutError after timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def write_file(folder, name, text):
    """Writes text to folder/name and returns the path."""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count):
    """`count` different free ports: all are held at once while picked, so none repeats (two
    free_port() calls can return the same port, and two nginx servers on one port then merge)."""
    held = [socket.socket() for _ in range(count)]
    try:
        for s in held:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def wait_for_port(port, timeout=DEADLINE, proc=None):
    """Waits until 127.0.0.1:port accepts; fails early when proc (the listener) has exited."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open within {timeout}s")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def run_trproxy(*args, timeout=DEADLINE):
    """Runs the trproxy command line (not the server); fails on a sanitizer report."""
    r = subprocess.run([TRPROXY, *args], capture_output=True, text=True, timeout=timeout)
    report = sanitizer_report(r.stderr)
    if report:
        raise AssertionError(f"sanitizer report from trproxy {' '.join(args)}:\n{report}")
    return r


class Pki:
    """A test root, an unrelated root, and server certificates for the upstreams."""

    def __init__(self, folder):
        self.dir = folder
        os.makedirs(folder, exist_ok=True)
        self.root_crt, self.root_key = self._root("root", "trproxy test upstream root")
        self.rogue_crt, self.rogue_key = self._root("rogue", "an unknown issuer")
        self.good = self.leaf("good", ALL_NAMES, self.root_crt, self.root_key, days=30)
        self.expired = self.leaf("expired", AUTH_HOSTS, self.root_crt, self.root_key, days=-1)
        self.wrong_name = self.leaf("wrongname", ["wrong.example.net"], self.root_crt, self.root_key, days=30)
        self.unknown = self.leaf("unknown", AUTH_HOSTS, self.rogue_crt, self.rogue_key, days=30)

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _root(self, name, cn):
        crt, key = self._path(name + ".crt"), self._path(name + ".key")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", crt, "-days", "30", "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return crt, key

    def leaf(self, name, hosts, ca_crt, ca_key, days=30):
        """A server certificate for hosts (DNS names) issued by ca_crt/ca_key with the openssl CLI."""
        crt, key, csr, ext = (self._path(name + s) for s in (".crt", ".key", ".csr", ".ext"))
        run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
             "-out", csr, "-subj", f"/CN={hosts[0]}"])
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join("DNS:" + h for h in hosts) + "\nextendedKeyUsage=serverAuth\n")
        if days > 0:
            run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", crt, "-days", str(days), "-extfile", ext])
        else:
            # An already-expired certificate: openssl ca with explicit dates in the past.
            db = self._path(name + ".db")
            open(db, "w").close()
            conf = self._path(name + ".cnf")
            with open(conf, "w") as f:
                f.write(textwrap.dedent(f"""\
                    [ca]
                    default_ca = test
                    [test]
                    database = {db}
                    new_certs_dir = {self.dir}
                    serial = {self._path(name + '.srl')}
                    default_md = sha256
                    policy = any
                    copy_extensions = none
                    [any]
                    commonName = supplied
                    """))
            with open(self._path(name + ".srl"), "w") as f:
                f.write("1000\n")
            run(["openssl", "ca", "-batch", "-config", conf, "-cert", ca_crt, "-keyfile", ca_key, "-in", csr,
                 "-out", crt, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", ext,
                 "-notext"])
        return crt, key


ECHO = ('method=$request_method\\nuri=$request_uri\\nhost=$http_host\\n'
        'rat=$http_restrict_access_to_tenants\\nrac=$http_restrict_access_context\\n'
        'strap=$http_sec_restrict_tenant_access_policy\\nproxyconn=$http_proxy_connection\\n'
        'requests=$connection_requests\\nbody=$http_x_echo_body\\nclen=$http_content_length\\n')


SENTINEL = "__e2e-sentinel"


def nginx_preamble(folder):
    """The start of a foreground, single-process nginx config whose pid, logs and temp files live
    in folder, up to the opening of the http block."""
    return textwrap.dedent(f"""\
        daemon off;
        master_process off;
        worker_processes 1;
        pid {folder}/nginx.pid;
        error_log {folder}/logs/error.log warn;
        events {{ worker_connections 1024; }}
        http {{
          access_log off;
          client_body_temp_path {folder}/body;
          proxy_temp_path {folder}/proxy;
          fastcgi_temp_path {folder}/fastcgi;
          uwsgi_temp_path {folder}/uwsgi;
          scgi_temp_path {folder}/scgi;
        """)


class Nginx:
    """nginx on loopback: a TLS echo server per certificate and a plain-HTTP echo server. Each
    server logs every request it receives to its own file, so tests can prove what was (not)
    forwarded."""

    NAMES = ("good", "expired", "wrongname", "unknown", "plain", "body")
    ATTEMPTS = 5

    def __init__(self, folder, pki):
        self.dir = folder
        self.pki = pki
        os.makedirs(os.path.join(folder, "logs"), exist_ok=True)
        # nginx cannot report the ports it bound, so they are picked up front; a port taken in
        # between (another suite running in parallel) makes nginx exit, and it is started again.
        for attempt in range(self.ATTEMPTS):
            self.ports = dict(zip(self.NAMES, free_ports(len(self.NAMES))))
            self._write_config()
            if self._start():
                break
        else:
            raise RuntimeError(f"nginx could not bind its ports in {self.ATTEMPTS} attempts: {self.failure}")
        for port in self.ports.values():
            wait_for_port(port)

    def _start(self):
        pid_file = os.path.join(self.dir, "nginx.pid")
        if os.path.exists(pid_file):
            os.remove(pid_file)
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)

        def started():
            # nginx writes its pid file only after it has bound every listener.
            if self.proc.poll() is not None:
                return "exited"
            try:
                with open(pid_file) as f:
                    return "up" if f.read().strip() == str(self.proc.pid) else None
            except FileNotFoundError:
                return None

        if wait_until(started, what="nginx start") == "up":
            return True
        self.failure = self.proc.stderr.read()
        if "Address already in use" not in self.failure:
            raise RuntimeError("nginx failed to start: " + self.failure)
        return False

    def _write_config(self):
        folder, pki = self.dir, self.pki
        servers = []
        for name in ("good", "expired", "wrongname", "unknown"):
            crt, key = getattr(pki, name.replace("wrongname", "wrong_name"))
            servers.append(self._server(name, f"listen 127.0.0.1:{self.ports[name]} ssl;\n"
                                              f"ssl_certificate {crt};\nssl_certificate_key {key};"))
        servers.append(self._server("plain", f"listen 127.0.0.1:{self.ports['plain']};"))
        conf = nginx_preamble(folder) + textwrap.dedent(f"""\
              keepalive_requests 1000;
              log_format seen '$request_method $request_uri strap="$http_sec_restrict_tenant_access_policy" rat="$http_restrict_access_to_tenants"';
              server {{
                listen 127.0.0.1:{self.ports['body']};
                location / {{ return 200 "{ECHO}"; }}
              }}
            """) + "\n".join(servers) + "\n}\n"
        self.conf = os.path.join(folder, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def _server(self, name, listen):
        # /echo-body reads the body into $request_body and hands it to the echo server, so the
        # response shows what the body was after nginx decoded its framing.
        return textwrap.indent(textwrap.dedent(f"""\
            server {{
              {listen}
              server_name _;
              access_log {self.dir}/logs/{name}.log seen;
              client_body_buffer_size 1m;
              client_max_body_size 10m;
              location /files/ {{
                alias {self.dir}/files/;
              }}
              location /echo-body {{
                proxy_set_header X-Echo-Body $request_body;
                proxy_set_header Host $http_host;
                proxy_set_header Sec-Restrict-Tenant-Access-Policy $http_sec_restrict_tenant_access_policy;
                proxy_pass http://127.0.0.1:{self.ports['body']};
              }}
              location / {{
                return 200 "{ECHO}";
              }}
            }}
            """), "  ")

    def seen(self, name):
        """The requests the named server has logged so far (sentinels left out)."""
        path = os.path.join(self.dir, "logs", name + ".log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [line for line in f.read().splitlines() if SENTINEL not in line]

    def seen_settled(self, name):
        """seen(name) once nginx has logged everything it received before this call: a sentinel
        request is sent straight to the server, and the log is read once the sentinel is in it.
        nginx logs a request after answering it, so reading the log right after the proxy's
        response would race; with one worker, the sentinel is logged after every earlier request
        that had completed."""
        token = f"{SENTINEL}-{uuid.uuid4().hex}"
        raw = socket.create_connection(("127.0.0.1", self.ports[name]), timeout=DEADLINE)
        if name in ("good", "expired", "wrongname", "unknown"):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # the expired and mis-named servers are reached too
            raw = ctx.wrap_socket(raw, server_hostname=AUTH_HOSTS[0])
        with raw as s:
            s.sendall(f"GET /{token} HTTP/1.1\r\nHost: sentinel\r\nConnection: close\r\n\r\n".encode())
            status, _, _ = read_response(s)
            if status != 200:
                raise AssertionError(f"sentinel request to nginx {name} got {status}")
        path = os.path.join(self.dir, "logs", name + ".log")

        def logged():
            try:
                with open(path) as f:
                    return token in f.read()
            except FileNotFoundError:
                return False

        wait_until(logged, what=f"sentinel in the nginx {name} log")
        return self.seen(name)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Proxy:
    """One trproxy process on loopback ports with a generated config. Usable as a context
    manager (stopped on exit); Environment.close stops whatever is still running."""

    LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
    ADMIN_RE = re.compile(r"admin endpoint on 127\.0\.0\.1:(\d+)")

    def __init__(self, folder, ca_dir, mode="v2", resolve=None, trust=None, extra="", access_log=True,
                 tenant_extra="", block=(BLOCKED_HOST,), environ=None, watch=False, parent=None, threads=2):
        os.makedirs(folder, exist_ok=True)
        self.dir = folder
        self.threads = threads  # one worker: every connection shares one upstream pool
        self.block = block  # the `block` list, kept by write_config
        # watch_files is off unless a test asks: the SIGHUP tests count reloads exactly.
        self.watch = watch
        self.parent = parent  # upstream.proxy, "host:port"
        self.stopped = False
        # The ports written to the config: 0 (bind any, read back) unless legacy mode.
        self.listen_port = free_port() if LEGACY_PORTS else 0
        self.admin_listen_port = free_port() if LEGACY_PORTS else 0
        self.access_log = os.path.join(folder, "access.log")
        self.config = os.path.join(folder, "trproxy.yaml")
        self.write_config(ca_dir, mode, resolve or {}, trust, extra, access_log, tenant_extra)
        self.stderr_path = os.path.join(folder, "stderr.log")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([TRPROXY, "--config", self.config], stdout=subprocess.DEVNULL,
                                     stderr=self.stderr, env=dict(os.environ, **(environ or {})))
        try:
            if LEGACY_PORTS:
                self.port, self.admin_port = self.listen_port, self.admin_listen_port
                wait_for_port(self.port, proc=self.proc)
                wait_for_port(self.admin_port, proc=self.proc)
            else:
                self.port, self.admin_port = self._bound_ports()
        except Exception as e:
            self.stop(check=False)
            raise RuntimeError(f"trproxy did not start ({e}); its stderr:\n{self.stderr_text()}") from e

    def _bound_ports(self):
        def logged():
            text = self.stderr_text()
            listen, admin = self.LISTEN_RE.search(text), self.ADMIN_RE.search(text)
            if listen and admin:
                return int(listen.group(1)), int(admin.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"trproxy exited with {self.proc.returncode} before listening:\n{text}")
            return None

        ports = wait_until(logged, what="trproxy's 'listening on' and 'admin endpoint on' lines")
        if 0 in ports:
            raise RuntimeError(f"trproxy logged port 0 instead of the bound port: {ports}")
        return ports

    def stderr_text(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stderr_lines_matching(self, pattern):
        return re.findall(pattern, self.stderr_text(), re.MULTILINE)

    def reload(self):
        """SIGHUP, then waits (bounded) until the proxy logs that a new revision is active.
        Returns the revision number."""
        pattern = r"reload: configuration revision (\d+) active"
        before = len(self.stderr_lines_matching(pattern))
        self.proc.send_signal(signal.SIGHUP)

        def reloaded():
            revisions = self.stderr_lines_matching(pattern)
            return revisions if len(revisions) > before else None

        revisions = wait_until(reloaded, what="'reload: configuration revision N active' on trproxy's stderr")
        return int(revisions[-1])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @staticmethod
    def render(ca_dir, mode, resolve, trust, extra, port, admin_port, access_log, tenant_extra="",
               block=(BLOCKED_HOST,), watch=False, parent=None, threads=2):
        if mode == "v2":
            tr = f'  v2:\n    tenant_id: "{TENANT}"\n    policy_id: "{POLICY}"\n'
        else:
            tr = (f'  v1:\n    allowed_tenants: [contoso.com, fabrikam.onmicrosoft.com]\n'
                  f'    access_context: "{V1_CONTEXT}"\n    restrict_msa: true\n')
        resolve_yaml = "{" + ", ".join(f'"{h}": "{a}"' for h, a in resolve.items()) + "}"
        return (f'listen: "127.0.0.1:{port}"\nthreads: {threads}\n'
                f'ca:\n  cert: {ca_dir}/ca.crt\n  key: {ca_dir}/ca.key\n'
                f'upstream:\n  trust: {trust or "system"}\n  resolve: {resolve_yaml}\n  connect_timeout: 2s\n'
                + (f'  proxy: "{parent}"\n' if parent else "") +
                f'tenant_restrictions:\n{tr}{tenant_extra}'
                'block: [' + ", ".join(f'"{b}"' for b in block) + ']\n'
                f'admin:\n  listen: "127.0.0.1:{admin_port}"\n'
                f'log:\n  level: debug\n  access: "{access_log}"\n'
                f'watch_files: {"true" if watch else "false"}\n' + extra)

    def write_config(self, ca_dir, mode, resolve, trust, extra, access_log=True, tenant_extra=""):
        self.store_config(self.render(ca_dir, mode, resolve, trust, extra, self.listen_port, self.admin_listen_port,
                                      self.access_log if access_log else "", tenant_extra, self.block, self.watch,
                                      self.parent, self.threads))

    def store_config(self, text):
        """Writes the config file (a subclass may write it another way, e.g. as kubelet does)."""
        with open(self.config, "w") as f:
            f.write(text)

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def access_lines(self):
        try:
            with open(self.access_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_access_lines(self, count, timeout=DEADLINE):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = self.access_lines()
            if len(lines) >= count:
                return lines
            time.sleep(0.05)
        return self.access_lines()

    def stop(self, sig=signal.SIGTERM, check=True):
        """Stops the process (once) and returns its exit code. Raises AssertionError when its
        stderr holds a sanitizer report (unless check is False)."""
        if not self.stopped:
            self.stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout=DEADLINE + 10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.stderr.close()
            if check:
                report = sanitizer_report(self.stderr_text())
                if report:
                    raise AssertionError(f"sanitizer report in {self.stderr_path}:\n{report}")
        return self.proc.returncode


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise unittest.SkipTest("no Chromium installed (packages.txt lists it; run scripts/setup.sh)")


class Chromium:
    """Headless Chromium with a HOME of its own whose NSS database trusts only ca_crt. No
    certificate-error flag is ever used: what it loads satisfied Chromium's own verifier."""

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage"]

    def __init__(self, folder, ca_crt):
        self.binary = chromium_binary()
        self.home = tempfile.mkdtemp(prefix="trproxy-chromium-", dir=folder)
        nssdb = os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(nssdb)
        run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"])
        run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "trproxy-test", "-i", ca_crt])
        self.runs = 0

    def load(self, url, *flags):
        """Loads url (one fresh profile per call) and returns (DOM, stderr)."""
        self.runs += 1
        profile = os.path.join(self.home, f"profile-{self.runs}")
        cmd = [self.binary, *self.FLAGS, f"--user-data-dir={profile}", *flags, "--dump-dom", url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": self.home})
        return out.stdout, out.stderr


def curl(proxy, url, *args, cacert=None, timeout=DEADLINE):
    """curl through the proxy; returns (exit code, body, stderr)."""
    cmd = ["curl", "-sS", "--max-time", str(int(timeout)), "-x", proxy.url(), url]
    if cacert:
        cmd += ["--cacert", cacert]
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5, env={**os.environ, "NO_PROXY": ""})
    return p.returncode, p.stdout, p.stderr


def echo_fields(body):
    out = {}
    for line in body.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def scrape(proxy):
    """The proxy's /metrics as {series: value}, e.g. {'trproxy_upstream_pool_hits_total': 3.0}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=DEADLINE) as r:
        text = r.read().decode()
    return {name: float(value) for name, value in re.findall(r"^(trproxy_\S+) (\S+)$", text, re.M)}


def connect_tunnel(proxy, authority, timeout=DEADLINE):
    """A raw CONNECT; returns (socket, status line)."""
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)
    s.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head.split(b"\r\n", 1)[0].decode(errors="replace")


def get_through_tunnel(test, cafile, proxy, authority, sni, host, path, check_hostname=False):
    """CONNECT, then TLS verified against `cafile` with `sni` (None: no server_name) and one GET;
    returns the echo fields, or None when the proxy closed the connection."""
    s, status = connect_tunnel(proxy, authority)
    with s:
        test.assertIn(" 200 ", status)
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = check_hostname
        try:
            with ctx.wrap_socket(s, server_hostname=sni) as tls:
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                status, _, body = read_response(tls)
        except (ssl.SSLError, ConnectionError):
            return None
    if status is None:
        return None
    test.assertEqual(status, 200)
    return echo_fields(body.decode())


def tls_through(proxy, host, cafile, port=443, server_hostname=None, alpn=("http/1.1",)):
    """A TLS connection to host through a CONNECT tunnel, verified against cafile."""
    s, status = connect_tunnel(proxy, f"{host}:{port}")
    try:
        if " 200 " not in status + " ":
            raise AssertionError("CONNECT failed: " + status)
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.set_alpn_protocols(list(alpn))
        return ctx.wrap_socket(s, server_hostname=server_hostname or host)
    except BaseException:
        s.close()
        raise


def raw_request(proxy, raw, timeout=DEADLINE):
    """Sends raw bytes on a new connection to the proxy listener; returns read_response's
    (status, head, body)."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout) as s:
        s.sendall(raw)
        return read_response(s, timeout)


def raw_request_from(port, raw, source="127.0.0.1", pieces=1, timeout=DEADLINE):
    """Sends raw bytes from a chosen loopback source address (127.0.0.2, ... stand for other
    clients) to 127.0.0.1:port, in `pieces` writes; returns read_response's (status, head, body)."""
    with socket.socket() as s:
        s.settimeout(timeout)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        step = max(1, len(raw) // pieces)
        for i in range(0, len(raw), step):
            s.sendall(raw[i:i + step])
        return read_response(s, timeout)


def read_head(sock, timeout=DEADLINE):
    """Reads up to the end of one response head. Returns (status or None, head text, bytes
    read past the head)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, data.decode(errors="replace"), b""
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), head.decode(errors="replace"), rest


def read_response(sock, timeout=DEADLINE):
    """Reads one HTTP/1.1 response (Content-Length framed or until close). Returns (status, head, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    if b"\r\n\r\n" not in data:
        return None, data, b""
    head, body = data.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if m:
        need = int(m.group(1))
        while len(body) < need:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, head.decode(errors="replace"), body[:need]
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        body += chunk
    return status, head.decode(errors="replace"), body


def read_all_until_close(sock, timeout=DEADLINE):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def recv_head(sock, data=b""):
    """Reads from sock until data holds a whole request or response head. Returns (head without
    its closing empty line, the bytes after it), or None when the peer closes first."""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


class _LoopbackServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops SYNs when many connections arrive while the accepting
    # thread waits for the GIL (the soak, the 200-tunnel tests): a dropped SYN is retried after
    # a second, past a test's connect_timeout.
    request_queue_size = 128


class PythonUpstream:
    """A tiny upstream on 127.0.0.1 (or `bind`, inside a test's network namespace), port picked
    by the kernel unless given, one thread per connection; subclasses define handle(sock).
    Usable as a context manager."""

    def __init__(self, tls_cert=None, bind=("127.0.0.1", 0)):
        outer = self
        self.tls = None
        if tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls_cert)

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.settimeout(DEADLINE)
                try:
                    if outer.tls:
                        sock = outer.tls.wrap_socket(sock, server_side=True)
                    outer.handle(sock)
                except (OSError, ssl.SSLError):
                    pass
                finally:
                    if sock is not self.request:
                        sock.close()

        self.server = _LoopbackServer(bind, Handler)
        self.port = self.server.server_address[1]
        self.address = f"{bind[0]}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, sock):
        raise NotImplementedError

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BannerEchoServer(PythonUpstream):
    """A server that speaks first: sends BANNER on accept, then echoes what it receives."""

    BANNER = b"220 e2e banner server ready\r\n"

    def handle(self, sock):
        sock.sendall(self.BANNER)
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data)


class HeadRecorder(PythonUpstream):
    """An HTTP/1.1 origin that records every request head byte for byte (nginx drops fields
    with underscores in their names) and answers each with `200 recorded`, keeping the
    connection alive."""

    def __init__(self, tls_cert=None):
        self.heads = []
        self.lock = threading.Lock()
        super().__init__(tls_cert)

    def handle(self, sock):
        data = b""
        while True:
            received = recv_head(sock, data)
            if received is None:
                return
            head, data = received
            with self.lock:
                self.heads.append(head.decode("latin-1"))
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            need = int(m.group(1)) if m else 0
            while len(data) < need:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            data = data[need:]
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nrecorded\n")

    def field_names(self, index=-1):
        """The field names of a recorded head, as sent."""
        with self.lock:
            head = self.heads[index]
        return [line.split(":", 1)[0] for line in head.split("\r\n")[1:]]


class Environment:
    """Everything shared by a test module: PKI, nginx and the trproxy CA."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="trproxy-e2e-")
        self.proxies = []
        self.nginx = None
        try:
            self.pki = Pki(os.path.join(self.dir, "pki"))
            self.nginx = Nginx(os.path.join(self.dir, "nginx"), self.pki)
            self.ca_dir = os.path.join(self.dir, "ca")
            r = run_trproxy("ca", "init", "--dir", self.ca_dir)
            if r.returncode != 0:
                raise RuntimeError("trproxy ca init failed: " + r.stderr)
            self.ca_crt = os.path.join(self.ca_dir, "ca.crt")
        except BaseException:
            self.close()
            raise

    def resolve_all(self, kind="good"):
        port = self.nginx.ports[kind]
        return {h: f"127.0.0.1:{port}" for h in ALL_NAMES}

    def proxy(self, name, **kw):
        kw.setdefault("trust", self.pki.root_crt)
        kw.setdefault("resolve", self.resolve_all())
        p = Proxy(os.path.join(self.dir, name), self.ca_dir, **kw)
        self.proxies.append(p)
        return p

    def close(self):
        """Stops every proxy and nginx; then raises the first sanitizer report, if any."""
        failures = []
        for p in self.proxies:
            try:
                p.stop()
            except AssertionError as e:
                failures.append(e)
        if self.nginx:
            self.nginx.stop()
        if os.environ.get("TRPROXY_KEEP_E2E") is None and not failures:
            shutil.rmtree(self.dir, ignore_errors=True)
        if failures:
            raise failures[0]


def module_fixtures(module_globals, **proxies):
    """setUpModule and tearDownModule for a test module: an Environment in the module global
    `env`, and one proxy per keyword in the global of that name. Each keyword's value is the
    Environment.proxy keyword arguments, or a function of the environment that returns them."""

    def set_up():
        env = Environment()
        module_globals["env"] = env
        try:
            for name, kw in proxies.items():
                module_globals[name] = env.proxy(name, **(kw(env) if callable(kw) else kw))
        except BaseException:
            env.close()  # tearDownModule does not run when setUpModule fails
            raise

    def tear_down():
        module_globals["env"].close()

    return set_up, tear_down
