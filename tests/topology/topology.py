"""Real peers in front of and behind trproxy: HAProxy (TCP mode, PROXY protocol v2, health
checks on /readyz) and Squid (the corporate parent proxy). Built on the e2e harness; only
127.0.0.0/8 is used (clients come from 127.0.0.2 and 127.0.0.3 so the logs can tell them from
the balancer on 127.0.0.1)."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness as h  # noqa: E402


class Replica(h.Proxy):
    """A trproxy on fixed ports (a balancer's backend list names them), so it can be restarted
    in place: each start is a new Replica on the same ports in a new folder."""

    def __init__(self, folder, ca_dir, port, admin_port, **kw):
        self.fixed = (port, admin_port)
        super().__init__(folder, ca_dir, **kw)

    def write_config(self, *args, **kw):
        self.listen_port, self.admin_listen_port = self.fixed
        super().write_config(*args, **kw)


def start_process(cmd, folder, name, ready, timeout=h.DEADLINE):
    """Starts cmd with output in folder/name.log and waits (bounded) until ready() holds."""
    with open(os.path.join(folder, name + ".log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        h.wait_until(lambda: proc.poll() is not None or ready(), timeout=timeout, what=f"{name} start")
    except TimeoutError:
        proc.kill()
        raise
    if proc.poll() is not None:
        with open(os.path.join(folder, name + ".log")) as f:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {f.read()}")
    return proc


def stop_process(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=h.DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class HAProxy:
    """HAProxy in TCP mode in front of trproxy replicas: PROXY protocol v2 to each, HTTP health
    checks on each replica's /readyz (admin port). docs/deployment.md, "Behind a load balancer",
    shows this same configuration."""

    def __init__(self, folder, backends, inter_ms=200):
        self.dir = folder
        os.makedirs(folder, exist_ok=True)
        self.port = h.free_port()
        self.stats = os.path.join(folder, "haproxy.sock")
        servers = "\n".join(f"  server {name} 127.0.0.1:{port} check port {admin_port}"
                            for name, port, admin_port in backends)
        self.conf = os.path.join(folder, "haproxy.cfg")
        with open(self.conf, "w") as f:
            f.write(textwrap.dedent(f"""\
                global
                  maxconn 2000
                  stats socket {self.stats} mode 600 level admin

                defaults
                  mode tcp
                  timeout connect 2s
                  timeout client 60s
                  timeout server 60s
                  retries 3
                  option redispatch

                frontend trproxy
                  bind 127.0.0.1:{self.port}
                  default_backend trproxy

                backend trproxy
                  balance roundrobin
                  option httpchk GET /readyz
                  http-check expect status 200
                  default-server inter {inter_ms}ms fall 1 rise 2 send-proxy-v2
                """) + servers + "\n")
        self.proc = start_process(["haproxy", "-f", self.conf, "-db"], folder, "haproxy",
                                  lambda: port_open(self.port) and self.stats_accepts())

    def stats_accepts(self):
        """The stats socket takes connections: its file appears at bind(), before listen(), so a
        connect right after the file shows up can still be refused (seen under load)."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(h.DEADLINE)
                s.connect(self.stats)
            return True
        except OSError:
            return False

    def server_states(self):
        """{server name: status} as HAProxy sees them (UP, DOWN, ...)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(h.DEADLINE)
            s.connect(self.stats)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "trproxy" and row.get("svname") not in ("FRONTEND", "BACKEND", None):
                out[row["svname"]] = row["status"]
        return out

    def wait_state(self, server, status):
        h.wait_until(lambda: self.server_states().get(server, "").startswith(status),
                     what=f"HAProxy seeing {server} {status}")

    def stop(self):
        stop_process(self.proc)


class Squid:
    """Debian's Squid as the corporate parent proxy on loopback, logging every request. It
    allows CONNECT from 127.0.0.1 to the listed ports and refuses the `denied` ports (403).
    Its folder is its own: Squid started as root runs as the `proxy` user, which must reach it."""

    def __init__(self, allowed_ports, denied_ports=()):
        folder = tempfile.mkdtemp(prefix="trproxy-squid-")
        self.dir = folder
        os.chmod(folder, 0o777)
        self.port = h.free_port()
        self.access_log = os.path.join(folder, "access.log")
        self.conf = os.path.join(folder, "squid.conf")
        allowed = " ".join(str(p) for p in allowed_ports)
        denied = " ".join(str(p) for p in denied_ports) or "1"
        with open(self.conf, "w") as f:
            f.write(textwrap.dedent(f"""\
                http_port 127.0.0.1:{self.port}
                pid_filename {folder}/squid.pid
                access_log stdio:{self.access_log}
                cache_log {folder}/cache.log
                cache_store_log none
                coredump_dir {folder}
                cache deny all
                cache_mem 8 MB
                shutdown_lifetime 0 seconds
                dns_nameservers 127.0.0.1
                acl trproxy src 127.0.0.1/32
                acl allowed_ports port {allowed}
                acl denied_ports port {denied}
                acl CONNECT method CONNECT
                http_access deny denied_ports
                http_access allow trproxy allowed_ports
                http_access deny all
                """))
        self.proc = start_process(["squid", "-N", "-f", self.conf], folder, "squid", lambda: port_open(self.port),
                                  timeout=h.DEADLINE * 2)

    def logged(self):
        try:
            with open(self.access_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_logged(self, needle):
        """The Squid access-log lines holding needle, once there is one (Squid logs after the
        transaction, so this waits, bounded)."""
        return h.wait_until(lambda: [line for line in self.logged() if needle in line],
                            what=f"Squid logging {needle!r}")

    def stop(self):
        stop_process(self.proc)
        if os.environ.get("TRPROXY_KEEP_E2E") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
