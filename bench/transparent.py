#!/usr/bin/env python3
"""Transparent egress, measured (issue 22), side by side in one run, in the namespace topology of
tests/topology/test_transparent.py (client, gateway with the shipped nftables rules, upstream;
method redirect unless --method tproxy):

- Transparent tunnels against HAProxy 2.6 in `mode tcp` as the usual SNI router: it waits for the
  ClientHello (req.ssl_hello_type), then forwards to the original destination (`server 0.0.0.0:0`).
  Per GiB: a curl download of --mib MiB from the upstream through each. Per new flow: short TLS
  connections (handshake with the origin, one small GET, close), --flows of them.
- The transparent entry against a CONNECT: the same short flows through trproxy's explicit
  listener (CONNECT, then the same TLS), for a tunnelled host and for an intercepted sign-in.

Every figure is the proxy's own CPU time (utime+stime of its processes) per GiB or per flow, the
median of --rounds rounds interleaved across targets (bench-notes.md: a 2-core machine measures
CPU far better than throughput). Needs root, ip, nft, haproxy, nginx. Nothing leaves the
namespaces.
Usage: sudo python3 bench/transparent.py [--mib 1024] [--flows 2000] [--rounds 3] [--method redirect|tproxy]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "topology"))
import harness as h  # noqa: E402
import load  # noqa: E402
import test_transparent as topo_test  # noqa: E402

TUNNEL_HOST = "bulk.example.net"
ORIGIN = topo_test.INTERNET[4]
HAPROXY_PORT = 3130
EXPLICIT_PORT = 3128

FLOW_CLIENT = r"""
import socket, ssl, sys, time
mode, count, host, target, proxy = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
request = f"GET /small HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
done = 0
for _ in range(count):
    if mode == "connect":
        s = socket.create_connection((proxy.split(':')[0], int(proxy.split(':')[1])))
        s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
    else:
        s = socket.create_connection((target, 443))
    t = ctx.wrap_socket(s, server_hostname=host)
    t.sendall(request)
    data = b""
    while True:
        chunk = t.recv(65536)
        if not chunk:
            break
        data += chunk
    t.close()
    done += data.startswith(b"HTTP/1.1 200")
