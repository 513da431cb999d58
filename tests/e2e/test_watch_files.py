"""watch_files (DESIGN.md, signals): the config and the CA files are mounted the way the
kubelet mounts a ConfigMap and a Secret (files that are symlinks through `..data` into a
timestamped folder, updated by writing a new folder and renaming a new `..data` symlink over the
old one: AtomicWriter), and an update is applied without a signal, within a bounded wait; an
invalid update is rejected like a SIGHUP would be, and the running policy stays."""

import itertools
import os
import shutil
import time
import unittest
import urllib.request

import harness as h

env = None
_serial = itertools.count()


def atomic_write(folder, files):
    """kubelet's AtomicWriter: files into a new timestamped folder, a `..data_tmp` symlink to it
    renamed over `..data`, a `name -> ..data/name` symlink per file (made once), and the old
    folder removed."""
    os.makedirs(folder, exist_ok=True)
    data = os.path.join(folder, "..data")
    old = os.readlink(data) if os.path.islink(data) else None
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.") + str(next(_serial))
    os.mkdir(os.path.join(folder, stamp))
    for name, content in files.items():
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(os.path.join(folder, stamp, name), mode) as f:
            f.write(content)
    tmp = os.path.join(folder, "..data_tmp")
    os.symlink(stamp, tmp)
    os.rename(tmp, data)
    for name in files:
        link = os.path.join(folder, name)
        if not os.path.islink(link):
            os.symlink(os.path.join("..data", name), link)
    if old:
        shutil.rmtree(os.path.join(folder, old))


class ConfigMapProxy(h.Proxy):
    """A trproxy whose config file lives in a ConfigMap-style mount (folder `configmap/`)."""

    def store_config(self, text):
        folder = os.path.join(self.dir, "configmap")
        atomic_write(folder, {"trproxy.yaml": text})
        self.config = os.path.join(folder, "trproxy.yaml")


def setUpModule():
    global env
    env = h.Environment()


def tearDownModule():
    env.close()


def revisions(proxy):
    return proxy.stderr_lines_matching(r"reload: configuration revision (\d+) active")


def metrics(proxy):
    with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=h.DEADLINE) as r:
        return r.read().decode()


class ConfigMapUpdate(unittest.TestCase):
    def start(self, name, **kw):
        folder = os.path.join(env.dir, name)
        p = ConfigMapProxy(folder, kw.pop("ca_dir", env.ca_dir), trust=env.pki.root_crt, resolve=env.resolve_all(),
                           watch=True, **kw)
        env.proxies.append(p)
        return p

    def strap(self, proxy, cacert=None):
        code, body, err = h.curl(proxy, f"https://{h.AUTH_HOSTS[0]}/w", cacert=cacert or env.ca_crt)
        self.assertEqual(code, 0, err)
        return h.echo_fields(body)

    def test_symlink_swap_applies_the_new_policy(self):
        proxy = self.start("cm-swap")
        self.assertTrue(os.path.islink(proxy.config))
        self.assertEqual(self.strap(proxy)["strap"], h.V2_VALUE)
        before = len(revisions(proxy))
        proxy.write_config(env.ca_dir, "v1", env.resolve_all(), env.pki.root_crt, "")
        h.wait_until(lambda: len(revisions(proxy)) > before, what="a reload after the ConfigMap swap")
        seen = self.strap(proxy)
        self.assertEqual(seen["strap"], "")
        self.assertEqual(seen["rat"], h.V1_TENANTS)
        self.assertIn("watch_files: the config or CA files changed; reloading", proxy.stderr_text())

    def test_invalid_update_is_rejected_and_the_running_policy_stays(self):
        proxy = self.start("cm-invalid")
        good = open(proxy.config).read()
        proxy.store_config(good.replace(h.TENANT, "not-a-guid"))
        h.wait_until(lambda: proxy.stderr_lines_matching(r"reload rejected, keeping the running configuration: .*"),
                     what="'reload rejected' after an invalid ConfigMap update")
        self.assertIn('trproxy_config_reloads_total{result="failure"} 1', metrics(proxy))
        self.assertEqual(self.strap(proxy)["strap"], h.V2_VALUE)
        # The next valid update is applied again.
        before = len(revisions(proxy))
        proxy.store_config(good.replace(h.POLICY, "2bbbbbb2-2bb2-3cc3-4dd4-5eeeeeeeeee5"))
        h.wait_until(lambda: len(revisions(proxy)) > before, what="a reload after the fixed ConfigMap")
        self.assertEqual(self.strap(proxy)["strap"], f"{h.TENANT}:2bbbbbb2-2bb2-3cc3-4dd4-5eeeeeeeeee5")

    def test_secret_swap_rotates_the_ca(self):
        # The CA as a Secret mount: ca.crt and ca.key behind ..data.
        first, second = (os.path.join(env.dir, f"ca-{n}") for n in ("one", "two"))
        for folder in (first, second):
            r = h.run_trproxy("ca", "init", "--dir", folder)
            self.assertEqual(r.returncode, 0, r.stderr)
        secret = os.path.join(env.dir, "secret")

        def mount(folder):
            atomic_write(secret, {name: open(os.path.join(folder, name), "rb").read() for name in ("ca.crt", "ca.key")})

        mount(first)
        proxy = self.start("cm-secret", ca_dir=secret)
        self.assertEqual(self.strap(proxy, os.path.join(first, "ca.crt"))["strap"], h.V2_VALUE)
        before = len(revisions(proxy))
        mount(second)
        h.wait_until(lambda: len(revisions(proxy)) > before, what="a reload after the Secret swap")
        self.assertEqual(self.strap(proxy, os.path.join(second, "ca.crt"))["strap"], h.V2_VALUE)
        code, _, err = h.curl(proxy, f"https://{h.AUTH_HOSTS[0]}/old", cacert=os.path.join(first, "ca.crt"))
        self.assertEqual(code, 60, err)  # the old CA no longer vouches for the leaf


if __name__ == "__main__":
    unittest.main()
