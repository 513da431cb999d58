"""The PAC file evaluated by two independent PAC engines: Debian's pacparser (SpiderMonkey,
python3-pacparser, run by the system Python) and the npm pac-resolver (QuickJS, run by node).
Both must give the same FindProxyForURL answer for sign-in, MSA, blocked, allowed, excluded
and other hosts, with pac.proxy and pac.otherwise set (merging into an existing proxy setup)
and with the defaults."""

import json
import os
import shutil
import subprocess
import unittest
import urllib.request

import topology as t

h = t.h
env = merged = plain = None
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.environ.get("TRPROXY_NODE_DIR", os.path.join(HERE, "..", "..", "build", "node-topology"))
PAC_EXTRA = ('pac:\n  proxy: "proxy.corp.example:8080"\n  otherwise: "PROXY gw.corp.example:3128; DIRECT"\n'
             'allow: [ok.blocked.example]\n')
BLOCK = ("onedrive.live.com", "*.blocked.example")
GATEWAY = "PROXY gw.corp.example:3128; DIRECT"
HOSTS = {
    # host: (class, with pac.* set, with the defaults ({P} = the PAC's Host and proxy port))
    "login.microsoftonline.com": "proxy",
    "LOGIN.MicrosoftOnline.com.": "proxy",
    "login.microsoft.com": "proxy",
    "login.windows.net": "proxy",
    "login.live.com": "proxy",
    "onedrive.live.com": "proxy",
    "x.blocked.example": "proxy",
    "a.b.blocked.example": "proxy",
    "ok.blocked.example": "otherwise",
    "blocked.example": "otherwise",
    "device.login.microsoftonline.com": "otherwise",
    "enterpriseregistration.windows.net": "otherwise",
    "www.office.com": "otherwise",
    "foo.login.microsoftonline.com": "otherwise",
    "login.microsoftonline.com.evil.example": "otherwise",
    "10.1.2.3": "otherwise",
}


def setUpModule():
    global env, merged, plain
    env = h.Environment()
    try:
        merged = env.proxy("pac-merged", extra=PAC_EXTRA, block=BLOCK)
        plain = env.proxy("pac-default", block=BLOCK, extra="allow: [ok.blocked.example]\n")
    except BaseException:
        env.close()
        raise


def tearDownModule():
    env.close()


def fetch_pac(proxy, host_header):
    request = urllib.request.Request(f"http://127.0.0.1:{proxy.admin_port}/proxy.pac", headers={"Host": host_header})
    with urllib.request.urlopen(request, timeout=h.DEADLINE) as r:
        return r.read().decode()


def pacparser_answers(pac):
    """pacparser needs the system Python (its module is a Debian dist-package)."""
    script = ("import json, sys, pacparser\n"
              "pac, hosts = sys.stdin.read().split('\\0', 1)\n"
              "pacparser.init()\n"
              "pacparser.parse_pac_string(pac)\n"
              "print(json.dumps({x: pacparser.find_proxy('https://' + x + '/', x) for x in json.loads(hosts)}))\n")
    out = subprocess.run(["/usr/bin/python3", "-c", script], input=pac + "\0" + json.dumps(list(HOSTS)),
                         capture_output=True, text=True, timeout=h.DEADLINE)
    if out.returncode != 0:
        raise AssertionError("pacparser failed: " + out.stderr)
    return json.loads(out.stdout)


def node_modules():
    """pac-resolver installed from the committed lock file into the build tree (npm ci, once)."""
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pac-resolver")):
        os.makedirs(NODE_DIR, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(HERE, name), NODE_DIR)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True,
                       timeout=300)
    return os.path.join(NODE_DIR, "node_modules")


def pac_resolver_answers(pac):
    script = r"""
        const { createPacResolver } = require('pac-resolver');
        const { getQuickJS } = require('quickjs-emscripten');
        let input = '';
        process.stdin.on('data', (d) => { input += d; });
        process.stdin.on('end', async () => {
          const [pac, hosts] = input.split('\0');
          const find = createPacResolver(await getQuickJS(), pac);
          const out = {};
          for (const host of JSON.parse(hosts)) out[host] = await find('https://' + host + '/', host);
          console.log(JSON.stringify(out));
        });
    """
    out = subprocess.run(["node", "-e", script], input=pac + "\0" + json.dumps(list(HOSTS)), capture_output=True,
                         text=True, timeout=h.DEADLINE * 3, env={**os.environ, "NODE_PATH": node_modules()})
    if out.returncode != 0:
        raise AssertionError("pac-resolver failed: " + out.stderr)
    return json.loads(out.stdout)


class TwoEngines(unittest.TestCase):
    def check(self, pac, proxy_route, otherwise):
        expected = {host: proxy_route if kind == "proxy" else otherwise for host, kind in HOSTS.items()}
        for engine in (pacparser_answers, pac_resolver_answers):
            with self.subTest(engine=engine.__name__):
                self.assertEqual(engine(pac), expected)

    def test_merged_into_an_existing_proxy_setup(self):
        pac = fetch_pac(merged, "wpad.corp.example")
        self.check(pac, "PROXY proxy.corp.example:8080", GATEWAY)

    def test_defaults(self):
        pac = fetch_pac(plain, "trproxy.corp.example:9090")
        self.check(pac, f"PROXY trproxy.corp.example:{plain.port}", "DIRECT")


if __name__ == "__main__":
    unittest.main()
