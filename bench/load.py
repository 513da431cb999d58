#!/usr/bin/env python3
"""End-to-end load run, side by side in one run: trproxy, the nginx ceiling and Squid doing the
same job against a local nginx that echoes the injected header.

- The nginx ceiling (bench-notes.md) is what tuned C costs for the same crypto and header work
  without CONNECT or minting: nginx terminating TLS with an EC P-256 leaf from the interception
  CA, proxy_set_header of the three tenant-restriction names, proxy_pass over a verified,
  pooled (keepalive 64, session reuse) TLS upstream. hey loads it directly (-host sets the SNI).
- Squid 5.7 ssl-bump + request_header_access/add (workers 1).

Figures per target: keep-alive and new-connection requests, first the proxy's own CPU time per
request (utime+stime from /proc of every process of the target, after - before, / requests),
because on a 2-core machine requests/s mostly measures the load generator (bench-notes.md), then
requests/s, p99 and peak RSS, and the ratios to the ceiling and to Squid. Correctness under
load: nginx echoes the header it received in the body, so the mean body size hey reports must
equal the size of a correctly tagged response.

Then, per proxy: memory per idle connection (N idle blind tunnels, N idle intercepted keep-alive
connections that served one request: (VmRSS after - VmRSS before) / N, clients from
bench/idle_clients.py, RLIMIT_NOFILE raised for every process) and blind-tunnel throughput
against the same transfer without the proxy (best of two).

Usage: sudo python3 bench/load.py [--requests N] [--concurrency C] [--idle N] [--tunnel-mib M]
[--baseline BIN] [--rounds R] [--skip LIST] [--perf DIR] [--strace DIR]   (needs hey, squid-openssl, nginx; root, because Squid forwards
bumped requests to port 443). Loopback only. --baseline measures a second trproxy binary (e.g. a
build of an earlier commit) in the same run, on the same config, so a change is compared side by
side. The loads go round all targets in turn, --rounds times (default 3), and each figure is the
median of its rounds with the spread beside it: this machine's neighbours move a single run by
+-30%, and interleaving makes a slow minute hit every target alike. --skip takes a comma list of
squid, ceiling, load, idle, throughput.
"""

import argparse
import os
import re
import resource
import shutil
import socket
import threading
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness as h  # noqa: E402

HOST = "login.microsoftonline.com"
TUNNEL_HOST = "sink.example.net"  # ordinary hosts: tunnelled (upstream.resolve pins their ports)
PUSH_HOST = "push.example.net"
# An ordinary HTTPS host on the same nginx: through trproxy a blind tunnel (CONNECT, the peek, a
# relay), so its new-connection figure is what a CONNECT costs without interception.
PORTAL_HOST = "portal.example.net"
TICKS = os.sysconf("SC_CLK_TCK")
NOFILE = 65536
IDLE_CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idle_clients.py")
NEW_CONNECTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "new_connections.py")


