"""systemd's Type=notify protocol, received the way systemd receives it: a Python AF_UNIX
datagram socket named by NOTIFY_SOCKET. READY=1 only once the listeners accept and the CA is
loaded; RELOADING=1 (with MONOTONIC_USEC) and READY=1 around every reload, the rejected ones
included; STOPPING=1 on SIGTERM; STATUS= says what runs."""

import os
import signal
import socket
import time
import unittest
import urllib.request

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())


class NotifySocket:
    """What systemd listens on: a datagram socket, a path or an abstract name (@name)."""

    def __init__(self, name):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if name.startswith("@"):
            self.sock.bind("\0" + name[1:])
        else:
            self.sock.bind(name)
        self.name = name

    def receive(self):
        """The next datagram as a dict of its KEY=value lines (bounded wait)."""
        self.sock.settimeout(h.DEADLINE * h.TIME_SCALE)
        data = self.sock.recv(4096).decode()
        self.assert_lines(data)
        return dict(line.split("=", 1) for line in data.splitlines())

    @staticmethod
    def assert_lines(data):
        assert data.endswith("\n") and all("=" in line for line in data.splitlines()), repr(data)

    def nothing_pending(self):
        self.sock.settimeout(0)
        try:
            self.sock.recv(4096)
            return False
        except BlockingIOError:
            return True

    def close(self):
        self.sock.close()


def readyz(proxy):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/readyz", timeout=h.DEADLINE) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class Notify(unittest.TestCase):
    def start(self, name, socket_name):
        notify = NotifySocket(socket_name)
        self.addCleanup(notify.close)
        proxy = env.proxy(name, environ={"NOTIFY_SOCKET": socket_name})
        return notify, proxy

    def test_ready_after_listening_then_reload_and_stop(self):
        notify, proxy = self.start("notify", os.path.join(env.dir, "notify.sock"))
        ready = notify.receive()
        self.assertEqual(ready["READY"], "1")
        self.assertIn(f"serving on 127.0.0.1:{proxy.port}", ready["STATUS"])
        self.assertIn("configuration revision 1", ready["STATUS"])
        # Ready means ready: the proxy port accepts and /readyz says so.
        socket.create_connection(("127.0.0.1", proxy.port), timeout=h.DEADLINE).close()
        self.assertEqual(readyz(proxy), 200)

        before = int(time.monotonic() * 1e6)
        proxy.proc.send_signal(signal.SIGHUP)
        reloading = notify.receive()
        after = int(time.monotonic() * 1e6)
        self.assertEqual(reloading["RELOADING"], "1")
        self.assertTrue(before <= int(reloading["MONOTONIC_USEC"]) <= after, (before, reloading, after))
        reloaded = notify.receive()
        self.assertEqual(reloaded["READY"], "1")
        self.assertIn("configuration revision 2", reloaded["STATUS"])

        # A rejected reload still ends in READY=1 (the old configuration serves) and says why.
        with open(proxy.config) as f:
            good = f.read()
        with open(proxy.config, "w") as f:
            f.write(good.replace("threads: 2", "threads: lots"))
        proxy.proc.send_signal(signal.SIGHUP)
        self.assertEqual(notify.receive()["RELOADING"], "1")
        rejected = notify.receive()
        self.assertEqual(rejected["READY"], "1")
        self.assertIn("reload rejected", rejected["STATUS"])
        self.assertIn("threads", rejected["STATUS"])
        self.assertIn("configuration revision 2", rejected["STATUS"])
        self.assertEqual(readyz(proxy), 200)

        proxy.proc.send_signal(signal.SIGTERM)
        stopping = notify.receive()
        self.assertEqual(stopping["STOPPING"], "1")
        self.assertIn("draining", stopping["STATUS"])
        proxy.proc.wait(timeout=h.DEADLINE * h.TIME_SCALE)  # the drain ends it; stop() only collects
        self.assertEqual(proxy.stop(), 0)
        self.assertTrue(notify.nothing_pending())

    def test_abstract_socket_name(self):
        name = f"@trproxy-e2e-notify-{os.getpid()}"
        notify, proxy = self.start("notify-abstract", name)
        self.assertEqual(notify.receive()["READY"], "1")
        proxy.stop()

    def test_without_notify_socket_nothing_is_sent_and_nothing_breaks(self):
        proxy = env.proxy("no-notify", environ={"NOTIFY_SOCKET": ""})
        self.assertEqual(readyz(proxy), 200)
        self.assertEqual(proxy.stop(), 0)
        self.assertNotIn("systemd notification", proxy.stderr_text())


if __name__ == "__main__":
    unittest.main()
