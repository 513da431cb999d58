"""Chromium through an intercepted SaaS app host (issue 21): a page on app.slack.com opens a
WebSocket to it; the upgrade request carries the app's header and the echo comes back. Shares
test_apps' proxy and origin; its own suite because it drives a browser (label `browser`: the TSan
run leaves browsers out, as for test_browser)."""

import unittest

import harness as h
import test_apps as t

setUpModule, tearDownModule = t.setUpModule, t.tearDownModule


class ChromiumWebSocket(unittest.TestCase):
    def test_chromium_websocket_through_an_intercepted_app_host(self):
        chromium = h.Chromium(t.env.dir, t.ca_dir + "/ca.crt")
        t.upstream.websocket_closed.clear()
        before = len(t.upstream.heads)
        dom, err = chromium.load("https://app.slack.com/ws-page", f"--proxy-server=http://127.0.0.1:{t.proxy.port}")
        self.assertIn("<title>echo:hello from chromium</title>", dom, err[-2000:])
        with t.upstream.lock:
            upgrades = [head for head in t.upstream.heads[before:] if head.startswith("GET /ws ")]
        self.assertEqual(len(upgrades), 1)
        self.assertEqual(t.lines_named(upgrades[0], "X-Slack-Allowed-Workspaces"),
                         ["X-Slack-Allowed-Workspaces: T0123ABCD,E0456EFGH"])


if __name__ == "__main__":
    unittest.main()
