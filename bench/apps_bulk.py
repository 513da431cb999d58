#!/usr/bin/env python3
"""SaaS app interception, measured (issue 21), side by side in one run:

- Intercepted bulk throughput, both directions: a download and an upload of --mib MiB through
  trproxy intercepting an app host (www.dropbox.com: TLS terminated with a minted leaf, the app's
  header inserted, TLS to a verified upstream), against the nginx ceiling doing the same
  TLS-to-TLS proxy_pass (a leaf from the same CA, proxy_set_header of the app's header, streaming
  both ways: proxy_buffering and proxy_request_buffering off). The figure is each proxy's own CPU
  time per GiB moved (utime+stime of its processes), which a 2-core machine measures far better
  than MiB/s (bench-notes.md); MiB/s is printed beside it.
- Keep-alive requests to an app host (github.com) beside a sign-in host
  (login.microsoftonline.com) through trproxy: CPU per request, so the app table's cost shows.

The origin is nginx on loopback with a certificate from a test root. Loopback only.
Usage: python3 bench/apps_bulk.py [--mib 1024] [--rounds 3] [--requests 20000] [--concurrency 20]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402
import load  # noqa: E402

APP_HOST = "www.dropbox.com"
UPLOAD_HOST = "content.dropbox.com"  # the same app; its origin reads the whole body, then answers
TEAM = "dbtid:AAC1234567890"
KEEPALIVE_APP = "github.com"
SIGN_IN = "login.microsoftonline.com"


def origin_config(folder, port, cert, big):
    return textwrap.dedent(f"""\
        daemon off; master_process off; worker_processes 1; pid {folder}/nginx.pid;
        error_log {folder}/logs/error.log warn;
        events {{ worker_connections 4096; }}
        http {{
          access_log off; keepalive_requests 100000; sendfile off;
          client_body_temp_path {folder}/b; proxy_temp_path {folder}/p; fastcgi_temp_path {folder}/f;
          uwsgi_temp_path {folder}/u; scgi_temp_path {folder}/s;
          server {{
            listen 127.0.0.1:{port} ssl; ssl_certificate {cert[0]}; ssl_certificate_key {cert[1]};
            location = /big {{ alias {big}; }}
            location / {{ return 200 "team=$http_x_dropbox_allowed_team_ids gh=$http_sec_github_allowed_enterprise\\n"; }}
          }}
        }}
        """)


class UploadOrigin(h.PythonUpstream):
    """Reads a request's whole Content-Length body, then answers (nginx's `return` answers before the
    body is read, which ends an intercepted upload early)."""

    def handle(self, sock):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        if b"100-continue" in head.lower():
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        got = len(body)
        buffer = bytearray(1 << 20)
        while got < length:
            n = sock.recv_into(buffer)
            if n == 0:
                return
            got += n
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nuploaded\n")


def ceiling_config(folder, port, leaf, origin_port, upload_port, root):
    return textwrap.dedent(f"""\
        daemon off; master_process on; worker_processes auto; pid {folder}/nginx.pid;
        error_log {folder}/logs/error.log warn;
        events {{ worker_connections 4096; }}
        http {{
          access_log off; keepalive_requests 100000;
          client_body_temp_path {folder}/b; proxy_temp_path {folder}/p; fastcgi_temp_path {folder}/f;
          uwsgi_temp_path {folder}/u; scgi_temp_path {folder}/s;
          upstream app {{ server 127.0.0.1:{origin_port}; keepalive 16; }}
          upstream uploads {{ server 127.0.0.1:{upload_port}; }}
          server {{
            listen 127.0.0.1:{port} ssl; ssl_certificate {leaf[0]}; ssl_certificate_key {leaf[1]};
            client_max_body_size 0;
            location /upload {{
              proxy_pass https://uploads;
              proxy_http_version 1.1;
              proxy_buffering off; proxy_request_buffering off;
              proxy_set_header Host {UPLOAD_HOST};
              proxy_set_header X-Dropbox-allowed-Team-Ids "{TEAM}";
              proxy_ssl_verify on; proxy_ssl_trusted_certificate {root};
              proxy_ssl_server_name on; proxy_ssl_name {UPLOAD_HOST};
            }}
            location / {{
              proxy_pass https://app;
              proxy_http_version 1.1;
              proxy_buffering off; proxy_request_buffering off;
              proxy_set_header Connection "";
              proxy_set_header Host {APP_HOST};
              proxy_set_header X-Dropbox-allowed-Team-Ids "{TEAM}";
              proxy_ssl_verify on; proxy_ssl_trusted_certificate {root};
              proxy_ssl_server_name on; proxy_ssl_name {APP_HOST}; proxy_ssl_session_reuse on;
            }}
          }}
        }}
        """)


def curl_transfer(args, through):
    """Seconds for one curl transfer; raises unless it moved what it should."""
    cmd = ["curl", "-sS", "--max-time", "600", "-o", "/dev/null", "-w", "%{size_download} %{size_upload}"] + through
    start = time.monotonic()
    out = subprocess.run(cmd + args, capture_output=True, text=True, timeout=620, env={**os.environ, "NO_PROXY": ""})
    if out.returncode != 0:
        raise RuntimeError(f"curl failed: {out.stderr}")
    return time.monotonic() - start, out.stdout


def bulk(name, pids, through, direction, size, upload_file):
    url = f"https://{APP_HOST}/big" if direction == "download" else f"https://{UPLOAD_HOST}/upload"
    args = [url] if direction == "download" else ["-T", upload_file, "-X", "POST", url]
    before = load.cpu_seconds(pids)
    seconds, moved = curl_transfer(args, through)
    cpu = load.cpu_seconds(pids) - before
    downloaded, uploaded = (int(x) for x in moved.split())
    if (downloaded if direction == "download" else uploaded) != size:
        raise RuntimeError(f"{name} {direction} moved {moved}, expected {size}")
    gib = size / (1 << 30)
    return {"name": name, "mode": direction, "cpu_s_per_gib": cpu / gib, "mib_s": size / seconds / (1 << 20)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    load.more_files()
    work = tempfile.mkdtemp(prefix="trproxy-apps-bench-")
    pki = h.Pki(os.path.join(work, "pki"))
    cert = pki.leaf("origin", [APP_HOST, UPLOAD_HOST, KEEPALIVE_APP, SIGN_IN], pki.root_crt, pki.root_key)
    uploads = UploadOrigin(cert)
    size = args.mib << 20
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(1 << 20) * args.mib)  # incompressible, in the page cache after the first read
    origin_port = h.free_port()
    origin_dir = os.path.join(work, "origin")
    os.makedirs(os.path.join(origin_dir, "logs"))
    load.start_nginx(origin_dir, origin_config(origin_dir, origin_port, cert, big), origin_port)

    apps_yaml = f"apps:\n  dropbox: {{ teams: [\"{TEAM}\"] }}\n  github: {{ enterprises: [octo-corp] }}\n"
    ca_dir = os.path.join(work, "ca")
    ca_config = h.write_file(work, "ca.yaml", f'tenant_restrictions:\n  v2: {{tenant_id: "{h.TENANT}", '
                                              f'policy_id: "{h.POLICY}"}}\n' + apps_yaml)
    subprocess.run([h.TRPROXY, "ca", "init", "--dir", ca_dir, "--config", ca_config], check=True, capture_output=True)
    ca_crt = os.path.join(ca_dir, "ca.crt")
    port, admin = h.free_port(), h.free_port()
    resolve = {host: f"127.0.0.1:{origin_port}" for host in (APP_HOST, KEEPALIVE_APP, SIGN_IN)}
    resolve[UPLOAD_HOST] = uploads.address
    config = os.path.join(work, "trproxy.yaml")
    with open(config, "w") as f:
        f.write(h.Proxy.render(ca_dir, "v2", resolve, pki.root_crt, apps_yaml, port, admin, "", threads=1)
                .replace("level: debug", "level: warn"))
    trproxy = load.start_trproxy(h.TRPROXY, config, port)

    leaf = pki.leaf("ceiling", [APP_HOST, UPLOAD_HOST], ca_crt, os.path.join(ca_dir, "ca.key"))
    ceiling_port = h.free_port()
    ceiling_dir = os.path.join(work, "ceiling")
    os.makedirs(os.path.join(ceiling_dir, "logs"))
    ceiling = load.start_nginx(ceiling_dir, ceiling_config(ceiling_dir, ceiling_port, leaf, origin_port,
                                                           uploads.port, pki.root_crt), ceiling_port)
    upload_file = os.path.join(work, "upload.bin")
    with open(upload_file, "wb") as f:
        f.write(os.urandom(1 << 20) * args.mib)

    targets = [("trproxy", lambda: [trproxy.pid], ["-x", f"http://127.0.0.1:{port}", "--cacert", ca_crt]),
               ("ceiling", lambda: [ceiling.pid] + load.children(ceiling.pid),
                ["--cacert", ca_crt, "--connect-to", f"{APP_HOST}:443:127.0.0.1:{ceiling_port}", "--connect-to",
                 f"{UPLOAD_HOST}:443:127.0.0.1:{ceiling_port}"])]
    runs = {}
    try:
        for _ in range(args.rounds):
            for name, pids, through in targets:
                for direction in ("download", "upload"):
                    r = bulk(name, pids(), through, direction, size, upload_file)
                    runs.setdefault((name, direction), []).append(r)
        keepalive = {}
        for _ in range(args.rounds):
            for host in (KEEPALIVE_APP, SIGN_IN):
                load.hey(port, 200, args.concurrency, True, True, host)  # warm-up
                before = load.cpu_seconds([trproxy.pid])
                result = load.hey(port, args.requests, args.concurrency, True, True, host)
                used = load.cpu_seconds([trproxy.pid]) - before
                if result["codes"].get("200") != str(args.requests):
                    raise RuntimeError(f"keep-alive to {host}: {result['codes']}")
                keepalive.setdefault(host, []).append(used / args.requests * 1e6)
    finally:
        uploads.close()
        for proc in load.STARTED:
            load.stop(proc)

    print(f"intercepted app bulk, {args.mib} MiB per transfer, median of {args.rounds} rounds")
    print(f"{'target':<10}{'direction':<10}{'CPU s/GiB':>11}{'(min-max)':>16}{'MiB/s':>9}")
    for (name, direction), rs in runs.items():
        cpus = [r["cpu_s_per_gib"] for r in rs]
        print(f"{name:<10}{direction:<10}{load.median(cpus):>11.2f}{f'({min(cpus):.2f}-{max(cpus):.2f})':>16}"
              f"{load.median([r['mib_s'] for r in rs]):>9.0f}")
    for direction in ("download", "upload"):
        ratio = load.median([r["cpu_s_per_gib"] for r in runs[("trproxy", direction)]]) / load.median(
            [r["cpu_s_per_gib"] for r in runs[("ceiling", direction)]])
        print(f"trproxy / ceiling CPU per GiB, {direction}: {ratio:.2f}x")
    print(f"keep-alive requests through trproxy, {args.requests} per round, CPU us/request (median, min-max)")
    for host, values in keepalive.items():
        print(f"  {host:<28}{load.median(values):>8.1f}  ({min(values):.1f}-{max(values):.1f})")


if __name__ == "__main__":
    main()
