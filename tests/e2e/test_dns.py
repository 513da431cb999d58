"""DNS that never queues (issue 10): trproxy's lookups run in parallel on each worker (c-ares),
A and AAAA together, answers cached within their TTL and negative answers for a short time.

Everything runs in a private network namespace (dns_namespace.py) with a DNS server of the
test's own that answers every query late (slow_dns.py). The assertions count what the DNS
server saw, never time: 100 CONNECTs to 100 names must have 100+ queries outstanding at once
(one lookup at a time would keep at most 2: an A and an AAAA)."""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import urllib.request

import dns_namespace as ns
import harness as h
import slow_dns

NAMES = [f"n{i}.fanout.test" for i in range(100)]
NX_NAME = "nx-1.fanout.test"
DELAY = 0.5 * h.TIME_SCALE
# The first round's 200 queries (an A and an AAAA per name) are answered together once all have
# come: parallel lookups overlap by construction, on a build of any speed. Lookups one at a time
# would keep two outstanding, held until the cap, which stays below the resolver's 5 s retry
# (dns_namespace.py's resolv.conf): a resent query would count twice.
HOLD_FIRST = 2 * len(NAMES)
HOLD_CAP = 4.0


class NamespaceProxy(h.Proxy):
    @staticmethod
    def render(*args, **kwargs):
        return (h.Proxy.render(*args, **kwargs).replace("threads: 2", "threads: 1")  # one worker: one cache
                .replace("connect_timeout: 2s", "connect_timeout: 15s"))


def scrape(proxy):
    """The DNS series of /metrics, as {series: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=h.DEADLINE) as r:
        text = r.read().decode()
    return {name: float(value) for name, value in re.findall(r"^(trproxy_dns_\S+) (\S+)$", text, re.M)}


def inside(folder):
    """Runs in the namespace; prints what the DNS server saw and what the clients got, as JSON."""
    dns = slow_dns.SlowDns(ns.DNS_ADDRESS, ns.UPSTREAM_ADDRESS, DELAY, hold_first=HOLD_FIRST, hold_cap=HOLD_CAP)
    sink = ns.TcpSink(ns.UPSTREAM_ADDRESS)
    ca_dir = os.path.join(folder, "ca")
    subprocess.run([h.TRPROXY, "ca", "init", "--dir", ca_dir], check=True, capture_output=True)
    out = {}
    with NamespaceProxy(os.path.join(folder, "proxy"), ca_dir, access_log=False) as proxy:
        answers, _ = ns.connect_all(proxy.port, NAMES, h.DEADLINE)
        out["first"] = [status for status, _ in answers]
        out["max_outstanding"] = dns.max_outstanding
        out["a_queries"] = dns.count("n", slow_dns.TYPE_A)
        out["aaaa_queries"] = dns.count("n", slow_dns.TYPE_AAAA)
        answers, _ = ns.connect_all(proxy.port, NAMES, h.DEADLINE)
        out["second"] = [status for status, _ in answers]
        out["a_queries_after_second"] = dns.count("n", slow_dns.TYPE_A)
        out["nx"] = []
        for _ in range(2):
            answers, _ = ns.connect_all(proxy.port, [NX_NAME], h.DEADLINE)
            out["nx"].append(answers[0])
            out.setdefault("nx_queries", []).append(dns.count("nx-1.", slow_dns.TYPE_A))
        out["metrics"] = scrape(proxy)
    out["stderr"] = proxy.stderr_text()
    sink.close()
    dns.close()
    print(json.dumps(out))


class DnsNeverQueues(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ns.available():
            raise unittest.SkipTest("needs root, unshare and ip for a private network namespace")
        cls.folder = tempfile.mkdtemp(prefix="trproxy-dns-")
        r = ns.run_inside(cls.folder, [os.path.abspath(__file__), "--inside", cls.folder], timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"the namespace run failed:\n{r.stdout}\n{r.stderr}")
        cls.out = json.loads(r.stdout.strip().splitlines()[-1])

    def test_no_sanitizer_report(self):
        self.assertIsNone(h.sanitizer_report(self.out["stderr"]))

    def test_100_connects_to_100_names_all_succeed(self):
        self.assertEqual(len(self.out["first"]), 100)
        self.assertEqual([s for s in self.out["first"] if " 200 " not in s + " "], [])

    def test_the_lookups_ran_in_parallel_a_and_aaaa_together(self):
        # One lookup at a time keeps at most an A and an AAAA query outstanding.
        self.assertGreaterEqual(self.out["max_outstanding"], 100, "lookups queued behind each other")
        self.assertEqual(self.out["a_queries"], 100, "one A query per name")
        self.assertEqual(self.out["aaaa_queries"], 100, "one AAAA query per name")

    def test_answers_are_cached_within_their_ttl(self):
        self.assertEqual([s for s in self.out["second"] if " 200 " not in s + " "], [])
        self.assertEqual(self.out["a_queries_after_second"], self.out["a_queries"], "the second round asked DNS again")

    def test_a_name_that_does_not_resolve_gets_502_with_the_reason_and_is_cached(self):
        for status, body in self.out["nx"]:
            self.assertIn(" 502 ", status + " ")
            self.assertIn("does not resolve", body)
        first, second = self.out["nx_queries"]
        self.assertGreaterEqual(first, 1)
        self.assertEqual(second, first, "the negative answer was not cached")

    def test_the_metrics_count_queries_cache_hits_and_results(self):
        m = self.out["metrics"]
        # 100 names once each and the NX name once (its second lookup is a cached negative).
        self.assertEqual(m["trproxy_dns_queries_total"], 101)
        self.assertEqual(m["trproxy_dns_cache_hits_total"], 101)
        self.assertEqual(m['trproxy_dns_lookups_total{result="resolved"}'], 200)
        self.assertEqual(m['trproxy_dns_lookups_total{result="no_such_name"}'], 2)
        self.assertEqual(m['trproxy_dns_lookups_total{result="timeout"}'], 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        inside(sys.argv[2])
    else:
        unittest.main()
