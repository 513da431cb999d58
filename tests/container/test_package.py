"""The Debian package, installed for real: scripts/package.sh builds it (CPack DEB), its
control data and file list are read with dpkg-deb, and it is installed with apt into a clean
Debian 12 container (the debootstrap image of podman_env) where `trproxy --version`, the
postinst's user and folders, `ca init --group trproxy`, `--check` as the service user, the
sysusers.d and tmpfiles.d fragments, trproxy(1) and `systemd-analyze verify` of the installed
unit are run. The container reaches the Debian archive of the machine's apt sources (the image's
own sources.list, written by debootstrap) through slirp4netns."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from podman_env import BASE_TAG, Podman, build_package, log

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Run in the container; each step's output follows a "== name" line.
INSIDE = r"""
set -eu
step() { echo "== $1"; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
step install-without-systemd
apt-get install -y -qq --no-install-recommends /pkg/$DEB >/dev/null
trproxy --version
step user
id trproxy
step folders
stat -c '%n %a %U %G' /etc/trproxy/ca /var/log/trproxy
step conffiles
cat /var/lib/dpkg/info/trproxy.conffiles
step ca-init
trproxy ca init --dir /etc/trproxy/ca --config /etc/trproxy/trproxy.yaml --group trproxy
stat -c '%n %a %U %G' /etc/trproxy/ca/ca.key
step check-as-service-user
setpriv --reuid=trproxy --regid=trproxy --clear-groups trproxy --config /etc/trproxy/trproxy.yaml --check
step systemd
apt-get install -y -qq --no-install-recommends systemd man-db >/dev/null
systemd-sysusers /usr/lib/sysusers.d/trproxy.conf && echo sysusers-ok
systemd-tmpfiles --create /usr/lib/tmpfiles.d/trproxy.conf && echo tmpfiles-ok
step manpage
man -w trproxy
zcat /usr/share/man/man1/trproxy.1.gz | grep -c 'tenant restrictions'
step verify
systemd-analyze verify /usr/lib/systemd/system/trproxy.service && echo verify-ok
step security
systemd-analyze security --offline=yes /usr/lib/systemd/system/trproxy.service | tail -n 1
step bad-config-check
sed -i 's/threads: 0 /threads: lots /' /etc/trproxy/trproxy.yaml
set +e
trproxy --config /etc/trproxy/trproxy.yaml --check 2>&1
echo "exit $?"
set -e
step remove
apt-get remove -y -qq trproxy >/dev/null
test ! -e /usr/bin/trproxy && echo removed
test -e /etc/trproxy/trproxy.yaml && echo conffile-kept
"""


def steps(output):
    """{step name: its output} from the "== name" markers."""
    out, name = {}, None
    for line in output.splitlines():
        if line.startswith("== "):
            name = line[3:].strip()
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


@unittest.skipUnless(os.geteuid() == 0, "rootful podman: run as root (CI does)")
class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="trproxy-package-")
        build = os.environ.get("TRPROXY_PACKAGE_DIR", os.path.join(cls.work, "build"))
        cls.deb = build_package(build)
        cls.pkg = os.path.join(cls.work, "pkg")
        os.makedirs(cls.pkg)
        shutil.copy(cls.deb, cls.pkg)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def dpkg_deb(self, *args):
        return subprocess.run(["dpkg-deb", *args, self.deb], capture_output=True, text=True, check=True).stdout

    def test_control_data_and_files(self):
        self.assertRegex(os.path.basename(self.deb), r"^trproxy_\d+\.\d+\.\d+_[a-z0-9]+\.deb$")
        depends = self.dpkg_deb("-f")  # all fields
        depends = re.search(r"(?m)^Depends: (.*)$", depends).group(1)
        for package in ("libssl3", "libyaml-cpp0.7", "libspdlog1.10", "libc6", "ca-certificates", "procps"):
            self.assertIn(package, depends)  # the libraries from dpkg-shlibdeps, the rest declared
        files = self.dpkg_deb("-c")
        for path in ("./usr/bin/trproxy", "./usr/lib/systemd/system/trproxy.service",
                     "./usr/lib/sysusers.d/trproxy.conf", "./usr/lib/tmpfiles.d/trproxy.conf",
                     "./etc/logrotate.d/trproxy", "./etc/trproxy/trproxy.yaml",
                     "./usr/share/doc/trproxy/README.md", "./usr/share/doc/trproxy/docs/configuration.md",
                     "./usr/share/man/man1/trproxy.1.gz"):
            self.assertRegex(files, rf"(?m) {re.escape(path)}$")
        self.assertNotIn("ca.key", files)

    def test_installs_and_runs_in_a_clean_debian(self):
        podman = Podman(self.work)
        podman.base_image()
        r = podman.timed("install the package in a clean Debian container", "run", "--rm", "--network",
                         "slirp4netns", "-e", "DEB=" + os.path.basename(self.deb), "-v", f"{self.pkg}:/pkg:ro",
                         BASE_TAG, "bash", "-c", INSIDE)
        out = steps(r.stdout)
        log("in the container:\n" + r.stdout)
        self.assertRegex(out["install-without-systemd"], r"^trproxy \d+\.\d+\.\d+")
        self.assertRegex(out["user"], r"uid=\d+\(trproxy\) gid=\d+\(trproxy\)")
        self.assertIn("/etc/trproxy/ca 750 root trproxy", out["folders"])
        self.assertIn("/var/log/trproxy 750 trproxy trproxy", out["folders"])
        self.assertEqual(set(out["conffiles"].split()), {"/etc/trproxy/trproxy.yaml", "/etc/logrotate.d/trproxy"})
        self.assertIn("/etc/trproxy/ca/ca.key 640 root trproxy", out["ca-init"])
        self.assertIn("mode: tenant restrictions v2", out["check-as-service-user"])
        self.assertIn("sysusers-ok", out["systemd"])
        self.assertIn("tmpfiles-ok", out["systemd"])
        self.assertIn("/usr/share/man/man1/trproxy.1.gz", out["manpage"])
        self.assertGreater(int(out["manpage"].split()[-1]), 0)
        self.assertEqual(out["verify"].strip(), "verify-ok")  # and not one warning before it
        exposure = re.search(r"Overall exposure level for trproxy\.service: ([\d.]+)", out["security"])
        self.assertIsNotNone(exposure, out["security"])
        self.assertLess(float(exposure.group(1)), 2.5)
        self.assertIn("exit 2", out["bad-config-check"])  # what makes ExecReload fail the reload
        self.assertIn("threads", out["bad-config-check"])
        self.assertIn("removed", out["remove"])
        self.assertIn("conffile-kept", out["remove"])


if __name__ == "__main__":
    unittest.main()
