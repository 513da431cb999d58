"""A real browser: headless Chromium, trusting only the trproxy CA through its NSS database,
loads the sign-in hosts through the proxy and gets nginx's echo of the injected header. No
certificate-error flag is used: the minted leaf must satisfy Chromium's own verifier."""

import unittest

import harness as h

env = None  # set by setUpModule
setUpModule, tearDownModule = h.module_fixtures(globals())


def browse(proxy, url):
    chromium = h.Chromium(env.dir, env.ca_crt)
    return chromium.load(url, f"--proxy-server=http://127.0.0.1:{proxy.port}")[0]


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
