"""The container, for real: Debian's podman builds the project's Dockerfile and runs the image
with the documented commands (docs/deployment.md, "Container": its `ca init` line and its `run`
line: the same mounts, the same published ports), then proves through the published proxy port that a sign-in request is
intercepted and tagged, that /healthz answers on the published admin port, that the image's
HEALTHCHECK passes (`podman healthcheck run`), and that `stop` drains to exit 0.

Facts of these machines the test works with (tests/container/README.md):
- no registry: the base image is built with `debootstrap --variant=minbase bookworm` from the
  Debian archive named in the machine's apt sources (read at run time) and imported as
  `debian:bookworm-slim`; the tarball is cached under $TRPROXY_CI_CACHE (default
  /var/cache/trproxy-ci), one per day, and made from nothing when absent;
- podman's default runtime (crun) fails on this cgroup layout: `--runtime runc
  --cgroup-manager=cgroupfs`, and a containers.conf (CONTAINERS_CONF) with `default_ulimits = []`;
- `podman build --format docker` keeps the HEALTHCHECK (the OCI format drops it);
- the upstream is a Python TLS server on the host's loopback, which the container reaches through
  slirp4netns (`allow_host_loopback`: the host's 127.0.0.1 is 10.0.2.2 inside), named by the
  container config's `upstream.resolve`. Ports are published to 127.0.0.1 only.
Podman's storage and the build cache live under the cache folder too, so a second run reuses the
package layer and the compiler cache."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from podman_env import BASE_TAG, Podman, log

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness as h  # noqa: E402  (the test PKI, the recording upstream, bounded waits)

HOST_LOOPBACK_IN_CONTAINER = "10.0.2.2"  # slirp4netns with allow_host_loopback

DOCS = os.path.join("docs", "deployment.md")  # where the container commands are shown


def documented_container_commands():
    """The documented container commands (docs/deployment.md, "Container"): the lines of the
    section's first ```sh block that start with `docker`."""
    with open(os.path.join(ROOT, DOCS)) as f:
        text = f.read()
    section = re.search(r"(?m)^## Container\b.*?(?=^## |\Z)", text, re.S).group(0)
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.split(" && ", 1)[-1] if line.startswith("mkdir") else line
        if line.startswith("docker "):
            commands.append(shlex.split(line)[1:])
    return commands


def as_written(args, *, folder, image, name, ports):
    """A documented command for podman here: $PWD is the test's folder, the image its tag, the
    container its name, host ports free loopback ones (the published container ports stay)."""
    out = []
    for arg in args:
        arg = arg.replace("$PWD", folder)
        if arg == "trproxy:0.1.0":
            arg = image
        m = re.fullmatch(r"(?:127\.0\.0\.1:)?(\d+):(\d+)", arg)
        if m:
            arg = f"127.0.0.1:{ports[int(m.group(2))]}:{m.group(2)}"
        out.append(arg)
    if "--name" in out:
        out[out.index("--name") + 1] = name
    return out


