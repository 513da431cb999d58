"""A DNS server that answers late, for lookups that must run in parallel (tests/e2e/test_dns.py,
bench/dns_fanout). UDP only; every query is answered after a fixed delay without blocking the
others (asyncio timers, no thread per query), or held until a given number have come; the server
counts what it saw: queries per name and type, and the most queries outstanding at once.

Answers: A queries get `answer` (TTL `ttl`), AAAA queries get an empty NOERROR (NODATA), and any
name whose first label starts with `nx-` gets NXDOMAIN. Set `silent` and it answers nothing (a
DNS server that stopped: bench/soak.py's DNS outage); queries are still counted. Listen only on
loopback or inside a network namespace of the test's own.
"""

import asyncio
import collections
import struct
import threading

TYPE_A, TYPE_AAAA = 1, 28


def parse_question(packet):
    """(id, flags, qname, qtype, end of the question) of a query."""
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        raise ValueError("one question expected")
    labels, i = [], 12
    while packet[i]:
        length = packet[i]
        labels.append(packet[i + 1:i + 1 + length].decode("ascii").lower())
        i += 1 + length
    qtype, _qclass = struct.unpack("!HH", packet[i + 1:i + 5])
    return ident, flags, ".".join(labels), qtype, i + 5


def build_answer(packet, answer_ip, ttl):
    ident, flags, name, qtype, end = parse_question(packet)
    question = packet[12:end]
    rd = flags & 0x0100
    if name.split(".", 1)[0].startswith("nx-"):
        return struct.pack("!HHHHHH", ident, 0x8080 | rd | 3, 1, 0, 0, 0) + question  # NXDOMAIN
    if qtype != TYPE_A:
        return struct.pack("!HHHHHH", ident, 0x8080 | rd, 1, 0, 0, 0) + question  # NODATA
    record = struct.pack("!HHHIH", 0xC00C, TYPE_A, 1, ttl, 4) + bytes(int(p) for p in answer_ip.split("."))
    return struct.pack("!HHHHHH", ident, 0x8080 | rd, 1, 1, 0, 0) + question + record


class SlowDns:
    """Runs on its own thread; `queries`, `outstanding` and `max_outstanding` are read by the test."""

    def __init__(self, address, answer, delay, ttl=300, port=53, hold_first=0, hold_cap=10.0):
        """hold_first: the first that many queries are answered together, once the last of them has
        come (or hold_cap seconds after the first, should they never all come), so that a test of
        parallel lookups does not depend on how fast the client sends them; later ones after delay."""
        self.address, self.answer, self.delay, self.ttl, self.port = address, answer, delay, ttl, port
        self.hold_first, self.hold_cap, self.held = hold_first, hold_cap, []
        self.queries = collections.Counter()  # (name, qtype) -> count
        self.outstanding = 0
        self.max_outstanding = 0
        self.silent = False
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the DNS server did not start")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self

        class Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, peer):
                try:
                    _, _, name, qtype, _ = parse_question(data)
                    response = build_answer(data, server.answer, server.ttl)
                except (ValueError, IndexError, struct.error, UnicodeDecodeError):
                    return
                with server.lock:
                    server.queries[(name, qtype)] += 1
                    if server.silent:
                        return
                    server.outstanding += 1
                    server.max_outstanding = max(server.max_outstanding, server.outstanding)
                if server.hold_first:
                    server.held.append((response, peer))
                    if len(server.held) == 1:
                        server.loop.call_later(server.hold_cap, self.release)
                    if len(server.held) >= server.hold_first:
                        self.release()
                    return
                server.loop.call_later(server.delay, self.reply, response, peer)

            def release(self):
                held, server.held, server.hold_first = server.held, [], 0
                for response, peer in held:
                    self.reply(response, peer)

            def reply(self, response, peer):
                with server.lock:
                    server.outstanding -= 1
                self.transport.sendto(response, peer)

        self.loop.run_until_complete(
            self.loop.create_datagram_endpoint(Protocol, local_addr=(self.address, self.port)))
        self.ready.set()
        self.loop.run_forever()

    def count(self, prefix, qtype=TYPE_A):
        """Queries of type qtype for names starting with prefix."""
        with self.lock:
            return sum(n for (name, t), n in self.queries.items() if t == qtype and name.startswith(prefix))

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
