"""trproxy behind HAProxy (Debian's haproxy, TCP mode, `send-proxy-v2`, HTTP health checks on
/readyz): two replicas with limits.drain_delay, a steady load of requests from 127.0.0.2 and
127.0.0.3 through HAProxy, and a rolling restart (SIGTERM one, wait for its exit, start it
again, wait until HAProxy has it back, then the other) that loses no request. The access logs
show the real client addresses, never the balancer's."""

import os
import re
import sys
import threading
import time
import unittest

import topology as t

h = t.h
env = None
# Long enough for HAProxy (checks every 200 ms, down after one failure) to stop sending new
# connections before the listener closes.
DRAIN_DELAY_MS = int(1500 * h.TIME_SCALE)
REPLICA_EXTRA = ('proxy_protocol:\n  trusted: ["127.0.0.1/32"]\n'
                 f'limits:\n  drain_delay: {DRAIN_DELAY_MS}ms\n  shutdown_grace: 10s\n')
CLIENTS = ("127.0.0.2", "127.0.0.3")
SIGN_IN_CLIENT = "127.0.0.4"


class Load:
    """Clients that each send one request per connection through HAProxy, back to back, and
    count what did not come back 200."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(source, i), daemon=True)
                        for i, source in enumerate(CLIENTS * 2)]
        for thread in self.threads:
            thread.start()

    def one(self, source, n):
        request = (f"GET http://plain.example.com/load/{n} HTTP/1.1\r\nHost: plain.example.com\r\n"
                   "Connection: close\r\n\r\n")
        status, _, body = h.raw_request_from(self.port, request.encode(), source)
        return status, body

    def run(self, source, index):
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                status, body = self.one(source, f"{index}-{n}")
                good = status == 200 and f"/load/{index}-{n}".encode() in body
                with self.lock:
                    if good:
                        self.ok += 1
                    else:
                        self.failures.append(f"{source} #{n}: status {status} {body[:200]!r}")
            except OSError as e:
                with self.lock:
                    self.failures.append(f"{source} #{n}: {e!r}")

    def count(self):
        with self.lock:
            return self.ok

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(h.DEADLINE)


def setUpModule():
    global env
    env = h.Environment()


def tearDownModule():
    env.close()


class RollingRestart(unittest.TestCase):
    def start_replica(self, name, incarnation, ports):
        folder = os.path.join(env.dir, f"replica-{name}-{incarnation}")
        replica = t.Replica(folder, env.ca_dir, *ports, trust=env.pki.root_crt, resolve=env.resolve_all("plain"),
                            extra=REPLICA_EXTRA)
        env.proxies.append(replica)
        return replica

    def test_rolling_restart_loses_no_request_and_logs_real_clients(self):
        picked = h.free_ports(4)  # four different ports: two replicas, each a proxy and an admin port
        ports = {"a": (picked[0], picked[1]), "b": (picked[2], picked[3])}
        replicas = {name: self.start_replica(name, 1, ports[name]) for name in ports}
        every = list(replicas.values())
        haproxy = t.HAProxy(os.path.join(env.dir, "haproxy"),
                            [(name, port, admin) for name, (port, admin) in ports.items()])
        try:
            for name in ports:
                haproxy.wait_state(name, "UP")
            # A sign-in request through the balancer is tagged as usual.
            request = (f"GET http://{h.AUTH_HOSTS[0]}/via-haproxy HTTP/1.1\r\nHost: {h.AUTH_HOSTS[0]}\r\n"
                       "Connection: close\r\n\r\n")
            status, _, body = h.raw_request_from(haproxy.port, request.encode(), SIGN_IN_CLIENT)
            self.assertEqual(status, 200)
            self.assertEqual(h.echo_fields(body.decode())["strap"], h.V2_VALUE)
            load = Load(haproxy.port)
            try:
                h.wait_until(lambda: load.count() >= 20, what="the load running")
                for name in ("a", "b"):
                    old = replicas[name]
                    served_before = load.count()
                    self.assertEqual(old.stop(), 0, f"replica {name} did not drain and exit 0")
                    replicas[name] = self.start_replica(name, 2, ports[name])
                    every.append(replicas[name])
                    haproxy.wait_state(name, "UP")
                    # Traffic kept flowing while it was away, and reaches it again.
                    self.assertGreater(load.count(), served_before)
                    h.wait_until(lambda: any("path=/load/" in line for line in replicas[name].access_lines()),
                                 what=f"restarted replica {name} serving again")
                total_before_end = load.count()
                h.wait_until(lambda: load.count() >= total_before_end + 20, what="the load after the restarts")
            finally:
                load.finish()
            print(f"rolling restart under load: {load.ok} requests answered 200, {len(load.failures)} failed",
                  file=sys.stderr)
            self.assertEqual(load.failures, [], f"{len(load.failures)} failed of {load.ok + len(load.failures)}")
            self.assertGreater(load.ok, 100)
        finally:
            haproxy.stop()

        # Every line carries a client address from the PROXY header, never the balancer's 127.0.0.1.
        clients = set()
        for replica in every:
            for line in replica.access_lines():
                m = re.search(r"\bclient=([0-9.]+):\d+", line)
                self.assertIsNotNone(m, line)
                clients.add(m.group(1))
        self.assertEqual(clients, set(CLIENTS) | {SIGN_IN_CLIENT})


if __name__ == "__main__":
    unittest.main()