@unittest.skipUnless(os.geteuid() == 0, "rootful podman: run as root (CI does)")
class Container(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("podman", "runc", "debootstrap", "slirp4netns", "curl", "openssl"):
            if not shutil.which(tool):
                raise AssertionError(f"{tool} is missing: scripts/setup.sh installs packages.txt")
        cls.work = tempfile.mkdtemp(prefix="trproxy-container-")
        cls.podman = Podman(cls.work)
        cls.tag = f"localhost/trproxy-test:{os.getpid()}"
        cls.name = f"trproxy-test-{os.getpid()}"
        started = time.monotonic()
        cls.podman.base_image()
        cls.podman.timed("podman build --format docker", "build", "--format", "docker", "--layers",
                         "--build-arg", f"BASE_IMAGE={BASE_TAG}", "-t", cls.tag, ROOT)
        log(f"image ready after {time.monotonic() - started:.1f}s")

    @classmethod
    def tearDownClass(cls):
        cls.podman.run("rm", "-f", "-t", "0", cls.name, check=False)
        cls.podman.run("rmi", "-f", cls.tag, check=False)
        cls.podman.run("image", "prune", "-f", "--filter", "until=72h", check=False)
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_documented_commands_intercept_tag_and_stay_healthy(self):
        commands = documented_container_commands()
        self.assertEqual([c[0] for c in commands], ["build", "run", "run"], commands)
        ca_init, serve = commands[1], commands[2]

        # The documented folders: ca/ for the CA, deploy/container/ as the config (a copy whose
        # upstream is the local echo server, and which trusts the test PKI's root).
        folder = os.path.join(self.work, "clone")
        config_dir = os.path.join(folder, "deploy", "container")
        os.makedirs(os.path.join(folder, "ca"))
        shutil.copytree(os.path.join(ROOT, "deploy", "container"), config_dir)
        pki = h.Pki(os.path.join(self.work, "pki"))
        shutil.copy(pki.root_crt, os.path.join(config_dir, "upstream-root.pem"))
        upstream = h.HeadRecorder(tls_cert=pki.good)
        self.addCleanup(upstream.close)
        path = os.path.join(config_dir, "trproxy.yaml")
        with open(path) as f:
            text = f.read()
        text = text.replace("  trust: system", "  trust: upstream-root.pem")
        text = text.replace("  resolve: {}", '  resolve: {"login.microsoftonline.com": "'
                            f'{HOST_LOOPBACK_IN_CONTAINER}:{upstream.port}"}}')
        self.assertIn("upstream-root.pem", text)
        self.assertIn(str(upstream.port), text)
        with open(path, "w") as f:
            f.write(text)

        ports = {3128: h.free_port(), 9090: h.free_port()}
        fill = dict(folder=folder, image=self.tag, name=self.name, ports=ports)
        # ca init as documented: root in the container, the key 0640 with group 10001.
        init = as_written(ca_init, **fill)
        r = self.podman.run(*init[:1], "--network", "none", *init[1:])
        self.assertIn("key mode 0640 group 10001", r.stdout)
        key = os.stat(os.path.join(folder, "ca", "ca.key"))
        self.assertEqual((key.st_mode & 0o777, key.st_gid), (0o640, 10001))

        # The run line, with the network that reaches the host's loopback.
        run = as_written(serve, **fill)
        self.assertIn("/etc/trproxy/config:ro", " ".join(run))
        self.podman.run(*run[:1], "--network", "slirp4netns:allow_host_loopback=true", *run[1:])
        self.addCleanup(lambda: self.podman.run("rm", "-f", "-t", "0", self.name, check=False))

        def healthz():
            r = subprocess.run(["curl", "-s", "-m", "2", f"http://127.0.0.1:{ports[9090]}/healthz"],
                               capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip() == "ok":
                return True
            state = self.podman.run("inspect", "--format", "{{.State.Status}}", self.name).stdout.strip()
            if state != "running":
                raise AssertionError(f"container {state}:\n{self.podman.run('logs', self.name).stderr}")
            return None

        h.wait_until(healthz, timeout=60, what="/healthz through the published admin port")

        # A sign-in through the published proxy port: intercepted with the CA made above,
        # the client's copy of the header stripped, the policy's inserted.
        r = subprocess.run(["curl", "-sS", "-m", "20", "-x", f"http://127.0.0.1:{ports[3128]}",
                            "--cacert", os.path.join(folder, "ca", "ca.crt"),
                            "-H", "sec-Restrict-Tenant-Access-Policy: evil:evil",
                            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?code=SECRET"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr + self.podman.run("logs", self.name).stderr)
        self.assertEqual(r.stdout, "recorded\n")
        self.assertEqual(len(upstream.heads), 1)
        head = upstream.heads[0]
        self.assertIn(f"\r\nsec-Restrict-Tenant-Access-Policy: {h.V2_VALUE}", head)
        self.assertNotIn("evil", head)

        logs = self.podman.run("logs", self.name)
        self.assertRegex(logs.stdout, r"action=intercept .*host=login\.microsoftonline\.com .*status=200")
        self.assertNotIn("SECRET", logs.stdout)

        # The image's own HEALTHCHECK, kept by --format docker, passes.
        check = self.podman.run("inspect", "--format", "{{json .Config.Healthcheck}}", self.name).stdout
        self.assertIn("/healthz", check)
        r = self.podman.run("healthcheck", "run", self.name, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.podman.run("inspect", "--format", "{{.Config.User}}", self.name).stdout.strip(),
                         "10001:10001")

        # stop: SIGTERM to PID 1, drain_delay and the grace period, exit 0.
        self.podman.run("stop", "-t", "20", self.name, timeout=60)
        state = self.podman.run("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip()
        self.assertEqual(state, "0", self.podman.run("logs", self.name).stderr)
        self.assertIn("draining", self.podman.run("logs", self.name).stderr)


if __name__ == "__main__":
    unittest.main()
