"""upstream.proxy (DESIGN.md): every upstream connection goes through a parent proxy with
CONNECT, the sign-in upstream is still verified by trproxy end to end, and a parent that
refuses gives 502 naming its status. The parent here is a small Python CONNECT proxy that
records what it is asked (so the sanitizer builds see the path); tests/topology runs the same
through Debian's Squid. Also: the one-line 502 reasons of an unreachable upstream."""

import socket
import threading
import unittest

import harness as h

env = parent = proxy = None  # set by setUpModule
REFUSED_HOST = "refused.example.com"
BANNER_HOST = "banner.example.com"


class ParentProxy(h.PythonUpstream):
    """A CONNECT-only parent: maps an asked authority to a loopback address, answers 403 for
    REFUSED_HOST, and relays. For BANNER_HOST it sends its 200 and the server's first bytes in
    one write, as a parent may: trproxy must keep those bytes for the tunnel."""

    def __init__(self, routes):
        self.routes = routes
        self.asked = []
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, sock):
        received = h.recv_head(sock)
        if received is None:
            return
        head, _ = received
        method, authority, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        with self.lock:
            self.asked.append(f"{method} {authority}")
        if method != "CONNECT" or authority.rsplit(":", 1)[0] == REFUSED_HOST:
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\ndenied")
            return
        target = self.routes.get(authority)
        if target is None:
            host, port = authority.rsplit(":", 1)
            target = (host, int(port))
        with socket.create_connection(target, timeout=h.DEADLINE) as upstream:
            if authority.startswith(BANNER_HOST):
                banner = upstream.recv(4096)
                sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n" + banner)
            else:
                sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            relay(sock, upstream)

    def asked_for(self, authority):
        with self.lock:
            return f"CONNECT {authority}" in self.asked


def relay(a, b):
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join(h.DEADLINE)


banner = closed_port = closed_holder = None


def setUpModule():
    global env, parent, proxy, banner, closed_port, closed_holder
    env = h.Environment()
    try:
        ports = env.nginx.ports
        banner = h.BannerEchoServer()
        routes = {f"{name}:443": ("127.0.0.1", ports["good"]) for name in h.AUTH_HOSTS + [h.OTHER_HOST]}
        routes[f"{h.MSA_HOST}:443"] = ("127.0.0.1", ports["unknown"])  # an issuer trproxy does not trust
        routes["plain.example.com:80"] = ("127.0.0.1", ports["plain"])
        routes[f"{BANNER_HOST}:443"] = ("127.0.0.1", banner.port)
        parent = ParentProxy(routes)
        # A port bound but never listening: connecting is refused, and no listener started later
        # (a proxy of this module binding port 0) can be given the same number.
        closed_holder = socket.socket()
        closed_holder.bind(("127.0.0.1", 0))
        closed_port = closed_holder.getsockname()[1]
        # No upstream.resolve: every name goes to the parent unresolved. The sign-in address guard
        # would resolve each tunnelled name itself (through this machine's DNS): off here, and
        # test_tried.GuardBehindParent covers it with a name the hosts file answers.
        proxy = env.proxy("through", resolve={}, parent=parent.address, extra="sign_in_guard:\n  addresses: []\n")
    except BaseException:
        env.close()
        raise


def tearDownModule():
    env.close()
    if closed_holder:
        closed_holder.close()
    if parent:
        parent.close()
    if banner:
        banner.close()


