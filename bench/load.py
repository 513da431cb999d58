#!/usr/bin/env python3
"""End-to-end load run: hey through trproxy and through Squid (ssl-bump + request_header_add)
doing the same job in the same run, against a local nginx that echoes the injected header.

Figures per target: keep-alive and new-connection requests/s and p99, and first the proxy's
own CPU time per request (utime+stime from /proc, after - before, / requests), because on a
2-core machine requests/s mostly measures the load generator (bench-notes.md).

Correctness under load: nginx echoes the header it received in the body, so the mean body
size hey reports must equal the size of a correctly tagged response.

Usage: sudo python3 bench/load.py [--requests N] [--concurrency C] [--baseline BIN]   (needs hey,
squid-openssl, nginx; root, because Squid forwards bumped requests to port 443). Loopback only.
--baseline measures a second trproxy binary (e.g. a build of an earlier commit) in the same run,
on the same config, so a change is compared side by side.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402

HOST = "login.microsoftonline.com"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_mib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"VmHWM:\s+(\d+)", f.read())
            total += int(m.group(1)) if m else 0
    return total / 1024


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def hey(proxy_port, requests, concurrency, keepalive):
    cmd = ["hey", "-n", str(requests), "-c", str(concurrency), "-x", f"http://127.0.0.1:{proxy_port}",
           "-host", HOST]
    if not keepalive:
        cmd.append("-disable-keepalive")
    cmd.append(f"https://{HOST}/common/oauth2/v2.0/authorize")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%+ in ([\d.]+) secs", out)
    size = re.search(r"Size/request:\s+(\d+) bytes", out)
    codes = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    return {"rps": rps, "p99_ms": float(p99.group(1)) * 1000 if p99 else float("nan"),
            "size": int(size.group(1)) if size else 0, "codes": codes, "raw": out}


def measure(name, pids, port, requests, concurrency, keepalive, expected_size):
    hey(port, min(200, requests), concurrency, keepalive)  # warm-up: caches, minted leaves
    before = cpu_seconds(pids)
    result = hey(port, requests, concurrency, keepalive)
    used = cpu_seconds(pids) - before
    ok = result["codes"].get("200") == str(requests) and result["size"] == expected_size
    return {"name": name, "mode": "keep-alive" if keepalive else "new-connection",
            "cpu_us": used / requests * 1e6, "rps": result["rps"], "p99_ms": result["p99_ms"],
            "rss_mib": rss_mib(pids), "correct": ok, "size": result["size"], "codes": result["codes"]}


def squid_config(folder, port, ca_pem, trust):
    return textwrap.dedent(f"""\
        http_port 127.0.0.1:{port} ssl-bump tls-cert={ca_pem} generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
        sslcrtd_program /usr/lib/squid/security_file_certgen -s {folder}/ssl_db -M 16MB
        sslcrtd_children 2
        acl step1 at_step SslBump1
        ssl_bump peek step1
        ssl_bump bump all
        tls_outgoing_options cafile={trust}
        http_access allow localhost
        http_access deny all
        request_header_access Sec-Restrict-Tenant-Access-Policy deny all
        request_header_add Sec-Restrict-Tenant-Access-Policy "{h.V2_VALUE}" all
        hosts_file {folder}/hosts
        cache deny all
        access_log none
        cache_log {folder}/cache.log
        pid_filename {folder}/squid.pid
        coredump_dir {folder}
        workers 1
        shutdown_lifetime 1 seconds
        """)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--new-connection-requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baseline", help="another trproxy binary to measure in the same run")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("load.py needs root: Squid forwards bumped requests to port 443")

    work = tempfile.mkdtemp(prefix="trproxy-load-")
    os.chmod(work, 0o755)  # Squid drops to the proxy user and must reach its folder
    pki = h.Pki(os.path.join(work, "pki"))
    # nginx echo server on 127.0.0.1:443 (Squid builds the upstream URL from the port-less Host).
    nginx_dir = os.path.join(work, "nginx")
    os.makedirs(os.path.join(nginx_dir, "logs"))
    with open(os.path.join(nginx_dir, "nginx.conf"), "w") as f:
        f.write(textwrap.dedent(f"""\
            daemon off; master_process off; worker_processes 1; pid {nginx_dir}/nginx.pid;
            error_log {nginx_dir}/logs/error.log warn;
            events {{ worker_connections 4096; }}
            http {{
              access_log off; keepalive_requests 100000;
              client_body_temp_path {nginx_dir}/b; proxy_temp_path {nginx_dir}/p; fastcgi_temp_path {nginx_dir}/f;
              uwsgi_temp_path {nginx_dir}/u; scgi_temp_path {nginx_dir}/s;
              server {{
                listen 127.0.0.1:443 ssl; ssl_certificate {pki.good[0]}; ssl_certificate_key {pki.good[1]};
                location / {{ return 200 "tenant-policy=$http_sec_restrict_tenant_access_policy\\n"; }}
              }}
            }}
            """))
    nginx = subprocess.Popen(["nginx", "-p", nginx_dir, "-c", os.path.join(nginx_dir, "nginx.conf")])
    h.wait_for_port(443)
    expected_size = len(f"tenant-policy={h.V2_VALUE}\n")

    ca_dir = os.path.join(work, "ca")
    subprocess.run([h.TRPROXY, "ca", "init", "--dir", ca_dir], check=True, capture_output=True)

    results = []
    binaries = [("trproxy", h.TRPROXY)] + ([("baseline", args.baseline)] if args.baseline else [])
    for label, binary in binaries:
        trproxy_port, admin_port = h.free_port(), h.free_port()
        config = os.path.join(work, f"{label}.yaml")
        with open(config, "w") as f:
            f.write(h.Proxy.render(ca_dir, "v2", {HOST: "127.0.0.1:443"}, pki.root_crt, "", trproxy_port, admin_port,
                                   "").replace("threads: 2", f"threads: {args.threads}")
                    .replace("level: debug", "level: warn"))
        trproxy = subprocess.Popen([binary, "--config", config], stderr=subprocess.DEVNULL)
        h.wait_for_port(trproxy_port)
        results.append(measure(label, [trproxy.pid], trproxy_port, args.requests, args.concurrency, True,
                               expected_size))
        results.append(measure(label, [trproxy.pid], trproxy_port, args.new_connection_requests, args.concurrency,
                               False, expected_size))
        trproxy.terminate()
        trproxy.wait(timeout=30)

    squid = None
    if shutil.which("squid"):
        squid_dir = os.path.join(work, "squid")
        os.makedirs(squid_dir)
        ca_pem = os.path.join(squid_dir, "ca.pem")
        with open(ca_pem, "w") as out:
            for part in ("ca.crt", "ca.key"):
                with open(os.path.join(ca_dir, part)) as f:
                    out.write(f.read())
        with open(os.path.join(squid_dir, "hosts"), "w") as f:
            f.write(f"127.0.0.1 {HOST}\n")
        subprocess.run(["/usr/lib/squid/security_file_certgen", "-c", "-s", os.path.join(squid_dir, "ssl_db"),
                        "-M", "16MB"], check=True, capture_output=True)
        subprocess.run(["chown", "-R", "proxy:proxy", squid_dir], check=False)
        squid_port = h.free_port()
        squid_conf = os.path.join(squid_dir, "squid.conf")
        with open(squid_conf, "w") as f:
            f.write(squid_config(squid_dir, squid_port, ca_pem, pki.root_crt))
        squid = subprocess.Popen(["squid", "-N", "-f", squid_conf], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        h.wait_for_port(squid_port, timeout=60)
        pids = [squid.pid] + children(squid.pid)
        results.append(measure("squid", pids, squid_port, args.requests, args.concurrency, True, expected_size))
        pids = [squid.pid] + children(squid.pid)
        results.append(measure("squid", pids, squid_port, args.new_connection_requests, args.concurrency, False,
                               expected_size))

    print(f"{'target':<10}{'load':<16}{'CPU us/req':>12}{'req/s':>10}{'p99 ms':>9}{'peak RSS MiB':>14}  correct")
    for r in results:
        print(f"{r['name']:<10}{r['mode']:<16}{r['cpu_us']:>12.1f}{r['rps']:>10.0f}{r['p99_ms']:>9.1f}"
              f"{r['rss_mib']:>14.1f}  {'yes' if r['correct'] else 'NO ' + str(r['codes']) + ' size ' + str(r['size'])}")
    by = {(r["name"], r["mode"]): r for r in results}
    for mode in ("keep-alive", "new-connection"):
        for other in ("squid", "baseline"):
            if (other, mode) in by:
                ratio = by[(other, mode)]["cpu_us"] / by[("trproxy", mode)]["cpu_us"]
                print(f"{mode}: {other} uses {ratio:.2f}x the CPU per request of trproxy")

    for proc in (squid, nginx):
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["correct"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