def more_files():
    """The soft RLIMIT_NOFILE raised to the hard limit (this container's hard limit is 20000: a
    proxy holding N idle tunnels needs 2N + a few descriptors)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def status_kib(pids, field):
    """The sum of a /proc/PID/status size field (VmRSS, VmHWM) over pids, in KiB."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(field + r":\s+(\d+)", f.read())
            total += int(m.group(1)) if m else 0
    return total


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def machine_cpu_seconds():
    """CPU time every core of the machine spent busy (user, nice, system, irq, softirq), in seconds."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / TICKS


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def hey(port, requests, concurrency, keepalive, through_proxy=True, host=HOST):
    cmd = ["hey", "-n", str(requests), "-c", str(concurrency), "-host", host]
    if through_proxy:
        cmd += ["-x", f"http://127.0.0.1:{port}"]
    if not keepalive:
        cmd.append("-disable-keepalive")
    cmd.append(f"https://{host}/common/oauth2/v2.0/authorize" if through_proxy
               else f"https://127.0.0.1:{port}/common/oauth2/v2.0/authorize")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%+ in ([\d.]+) secs", out)
    size = re.search(r"Size/request:\s+(\d+) bytes", out)
    codes = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    return {"rps": rps, "p99_ms": float(p99.group(1)) * 1000 if p99 else float("nan"),
            "size": int(size.group(1)) if size else 0, "codes": codes, "raw": out}


PERF_DIR = None  # --perf: where `perf record` profiles of trproxy's loads go
STRACE_DIR = None  # --strace: where `strace -c` counts of every target's loads go


def syscall_counts(path):
    """{syscall: calls} from an `strace -c` summary."""
    counts = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
                counts[fields[-1]] = int(fields[3])
    return counts


def start_strace(name, mode, pids):
    """--strace: every thread of every process of the target (its CPU figures are then strace's)."""
    if not STRACE_DIR:
        return None
    out = os.path.join(STRACE_DIR, f"{name}-{mode.replace(' ', '-')}.txt")
    proc = subprocess.Popen(["strace", "-f", "-c", "-o", out] + [a for p in pids for a in ("-p", str(p))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return proc, out


def stop_strace(strace, requests):
    """{syscall: calls per request} of a start_strace, or None."""
    if not strace:
        return None
    proc, out = strace
    proc.send_signal(2)
    proc.wait(timeout=60)
    return {call: n / requests for call, n in syscall_counts(out).items()}


def measure(name, pids, port, requests, concurrency, keepalive, expected_size, through_proxy=True, host=HOST):
    mode = ("keep-alive" if keepalive else "new-connection") if host == HOST else "tunnel new-conn"
    hey(port, min(200, requests), concurrency, keepalive, through_proxy, host)  # warm-up: caches, minted leaves
    perf = None
    if PERF_DIR and name == "trproxy":
        out = os.path.join(PERF_DIR, f"{name}-{mode.replace(' ', '-')}.data")
        perf = subprocess.Popen(["perf", "record", "-g", "-o", out, "-p", str(pids[0])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    strace = start_strace(name, mode, pids)
    before = cpu_seconds(pids)
    result = hey(port, requests, concurrency, keepalive, through_proxy, host)
    used = cpu_seconds(pids) - before
    if perf:
        perf.send_signal(2)
        perf.wait(timeout=60)
    syscalls = stop_strace(strace, requests)
    ok = result["codes"].get("200") == str(requests) and result["size"] == expected_size
    return {"name": name, "mode": mode,
            "cpu_us": used / requests * 1e6, "rps": result["rps"], "p99_ms": result["p99_ms"],
            "rss_mib": status_kib(pids, "VmHWM") / 1024, "correct": ok, "size": result["size"], "codes": result["codes"],
            "syscalls": syscalls}


def browser_like(name, pids, port, count, concurrency, expected_size, through_proxy=True):
    """New connections without `Connection: close` (bench/new_connections.py): what a browser's
    new connection costs, its upstream kept for the next one."""
    def command(n):
        return ([sys.executable, NEW_CONNECTIONS, "--port", str(port), "--host", HOST, "--count", str(n),
                 "--concurrency", str(concurrency)] + ([] if through_proxy else ["--direct"]))
    subprocess.run(command(min(200, count)), capture_output=True, timeout=600)  # warm-up
    strace = start_strace(name, "new-conn no-close", pids)
    before = cpu_seconds(pids)
    out = subprocess.run(command(count), capture_output=True, text=True, timeout=600).stdout.split()
    used = cpu_seconds(pids) - before
    syscalls = stop_strace(strace, count)
    ok, failed, size = (int(x) for x in out[1:4]) if out[:1] == ["done"] else (0, count, 0)
    return {"name": name, "mode": "new-conn no-close", "cpu_us": used / count * 1e6, "rps": float("nan"),
            "p99_ms": float("nan"), "rss_mib": status_kib(pids, "VmHWM") / 1024,
            "correct": ok == count and size == expected_size, "size": size, "codes": {"failed": failed},
            "syscalls": syscalls}


def idle_memory(name, pids, proxy_port, mode, count, connect_port, cafile):
    """KiB of proxy RSS per idle connection: a warm-up batch opened and closed, then `count`."""
    def batch(n):
        cmd = [sys.executable, IDLE_CLIENTS, mode, "--proxy-port", str(proxy_port), "--count", str(n),
               "--host", HOST if mode == "intercept" else TUNNEL_HOST, "--connect-port", str(connect_port)]
        if cafile:
            cmd += ["--cafile", cafile]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=more_files)
        lines = []
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("ready"):
                break
        return proc, lines

    warm, _ = batch(min(500, count))  # allocator pools, the pipe pool, minted leaves
    warm.stdin.close()
    warm.wait(timeout=120)
    time.sleep(2)  # let the proxy close the warm-up connections
    before = status_kib(pids, "VmRSS")
    proc, lines = batch(count)
    time.sleep(1)
    after = status_kib(pids, "VmRSS")
    ready = int(lines[-1].split()[1]) if lines and lines[-1].startswith("ready") else 0
    proc.stdin.close()
    proc.wait(timeout=120)
    return {"name": name, "mode": f"idle {mode}", "count": ready, "wanted": count,
            "kib_per_conn": (after - before) / ready if ready else float("nan"), "failures": lines[:-1]}


class Pusher:
    """A loopback server that answers any first bytes by sending `size` bytes and closing."""

    def __init__(self, size):
        self.size = size
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        block = memoryview(os.urandom(1 << 20))
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(16)
                left = self.size
                while left > 0:
                    n = conn.send(block[:min(len(block), left)])
                    left -= n

    def close(self):
        self.listener.close()


def receive_all(sock):
    buffer = bytearray(1 << 20)
    total = 0
    while True:
        n = sock.recv_into(buffer)
        if n == 0:
            return total
        total += n


def transfer(pusher, proxy_port, connect_port):
    """MiB/s of one pushed transfer, direct (proxy_port None) or through a CONNECT tunnel."""
    if proxy_port is None:
        sock = socket.create_connection(("127.0.0.1", pusher.port))
    else:
        sock = socket.create_connection(("127.0.0.1", proxy_port))
        authority = f"{PUSH_HOST}:{connect_port}"
        sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        if b" 200 " not in head:
            raise RuntimeError("CONNECT refused: " + head.decode(errors="replace"))
    with sock:
        start = time.monotonic()
        sock.sendall(b"go\n")  # not TLS: the proxy tunnels at once
        got = receive_all(sock)
        elapsed = time.monotonic() - start
    if got != pusher.size:
        raise RuntimeError(f"transfer got {got} of {pusher.size} bytes")
    return got / elapsed / (1 << 20)


def throughput(name, pids, proxy_port, pusher, connect_port=443):
    """Best of two transfers each way, and what a GiB costs: the proxy's own CPU, and the whole
    machine's (sender, receiver, proxy and the kernel's TCP work for them), which bounds the ratio
    on a machine whose cores the transfer keeps busy."""
    gib = 2 * pusher.size / (1 << 30)
    machine = machine_cpu_seconds()
    best_direct = max(transfer(pusher, None, None) for _ in range(2))
    machine_direct = (machine_cpu_seconds() - machine) / gib
    before, machine = cpu_seconds(pids), machine_cpu_seconds()
    best_proxy = max(transfer(pusher, proxy_port, connect_port) for _ in range(2))
    cpu = cpu_seconds(pids) - before
    machine_proxy = (machine_cpu_seconds() - machine) / gib
    return {"name": name, "mode": "tunnel throughput", "direct_mib_s": best_direct, "proxy_mib_s": best_proxy,
            "ratio": best_proxy / best_direct, "cpu_s_per_gib": cpu / gib,
            "machine_direct_s_per_gib": machine_direct, "machine_proxy_s_per_gib": machine_proxy}


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
        on_unsupported_protocol tunnel all
        max_filedescriptors {NOFILE}
        hosts_file {folder}/hosts
        cache deny all
        access_log none
        cache_log {folder}/cache.log
        pid_filename {folder}/squid.pid
        coredump_dir {folder}
        workers 1
        shutdown_lifetime 1 seconds
        """)


def ceiling_config(folder, port, leaf, upstream_root):
    return textwrap.dedent(f"""\
        daemon off; master_process on; worker_processes auto; pid {folder}/nginx.pid;
        worker_rlimit_nofile {NOFILE};
        error_log {folder}/logs/error.log warn;
        events {{ worker_connections 30000; }}
        http {{
          access_log off; keepalive_requests 100000;
          client_body_temp_path {folder}/b; proxy_temp_path {folder}/p; fastcgi_temp_path {folder}/f;
          uwsgi_temp_path {folder}/u; scgi_temp_path {folder}/s;
          upstream signin {{ server 127.0.0.1:443; keepalive 64; }}
          server {{
            listen 127.0.0.1:{port} ssl; ssl_certificate {leaf[0]}; ssl_certificate_key {leaf[1]};
            location / {{
              proxy_pass https://signin;
              proxy_http_version 1.1;
              proxy_set_header Connection "";
              proxy_set_header Host {HOST};
              proxy_set_header Restrict-Access-To-Tenants "";
              proxy_set_header Restrict-Access-Context "";
              proxy_set_header Sec-Restrict-Tenant-Access-Policy "{h.V2_VALUE}";
              proxy_ssl_verify on; proxy_ssl_trusted_certificate {upstream_root};
              proxy_ssl_server_name on; proxy_ssl_name {HOST};
              proxy_ssl_session_reuse on;
            }}
          }}
        }}
        """)


STARTED = []  # every process this run started, stopped on the way out whatever happens


def start_nginx(folder, conf_text, port):
    os.makedirs(os.path.join(folder, "logs"), exist_ok=True)
    conf = os.path.join(folder, "nginx.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    proc = subprocess.Popen(["nginx", "-p", folder, "-c", conf], preexec_fn=more_files)
    STARTED.append(proc)
    h.wait_for_port(port)
    return proc


def start_trproxy(binary, config, port):
    log = open(config + ".stderr", "w")
    proc = subprocess.Popen([binary, "--config", config], stderr=log, preexec_fn=more_files)
    STARTED.append(proc)
    try:
        h.wait_for_port(port, proc=proc)
    except Exception:
        stop(proc)
        with open(config + ".stderr") as f:
            sys.exit(f"{binary} did not start:\n{f.read()}")
    return proc


def median(values):
    """The middle value (the upper one of an even count)."""
    values = sorted(values)
    return values[len(values) // 2]


def median_of(runs):
    """One figure from the rounds of a target and load: the median CPU per request (and the median
    req/s and p99), the spread of CPU per request, the largest peak RSS; correct only if every
    round was."""
    def median(key):
        values = sorted(r[key] for r in runs)
        return values[len(values) // 2]
    figure = dict(runs[0])
    figure.update(cpu_us=median("cpu_us"), rps=median("rps"), p99_ms=median("p99_ms"),
                  rss_mib=max(r["rss_mib"] for r in runs), correct=all(r["correct"] for r in runs),
                  cpu_spread=(min(r["cpu_us"] for r in runs), max(r["cpu_us"] for r in runs)), rounds=len(runs))
    bad = [r for r in runs if not r["correct"]]
    if bad:
        figure.update(codes=bad[0]["codes"], size=bad[0]["size"])
    return figure


def stop(proc):
    if proc:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def print_results(results):
    print(f"{'target':<10}{'load':<16}{'CPU us/req':>12}{'(min-max)':>16}{'req/s':>10}{'p99 ms':>9}"
          f"{'peak RSS MiB':>14}  correct")
    for r in results:
        if "cpu_us" not in r:
            continue
        low, high = r.get("cpu_spread", (r["cpu_us"], r["cpu_us"]))
        print(f"{r['name']:<10}{r['mode']:<16}{r['cpu_us']:>12.1f}{f'({low:.0f}-{high:.0f})':>16}{r['rps']:>10.0f}"
              f"{r['p99_ms']:>9.1f}{r['rss_mib']:>14.1f}  "
              f"{'yes' if r['correct'] else 'NO ' + str(r['codes']) + ' size ' + str(r['size'])}")
    by = {(r["name"], r["mode"]): r for r in results}
    if ("trproxy", "tunnel new-conn") in by and ("trproxy", "new-connection") in by:
        tunnel = by[("trproxy", "tunnel new-conn")]["cpu_us"]
        print(f"new-connection: a CONNECT tunnel alone costs trproxy {tunnel:.0f} us of the "
              f"{by[('trproxy', 'new-connection')]['cpu_us']:.0f} us per intercepted new connection")
    for mode in ("keep-alive", "new-connection", "new-conn no-close"):
        if ("trproxy", mode) not in by:
            continue
        mine = by[("trproxy", mode)]["cpu_us"]
        for other in ("ceiling", "squid", "baseline"):
            if (other, mode) in by:
                print(f"{mode}: trproxy uses {mine / by[(other, mode)]['cpu_us']:.2f}x the CPU per request of {other}")
    for r in results:
        if r.get("syscalls"):
            top = sorted(r["syscalls"].items(), key=lambda item: -item[1])[:8]
            print(f"{r['name']:<10}{r['mode']:<16} syscalls per request: {sum(r['syscalls'].values()):.1f} ("
                  + ", ".join(f"{call} {n:.1f}" for call, n in top) + ")")
    for r in results:
        if "kib_per_conn" in r:
            note = f"  ({len(r['failures'])} failure lines: {r['failures'][:1]})" if r["failures"] else ""
            print(f"{r['name']:<10}{r['mode']:<18} {r['count']:>6}/{r['wanted']} open: "
                  f"{r['kib_per_conn']:.1f} KiB per connection{note}")
        if "ratio" in r:
            print(f"{r['name']:<10}tunnel throughput: {r['proxy_mib_s']:.0f} MiB/s vs direct {r['direct_mib_s']:.0f} "
                  f"MiB/s = {r['ratio']:.2f}; proxy CPU {r['cpu_s_per_gib']:.2f} s/GiB; machine CPU "
                  f"{r['machine_proxy_s_per_gib']:.2f} s/GiB vs direct {r['machine_direct_s_per_gib']:.2f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--new-connection-requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--idle", type=int, default=9900, help="idle connections per memory figure (2N + a few "
                        "descriptors must fit the hard RLIMIT_NOFILE)")
    parser.add_argument("--tunnel-mib", type=int, default=2048, help="bytes pushed per throughput transfer")
    parser.add_argument("--baseline", help="another trproxy binary to measure in the same run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="loads run round every target this many times, interleaved; medians are reported")
    parser.add_argument("--skip", default="", help="comma list: squid, ceiling, load, idle, throughput")
    parser.add_argument("--html", type=int, default=0,
                        help="serve sign-in responses as text/html with this many bytes of page after the policy "
                             "line, so trproxy's outcome watch scans a body (0: the short text/plain answer)")
    parser.add_argument("--perf", help="a folder for perf profiles of trproxy under each load (perf record -g)")
    parser.add_argument("--strace", help="a folder for strace -c counts of every target under each load; prints the "
                        "system calls per request (the CPU figures of such a run are strace's, not the targets')")
    args = parser.parse_args()
    global PERF_DIR, STRACE_DIR
    PERF_DIR = args.perf
    STRACE_DIR = args.strace
    skip = set(filter(None, args.skip.split(",")))
    if os.geteuid() != 0:
        sys.exit("load.py needs root: Squid forwards bumped requests to port 443")
    more_files()

    work = tempfile.mkdtemp(prefix="trproxy-load-")
    os.chmod(work, 0o755)  # Squid drops to the proxy user and must reach its folder
    pki = h.Pki(os.path.join(work, "pki"))
    # nginx echo server on 127.0.0.1:443 (Squid builds the upstream URL from the port-less Host).
    nginx_dir = os.path.join(work, "nginx")
    # A sign-in page has no block code in it: the watch scans the whole body and finds nothing.
    # The page is a static file (a return string cannot be that long), so it keeps its
    # Content-Length, which hey's size check needs; the tagging is then checked by the default
    # (text/plain) run only, and `correct` here means every response came whole.
    page = ("<html><body>" + "Sign in to your account. " * (args.html // 25 + 1))[:args.html] if args.html else ""
    location = 'location / { return 200 "tenant-policy=$http_sec_restrict_tenant_access_policy\\n"; }'
    if args.html:
        os.makedirs(nginx_dir, exist_ok=True)
        with open(os.path.join(nginx_dir, "page.html"), "w") as f:
            f.write(page)
        location = f"location / {{ root {nginx_dir}; default_type text/html; try_files /page.html =404; }}"
    nginx = start_nginx(nginx_dir, textwrap.dedent(f"""\
        daemon off; master_process off; worker_processes 1; pid {nginx_dir}/nginx.pid;
        worker_rlimit_nofile {NOFILE};
        error_log {nginx_dir}/logs/error.log warn;
        events {{ worker_connections 30000; }}
        http {{
          access_log off; keepalive_requests 100000; keepalive_timeout 600s;
          client_body_temp_path {nginx_dir}/b; proxy_temp_path {nginx_dir}/p; fastcgi_temp_path {nginx_dir}/f;
          uwsgi_temp_path {nginx_dir}/u; scgi_temp_path {nginx_dir}/s;
          server {{
            listen 127.0.0.1:443 ssl; ssl_certificate {pki.good[0]}; ssl_certificate_key {pki.good[1]};
            {location}
          }}
        }}
        """), 443)
    expected_size = len(page) if args.html else len(f"tenant-policy={h.V2_VALUE}\n")
    portal_size = len(page) if args.html else len("tenant-policy=\n")  # not a sign-in host: no header added

    ca_dir = os.path.join(work, "ca")
    subprocess.run([h.TRPROXY, "ca", "init", "--dir", ca_dir], check=True, capture_output=True)
    ca_crt = os.path.join(ca_dir, "ca.crt")
    sink_port = h.free_port()
    sink = subprocess.Popen([sys.executable, IDLE_CLIENTS, "sink", "--sink-port", str(sink_port)],
                            stdin=subprocess.PIPE, preexec_fn=more_files)
    STARTED.append(sink)
    h.wait_for_port(sink_port)
    pusher = Pusher(args.tunnel_mib << 20)

    results = []
    # Every target runs side by side; the loads then go round them in turn, --rounds times, so a
    # slow minute of this shared machine hits every target alike (medians are reported).
    targets = []  # (label, port, pids(), through_proxy)
    trproxies = {}  # label -> (binary, config, port, process)
    binaries = [("trproxy", h.TRPROXY)] + ([("baseline", args.baseline)] if args.baseline else [])
    for label, binary in binaries:
        trproxy_port, admin_port = h.free_port(), h.free_port()
        config = os.path.join(work, f"{label}.yaml")
        resolve = {HOST: "127.0.0.1:443", TUNNEL_HOST: f"127.0.0.1:{sink_port}", PUSH_HOST: f"127.0.0.1:{pusher.port}",
                   PORTAL_HOST: "127.0.0.1:443"}
        with open(config, "w") as f:
            f.write(h.Proxy.render(ca_dir, "v2", resolve, pki.root_crt, "limits:\n  max_connections: 60000\n",
                                   trproxy_port, admin_port, "").replace("threads: 2", f"threads: {args.threads}")
                    .replace("level: debug", "level: warn"))
        process = start_trproxy(binary, config, trproxy_port)
        trproxies[label] = (binary, config, trproxy_port, process)
        targets.append((label, trproxy_port, lambda process=process: [process.pid], True))

    ceiling = None
    if "ceiling" not in skip and "load" not in skip:
        leaf = pki.leaf("ceiling", [HOST], ca_crt, os.path.join(ca_dir, "ca.key"))
        ceiling_port = h.free_port()
        ceiling_dir = os.path.join(work, "ceiling")
        ceiling = start_nginx(ceiling_dir, ceiling_config(ceiling_dir, ceiling_port, leaf, pki.root_crt),
                              ceiling_port)
        targets.append(("ceiling", ceiling_port, lambda: [ceiling.pid] + children(ceiling.pid), False))

    squid = None
    if shutil.which("squid") and "squid" not in skip:
        squid_dir = os.path.join(work, "squid")
        os.makedirs(squid_dir)
        ca_pem = os.path.join(squid_dir, "ca.pem")
        with open(ca_pem, "w") as out:
            for part in ("ca.crt", "ca.key"):
                with open(os.path.join(ca_dir, part)) as f:
                    out.write(f.read())
        with open(os.path.join(squid_dir, "hosts"), "w") as f:
            f.write(f"127.0.0.1 {HOST}\n127.0.0.1 {TUNNEL_HOST}\n127.0.0.1 {PUSH_HOST}\n")
        subprocess.run(["/usr/lib/squid/security_file_certgen", "-c", "-s", os.path.join(squid_dir, "ssl_db"),
                        "-M", "16MB"], check=True, capture_output=True)
        subprocess.run(["chown", "-R", "proxy:proxy", squid_dir], check=False)
        squid_port = h.free_port()
        squid_conf = os.path.join(squid_dir, "squid.conf")
        with open(squid_conf, "w") as f:
            f.write(squid_config(squid_dir, squid_port, ca_pem, pki.root_crt))
        squid = subprocess.Popen(["squid", "-N", "-f", squid_conf], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, preexec_fn=more_files)
        STARTED.append(squid)
        h.wait_for_port(squid_port, timeout=60)
        targets.append(("squid", squid_port, lambda: [squid.pid] + children(squid.pid), True))

    if "load" not in skip:
        rounds = {}
        for _ in range(args.rounds):
            for label, port, pids, through_proxy in targets:
                for keepalive, requests in ((True, args.requests), (False, args.new_connection_requests)):
                    rounds.setdefault((label, keepalive), []).append(
                        measure(label, pids(), port, requests, args.concurrency, keepalive, expected_size,
                                through_proxy=through_proxy))
                if label != "squid":  # new connections as browsers make them (no Connection: close)
                    rounds.setdefault((label, "no-close"), []).append(
                        browser_like(label, pids(), port, args.new_connection_requests, args.concurrency,
                                     expected_size, through_proxy=through_proxy))
                if label in trproxies:  # the same new connections, tunnelled instead of intercepted
                    rounds.setdefault((label, "tunnel"), []).append(
                        measure(label, pids(), port, args.new_connection_requests, args.concurrency, False,
                                portal_size, host=PORTAL_HOST))
        results += [median_of(runs) for runs in rounds.values()]

    if "throughput" not in skip:
        for label, (_, _, port, process) in trproxies.items():
            results.append(throughput(label, [process.pid], port, pusher))
        if squid:  # Squid cannot pin a name's port: CONNECT to the real ones.
            results.append(throughput("squid", [squid.pid], squid_port, pusher, pusher.port))
    stop(ceiling)
    for label, (binary, config, port, process) in trproxies.items():
        stop(process)
        if "idle" not in skip and args.idle > 0:
            for mode in ("tunnel", "intercept"):  # each on a fresh process
                process = start_trproxy(binary, config, port)
                results.append(idle_memory(label, [process.pid], port, mode, args.idle, 443, ca_crt))
                stop(process)
    if squid and "idle" not in skip and args.idle > 0:
        results.append(idle_memory("squid", [squid.pid], squid_port, "tunnel", args.idle, sink_port, ca_crt))

    print_results(results)
    for proc in (squid, nginx, sink):
        stop(proc)
    pusher.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r.get("correct", True) for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for started in STARTED:
            if started.poll() is None:
                started.kill()