print(done)
"""


def origin_config(folder, cert, big):
    return textwrap.dedent(f"""\
        daemon off; master_process off; worker_processes 1; pid {folder}/nginx.pid;
        error_log {folder}/error.log warn;
        events {{ worker_connections 4096; }}
        http {{
          access_log off; sendfile off;
          client_body_temp_path {folder}/b; proxy_temp_path {folder}/p; fastcgi_temp_path {folder}/f;
          uwsgi_temp_path {folder}/u; scgi_temp_path {folder}/s;
          server {{
            listen 0.0.0.0:443 ssl; listen [::]:443 ssl; ssl_certificate {cert[0]}; ssl_certificate_key {cert[1]};
            location = /big {{ alias {big}; }}
            location / {{ return 200 "small $http_sec_restrict_tenant_access_policy\\n"; }}
          }}
        }}
        """)


def haproxy_config(folder, method):
    return textwrap.dedent(f"""\
        global
          maxconn 9000
          pidfile {folder}/haproxy.pid
        defaults
          mode tcp
          timeout connect 5s
          timeout client 60s
          timeout server 60s
        frontend sni_router
          bind 0.0.0.0:{HAPROXY_PORT}{" transparent" if method == "tproxy" else ""}
          bind [::]:{HAPROXY_PORT} v6only{" transparent" if method == "tproxy" else ""}
          tcp-request inspect-delay 5s
          tcp-request content accept if {{ req.ssl_hello_type 1 }}
          use_backend original_destination if {{ req.ssl_sni -m found }}
          default_backend original_destination
        backend original_destination
          server destination 0.0.0.0:0
        """)


def proxy_cpu(pids):
    return load.cpu_seconds(pids)


def run_flows(topo, mode, count, host, proxy=""):
    out = topo.inside(topo.client, sys.executable, "-c", FLOW_CLIENT, mode, str(count), host, ORIGIN,
                      proxy or "-").stdout.strip()
    return int(out or 0)


def gateway_pids(name_pattern):
    out = subprocess.run(["pgrep", "-f", "--", name_pattern], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if os.path.exists(f"/proc/{p}")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--flows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--method", default="redirect", choices=("redirect", "tproxy"))
    args = parser.parse_args()
    if not topo_test.available() or not os.path.exists("/usr/sbin/haproxy"):
        sys.exit("needs root, ip, nft, curl and haproxy")
    work = tempfile.mkdtemp(prefix="trproxy-transparent-bench-")
    pki = h.Pki(os.path.join(work, "pki"))
    cert = pki.leaf("origin", [TUNNEL_HOST, topo_test.SIGN_IN], pki.root_crt, pki.root_key)
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(1 << 20) * args.mib)
    topo = topo_test.Topology(work, args.method)
    try:
        nginx_dir = os.path.join(work, "origin")
        os.makedirs(nginx_dir)
        with open(os.path.join(nginx_dir, "nginx.conf"), "w") as f:
            f.write(origin_config(nginx_dir, cert, big))
        topo.spawn(topo.upstream, ["nginx", "-p", nginx_dir, "-c", os.path.join(nginx_dir, "nginx.conf")], "origin.log")
        ca_dir = os.path.join(work, "ca")
        subprocess.run([h.TRPROXY, "ca", "init", "--dir", ca_dir], check=True, capture_output=True)
        resolve = {topo_test.SIGN_IN: f"{ORIGIN}:443", TUNNEL_HOST: f"{ORIGIN}:443"}  # for the CONNECTs
        config = h.write_file(work, "trproxy.yaml", topo_test.textwrap_config(
            ca_dir, pki.root_crt, resolve, args.method, "")
            .replace('listen: "127.0.0.1:0"', f'listen: "10.201.1.1:{EXPLICIT_PORT}"', 1)
            .replace("level: debug", "level: info"))
        trproxy = topo.spawn(topo.gateway, [h.TRPROXY, "--config", config], "trproxy.log")
        haproxy_dir = os.path.join(work, "haproxy")
        os.makedirs(haproxy_dir)
        haproxy_conf = h.write_file(haproxy_dir, "haproxy.cfg", haproxy_config(haproxy_dir, args.method))
        topo.spawn(topo.gateway, ["haproxy", "-db", "-f", haproxy_conf], "haproxy.log")
        h.wait_until(lambda: "transparent listener on" in open(os.path.join(work, "trproxy.log")).read(),
                     what="trproxy")
        time.sleep(0.5)  # haproxy binds at once; nothing to poll inside the namespace cheaply
        trproxy_pids = lambda: gateway_pids(f"--config {config}")  # noqa: E731
        haproxy_pids = lambda: gateway_pids(f"haproxy -db -f {haproxy_conf}")  # noqa: E731

        def route_to(port):
            # The shipped rules again, with the listener port of the proxy under test.
            topo.inside(topo.gateway, "nft", "-D", 'lan_if="lan0"', "-D", f"proxy_port={port}", "-D",
                        f"upstream_mark={topo_test.UPSTREAM_MARK}", "-D", f"tproxy_mark={topo_test.TPROXY_MARK}",
                        "-f", os.path.join(topo_test.RULES, f"trproxy-{args.method}.nft"))

        size = args.mib << 20
        results = {}

        def record(key, value):
            results.setdefault(key, []).append(value)

        for _ in range(args.rounds):
            for name, port, pids in (("trproxy", topo_test.PORT, trproxy_pids), ("haproxy", HAPROXY_PORT, haproxy_pids)):
                route_to(port)
                before = proxy_cpu(pids())
                r = topo.inside(topo.client, "curl", "-sS", "-k", "-o", "/dev/null", "-w", "%{size_download}",
                                "--noproxy", "*", "--resolve", f"{TUNNEL_HOST}:443:{ORIGIN}",
                                f"https://{TUNNEL_HOST}/big", check=False)
                if r.stdout.strip() != str(size):
                    raise RuntimeError(f"{name} bulk moved {r.stdout!r}: {r.stderr}")
                record((name, "tunnel CPU s/GiB"), (proxy_cpu(pids()) - before) / (size / (1 << 30)))
                before = proxy_cpu(pids())
                done = run_flows(topo, "transparent", args.flows, TUNNEL_HOST)
                if done != args.flows:
                    raise RuntimeError(f"{name}: {done} of {args.flows} tunnelled flows answered")
                record((name, "tunnel CPU us/new flow"), (proxy_cpu(pids()) - before) / args.flows * 1e6)
            route_to(topo_test.PORT)
            for mode, proxy in (("transparent", ""), ("connect", f"10.201.1.1:{EXPLICIT_PORT}")):
                for host, label in ((TUNNEL_HOST, "tunnel"), (topo_test.SIGN_IN, "intercept")):
                    before = proxy_cpu(trproxy_pids())
                    done = run_flows(topo, mode, args.flows, host, proxy)
                    if done != args.flows:
                        raise RuntimeError(f"{mode} {label}: {done} of {args.flows} flows answered")
                    record((f"trproxy {mode}", f"{label} CPU us/new flow"),
                           (proxy_cpu(trproxy_pids()) - before) / args.flows * 1e6)
    finally:
        topo.close()

    print(f"transparent egress ({args.method}), {args.mib} MiB per bulk transfer, {args.flows} flows per figure, "
          f"median of {args.rounds} rounds")
    for (name, figure), values in results.items():
        print(f"  {name:<22}{figure:<26}{load.median(values):>10.2f}  ({min(values):.2f}-{max(values):.2f})")

    def ratio(a, b, figure):
        return load.median(results[(a, figure)]) / load.median(results[(b, figure)])

    print(f"trproxy / haproxy, tunnel CPU per GiB:     {ratio('trproxy', 'haproxy', 'tunnel CPU s/GiB'):.2f}x")
    print(f"trproxy / haproxy, tunnel CPU per flow:    {ratio('trproxy', 'haproxy', 'tunnel CPU us/new flow'):.2f}x")
    for label in ("tunnel", "intercept"):
        print(f"transparent / CONNECT, {label} CPU per flow: "
              f"{ratio('trproxy transparent', 'trproxy connect', f'{label} CPU us/new flow'):.3f}x")


if __name__ == "__main__":
    main()
