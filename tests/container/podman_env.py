"""Podman as the tests of this folder need it on these machines. Facts they work with:
- no registry: the base image is built with `debootstrap --variant=minbase bookworm` from the
  Debian archive named in the machine's apt sources (read at run time, never written down) and
  imported as `debian:bookworm-slim`; the tarball is cached under $TRPROXY_CI_CACHE (default
  /var/cache/trproxy-ci), one per day, and made from nothing when absent;
- podman's default runtime (crun) fails on this cgroup layout: `--runtime runc
  --cgroup-manager=cgroupfs`, and a containers.conf (CONTAINERS_CONF) with `default_ulimits = []`;
- podman's storage and the build cache mounts live under the cache folder too, so later runs
  reuse layers; one fixed run root, since podman's database records it."""

import datetime
import glob
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

CACHE = os.environ.get("TRPROXY_CI_CACHE", "/var/cache/trproxy-ci")
BASE_TAG = "debian:bookworm-slim"
STEP_TIMEOUT = 2400  # bound on one build or one debootstrap (a cold image build on 2 busy cores took over 1200 s)


def log(message):
    print(f"[container {time.strftime('%H:%M:%S')}] {message}", flush=True)


def apt_archive():
    """The Debian archive this machine's apt uses for bookworm's main component."""
    sources = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for path in sources:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"(?m)^(\w[\w-]*):\s*(.*)$", stanza))
                if ("deb" in fields.get("Types", "").split() and "bookworm" in fields.get("Suites", "").split()
                        and "main" in fields.get("Components", "").split()):
                    return fields["URIs"].split()[0]
        else:
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s+.*\bmain\b", line)
                if m:
                    return m.group(1)
    raise unittest.SkipTest("no Debian bookworm archive in the apt sources")


def timed(what, cmd, **kw):
    started = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", STEP_TIMEOUT), **kw)
    log(f"{what}: {time.monotonic() - started:.1f}s (exit {r.returncode})")
    if r.returncode != 0:
        raise AssertionError(f"{what} failed ({shlex.join(cmd)}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


def base_tarball():
    """debootstrap's minbase bookworm as a tarball, one per day, made from nothing when absent."""
    os.makedirs(CACHE, exist_ok=True)
    tarball = os.path.join(CACHE, f"debian-bookworm-minbase-{datetime.date.today().isoformat()}.tar")
    if os.path.exists(tarball):
        return tarball
    work = tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE)
    try:
        rootfs = os.path.join(work, "rootfs")
        timed("debootstrap --variant=minbase bookworm",
              ["debootstrap", "--variant=minbase", "bookworm", rootfs, apt_archive()])
        # apt inside the image uses the same archive; nothing cached in the image.
        for leftover in glob.glob(os.path.join(rootfs, "var/cache/apt/archives/*.deb")):
            os.remove(leftover)
        partial = tarball + ".partial"
        timed("tar the base", ["tar", "-C", rootfs, "-cf", partial, "."])
        os.rename(partial, tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for old in glob.glob(os.path.join(CACHE, "debian-bookworm-minbase-*.tar")):
        if old != tarball:
            os.remove(old)
    return tarball


def build_package(build_dir=None):
    """scripts/package.sh (in build_dir, else $TRPROXY_PACKAGE_DIR or its default): the .deb's path."""
    env = dict(os.environ, TRPROXY_PACKAGE_DIR=build_dir) if build_dir else None
    r = timed("scripts/package.sh", [os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "package.sh")],
              env=env)
    return r.stdout.strip().splitlines()[-1]


def packaged_binary(work):
    """A build context holding out/trproxy, the binary of the Debian package that
    scripts/package.sh builds (in $TRPROXY_PACKAGE_DIR, as the package test does): stripped, and
    compiled from this tree on this Debian 12. Returns the context folder."""
    deb = build_package()
    unpacked = os.path.join(work, "package-root")
    timed("dpkg-deb -x", ["dpkg-deb", "-x", deb, unpacked])
    context = os.path.join(work, "binary-context")
    os.makedirs(os.path.join(context, "out"))
    shutil.copy2(os.path.join(unpacked, "usr", "bin", "trproxy"), os.path.join(context, "out", "trproxy"))
    shutil.rmtree(unpacked)
    return context


class Podman:
    """podman as these machines need it: runc, cgroupfs, no default ulimits, its own storage."""

    def __init__(self, work):
        self.conf = os.path.join(work, "containers.conf")
        with open(self.conf, "w") as f:
            f.write('[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n'
                    'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
        self.storage = os.path.join(CACHE, "podman")
        # One run root per storage, always the same: podman's database records it.
        self.runroot = "/run/trproxy-ci-podman"
        self.tmp = os.path.join(CACHE, "podman-tmp")  # buildah's cache mounts (the compiler cache)
        os.makedirs(self.tmp, exist_ok=True)
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf, TMPDIR=self.tmp)

    def argv(self, *args):
        return ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs", "--root", self.storage,
                "--runroot", self.runroot, *args]

    def run(self, *args, check=True, timeout=120):
        r = subprocess.run(self.argv(*args), capture_output=True, text=True, env=self.env, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"podman {shlex.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def timed(self, what, *args):
        return timed(what, self.argv(*args), env=self.env)

    def base_image(self):
        """The debootstrap tarball imported as debian:bookworm-slim, once per tarball."""
        tarball = base_tarball()
        stamp = os.path.join(self.storage, "trproxy-base-stamp")
        try:
            with open(stamp) as f:
                name, image_id = f.read().split()
            if name == os.path.basename(tarball) and self.run("image", "exists", image_id, check=False).returncode == 0:
                self.run("tag", image_id, BASE_TAG)
                return
        except (OSError, ValueError):
            pass
        image_id = self.timed("podman import", "import", tarball, BASE_TAG).stdout.strip().splitlines()[-1]
        with open(stamp, "w") as f:
            f.write(f"{os.path.basename(tarball)} {image_id}\n")
