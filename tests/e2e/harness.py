"""Real peers for trproxy's end-to-end tests: a test PKI made with the openssl CLI, nginx as
the upstream for every host (on loopback, its own prefix under a temp folder), and trproxy
processes started from generated configs. Only 127.0.0.1 is ever contacted."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import textwrap
import time

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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open within {timeout}s")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Pki:
    """A test root, an unrelated root, and server certificates for the upstreams."""

    def __init__(self, folder):
        self.dir = folder
        os.makedirs(folder, exist_ok=True)
        self.root_crt, self.root_key = self._root("root", "trproxy test upstream root")
        self.rogue_crt, self.rogue_key = self._root("rogue", "an unknown issuer")
        self.good = self._leaf("good", ALL_NAMES, self.root_crt, self.root_key, days=30)
        self.expired = self._leaf("expired", AUTH_HOSTS, self.root_crt, self.root_key, days=-1)
        self.wrong_name = self._leaf("wrongname", ["wrong.example.net"], self.root_crt, self.root_key, days=30)
        self.unknown = self._leaf("unknown", AUTH_HOSTS, self.rogue_crt, self.rogue_key, days=30)

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _root(self, name, cn):
        crt, key = self._path(name + ".crt"), self._path(name + ".key")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", crt, "-days", "30", "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return crt, key

    def _leaf(self, name, hosts, ca_crt, ca_key, days):
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


class Nginx:
    """nginx on loopback: a TLS echo server per certificate and a plain-HTTP echo server. Each
    server logs every request it receives to its own file, so tests can prove what was (not)
    forwarded."""

    def __init__(self, folder, pki):
        self.dir = folder
        os.makedirs(os.path.join(folder, "logs"), exist_ok=True)
        self.ports = {name: free_port() for name in ("good", "expired", "wrongname", "unknown", "plain", "body")}
        servers = []
        for name in ("good", "expired", "wrongname", "unknown"):
            crt, key = getattr(pki, name.replace("wrongname", "wrong_name"))
            servers.append(self._server(name, f"listen 127.0.0.1:{self.ports[name]} ssl;\n"
                                              f"ssl_certificate {crt};\nssl_certificate_key {key};"))
        servers.append(self._server("plain", f"listen 127.0.0.1:{self.ports['plain']};"))
        conf = textwrap.dedent(f"""\
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
        self.proc = subprocess.Popen(["nginx", "-p", folder, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        for port in self.ports.values():
            wait_for_port(port)

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
        path = os.path.join(self.dir, "logs", name + ".log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.read().splitlines()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Proxy:
    """One trproxy process on loopback ports with a generated config."""

    def __init__(self, folder, ca_dir, mode="v2", resolve=None, trust=None, extra="", access_log=True,
                 tenant_extra=""):
        os.makedirs(folder, exist_ok=True)
        self.dir = folder
        self.port = free_port()
        self.admin_port = free_port()
        self.access_log = os.path.join(folder, "access.log")
        self.config = os.path.join(folder, "trproxy.yaml")
        self.write_config(ca_dir, mode, resolve or {}, trust, extra, access_log, tenant_extra)
        self.stderr = open(os.path.join(folder, "stderr.log"), "w")
        self.proc = subprocess.Popen([TRPROXY, "--config", self.config], stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        wait_for_port(self.port)
        wait_for_port(self.admin_port)

    @staticmethod
    def render(ca_dir, mode, resolve, trust, extra, port, admin_port, access_log, tenant_extra=""):
        if mode == "v2":
            tr = f'  v2:\n    tenant_id: "{TENANT}"\n    policy_id: "{POLICY}"\n'
        else:
            tr = (f'  v1:\n    allowed_tenants: [contoso.com, fabrikam.onmicrosoft.com]\n'
                  f'    access_context: "{V1_CONTEXT}"\n    restrict_msa: true\n')
        resolve_yaml = "{" + ", ".join(f'"{h}": "{a}"' for h, a in resolve.items()) + "}"
        return (f'listen: "127.0.0.1:{port}"\nthreads: 2\n'
                f'ca:\n  cert: {ca_dir}/ca.crt\n  key: {ca_dir}/ca.key\n'
                f'upstream:\n  trust: {trust or "system"}\n  resolve: {resolve_yaml}\n  connect_timeout: 2s\n'
                f'tenant_restrictions:\n{tr}{tenant_extra}'
                f'block: [{BLOCKED_HOST}]\n'
                f'admin:\n  listen: "127.0.0.1:{admin_port}"\n'
                f'log:\n  level: debug\n  access: "{access_log}"\n' + extra)

    def write_config(self, ca_dir, mode, resolve, trust, extra, access_log=True, tenant_extra=""):
        with open(self.config, "w") as f:
            f.write(self.render(ca_dir, mode, resolve, trust, extra, self.port, self.admin_port,
                                self.access_log if access_log else "", tenant_extra))

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

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=DEADLINE + 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        return self.proc.returncode


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


def tls_through(proxy, host, cafile, port=443, server_hostname=None):
    """A TLS connection to host through a CONNECT tunnel, verified against cafile."""
    s, status = connect_tunnel(proxy, f"{host}:{port}")
    if " 200 " not in status + " ":
        s.close()
        raise AssertionError("CONNECT failed: " + status)
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx.wrap_socket(s, server_hostname=server_hostname or host)


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


class Environment:
    """Everything shared by a test module: PKI, nginx and the trproxy CA."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="trproxy-e2e-")
        self.pki = Pki(os.path.join(self.dir, "pki"))
        self.nginx = Nginx(os.path.join(self.dir, "nginx"), self.pki)
        self.ca_dir = os.path.join(self.dir, "ca")
        run([TRPROXY, "ca", "init", "--dir", self.ca_dir])
        self.ca_crt = os.path.join(self.ca_dir, "ca.crt")
        self.proxies = []

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
        for p in self.proxies:
            p.stop()
        self.nginx.stop()
        if os.environ.get("TRPROXY_KEEP_E2E") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