class ThroughParent(unittest.TestCase):
    def test_tunnel_goes_through_the_parent(self):
        code, body, err = h.curl(proxy, f"https://{h.OTHER_HOST}/tunnel", cacert=env.pki.root_crt)
        self.assertEqual(code, 0, err)
        self.assertEqual(h.echo_fields(body)["uri"], "/tunnel")
        self.assertTrue(parent.asked_for(f"{h.OTHER_HOST}:443"), parent.asked)

    def test_sign_in_is_intercepted_and_verified_through_the_parent(self):
        code, body, err = h.curl(proxy, f"https://{h.AUTH_HOSTS[0]}/common/oauth2", cacert=env.ca_crt)
        self.assertEqual(code, 0, err)
        self.assertEqual(h.echo_fields(body)["strap"], h.V2_VALUE)
        self.assertTrue(parent.asked_for(f"{h.AUTH_HOSTS[0]}:443"), parent.asked)

    def test_sign_in_upstream_with_an_unknown_issuer_is_refused_through_the_parent(self):
        code, body, err = h.curl(proxy, f"https://{h.MSA_HOST}/", "-w", "%{http_code}", cacert=env.ca_crt)
        self.assertTrue(body.endswith("502"), body)
        self.assertIn(f"upstream {h.MSA_HOST}:443: certificate verification failed: ", body)
        self.assertTrue(parent.asked_for(f"{h.MSA_HOST}:443"), parent.asked)

    def test_plain_forward_goes_through_the_parent(self):
        code, body, err = h.curl(proxy, "http://plain.example.com/fwd?q=1")
        self.assertEqual(code, 0, err)
        self.assertEqual(h.echo_fields(body)["uri"], "/fwd?q=1")
        self.assertTrue(parent.asked_for("plain.example.com:80"), parent.asked)

    def test_server_first_bytes_sent_with_the_parents_answer_reach_the_client(self):
        s, status = h.connect_tunnel(proxy, f"{BANNER_HOST}:443")
        with s:
            self.assertIn(" 200 ", status + " ")
            s.settimeout(h.DEADLINE)
            got = b""
            while len(got) < len(h.BannerEchoServer.BANNER):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            self.assertEqual(got, h.BannerEchoServer.BANNER)
            s.sendall(b"ping\r\n")
            self.assertEqual(s.recv(4096), b"ping\r\n")

    def test_a_refusing_parent_gives_502_naming_its_status(self):
        status, _, body = h.raw_request(proxy, f"CONNECT {REFUSED_HOST}:443 HTTP/1.1\r\nHost: {REFUSED_HOST}:443\r\n\r\n".encode())
        self.assertEqual(status, 502)
        self.assertIn(b"parent proxy refused CONNECT: 403 Forbidden", body)
        status, _, body = h.raw_request(proxy, f"GET http://{REFUSED_HOST}/x HTTP/1.1\r\nHost: {REFUSED_HOST}\r\n\r\n".encode())
        self.assertEqual(status, 502)
        self.assertIn(b"parent proxy refused CONNECT: 403 Forbidden", body)

    def test_egress_rules_still_apply_to_address_targets(self):
        before = list(parent.asked)
        status, _, body = h.raw_request(proxy, b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")
        self.assertEqual(status, 403, body)
        status, _, body = h.raw_request(proxy, b"CONNECT www.example.com:22 HTTP/1.1\r\nHost: www.example.com:22\r\n\r\n")
        self.assertEqual(status, 403, body)
        self.assertEqual(parent.asked, before, "a refused destination must not reach the parent")


class UnreachableReasons(unittest.TestCase):
    """The 502 body says in one line why the sign-in upstream could not be reached."""

    def test_parent_down(self):
        with env.proxy("parent-down", resolve={}, parent=f"127.0.0.1:{closed_port}") as p:
            status, _, body = h.raw_request(p, f"CONNECT {h.OTHER_HOST}:443 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        self.assertEqual(status, 502)
        self.assertIn(f"parent proxy 127.0.0.1:{closed_port} (127.0.0.1:{closed_port}): connection refused".encode(), body)

    def test_sign_in_upstream_refuses(self):
        resolve = {h.AUTH_HOSTS[1]: f"127.0.0.1:{closed_port}"}
        with env.proxy("refusing-upstream", resolve=resolve) as p:
            code, body, err = h.curl(p, f"https://{h.AUTH_HOSTS[1]}/", "-w", "%{http_code}", cacert=env.ca_crt)
        self.assertTrue(body.endswith("502"), body)
        self.assertIn(f"upstream {h.AUTH_HOSTS[1]}:443 (127.0.0.1:{closed_port}): connection refused", body)

    def test_sign_in_upstream_certificate(self):
        with env.proxy("wrong-name", resolve=env.resolve_all("wrongname")) as p:
            code, body, err = h.curl(p, f"https://{h.AUTH_HOSTS[0]}/", "-w", "%{http_code}", cacert=env.ca_crt)
        self.assertTrue(body.endswith("502"), body)
        self.assertIn(f"upstream {h.AUTH_HOSTS[0]}:443: certificate verification failed: ", body)


if __name__ == "__main__":
    unittest.main()
