"""A real browser: headless Chromium, trusting only the trproxy CA through its NSS database,
loads the sign-in hosts through the proxy and gets nginx's echo of the injected header. No
certificate-error flag is used: the minted leaf must satisfy Chromium's own verifier."""

import os
import shutil
import subprocess
import tempfile
import unittest

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise unittest.SkipTest("no Chromium installed (packages.txt lists it; run scripts/setup.sh)")


def browse(proxy, url):
    home = tempfile.mkdtemp(prefix="trproxy-chromium-", dir=env.dir)
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "trproxy-test", "-i", env.ca_crt],
                   check=True, capture_output=True)
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={os.path.join(home, 'profile')}",
           f"--proxy-server=http://127.0.0.1:{proxy.port}", "--dump-dom", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": home})
    return out.stdout


class Browser(unittest.TestCase):
    def test_chromium_gets_the_v2_header_on_login_microsoftonline_com(self):
        proxy = env.proxy("browser-v2")
        dom = browse(proxy, f"https://{h.AUTH_HOSTS[0]}/common/oauth2/v2.0/authorize?client_id=x")
        self.assertIn("strap=" + h.V2_VALUE, dom)
        self.assertIn(f"host={h.AUTH_HOSTS[0]}", dom)

    def test_chromium_gets_restrict_msa_on_login_live_com_in_v1(self):
        proxy = env.proxy("browser-v1", mode="v1")
        dom = browse(proxy, f"https://{h.MSA_HOST}/login.srf")
        self.assertIn("strap=restrict-msa", dom)


if __name__ == "__main__":
    unittest.main()
