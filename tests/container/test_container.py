"""The container, for real: Debian's podman builds the project's Dockerfile and runs the image
with the documented commands (docs/deployment.md, "Container": its `ca init` line and its `run`
line: the same mounts, the same published ports), then proves through the published proxy port that a sign-in request is
intercepted and tagged, that /healthz answers on the published admin port, that the image's
HEALTHCHECK passes (`podman healthcheck run`), and that `stop` drains to exit 0.

The image is the Dockerfile's runtime stage around the binary of the Debian package
(scripts/package.sh, the package test's .deb); TRPROXY_IMAGE_FROM_SOURCE=1 compiles it in the
image's build stage instead. Facts of these machines the test works with (podman_env.py):
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
package layers (and the compiler cache, when built from source)."""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from podman_env import BASE_TAG, Podman, log, packaged_binary

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
        cls.name = f"trproxy-test-{os.getpid()}"
        # TRPROXY_TEST_IMAGE: an image of this tree built before (kept afterwards), to rerun a test
        # without building again.
        cls.tag = os.environ.get("TRPROXY_TEST_IMAGE") or f"localhost/trproxy-test:{os.getpid()}"
        cls.own_image = "TRPROXY_TEST_IMAGE" not in os.environ
        if not cls.own_image:
            return
        started = time.monotonic()
        cls.podman.base_image()
        # The Dockerfile's runtime stage around the binary of the Debian package (the package test
        # builds and installs the same .deb): compiling the tree again inside the image was most of
        # a cold run. TRPROXY_IMAGE_FROM_SOURCE=1 builds the build stage too, as `docker build .` does.
        binary = []
        if os.environ.get("TRPROXY_IMAGE_FROM_SOURCE") != "1":
            binary = ["--build-context", f"build={packaged_binary(cls.work)}"]
        cls.podman.timed("podman build --format docker", "build", "--format", "docker", "--layers",
                         "--build-arg", f"BASE_IMAGE={BASE_TAG}", *binary, "-t", cls.tag, ROOT)
        log(f"image ready after {time.monotonic() - started:.1f}s")

    @classmethod
    def tearDownClass(cls):
        cls.podman.run("rm", "-f", "-t", "0", cls.name, check=False)
        if cls.own_image:
            cls.podman.run("rmi", "-f", cls.tag, check=False)
        cls.podman.run("image", "prune", "-f", "--filter", "until=72h", check=False)
        shutil.rmtree(cls.work, ignore_errors=True)

    def container_config(self, config_dir, pki_name):
        """deploy/container/ copied to config_dir, its upstream the local recording server (the
        test PKI's root trusted). Returns (that server, the config's path, its text)."""
        shutil.copytree(os.path.join(ROOT, "deploy", "container"), config_dir)
        pki = h.Pki(os.path.join(self.work, pki_name))
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
        return upstream, path, text

    def test_documented_commands_intercept_tag_and_stay_healthy(self):
        commands = documented_container_commands()
        self.assertEqual([c[0] for c in commands], ["build", "run", "run"], commands)
        ca_init, serve = commands[1], commands[2]

        # The documented folders: ca/ for the CA, deploy/container/ as the config (a copy whose
        # upstream is the local echo server, and which trusts the test PKI's root).
        folder = os.path.join(self.work, "clone")
        config_dir = os.path.join(folder, "deploy", "container")
        os.makedirs(os.path.join(folder, "ca"))
        upstream, _, _ = self.container_config(config_dir, "pki")

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

    def test_podman_pod_runs_as_a_podman_kube_service(self):
        """deploy/podman/trproxy-pod.yaml under `podman kube play`, started and stopped the way
        podman's own podman-kube@.service does it (its ExecStart and ExecStop lines, read from the
        unit podman installs; systemd is not PID 1 here, so the test plays systemd's part: the
        NOTIFY_SOCKET the unit's Type=notify listens on). Ready, a sign-in intercepted through the
        published port on 127.0.0.1, a reload by a file change, the liveness probe, stop with drain."""
        unit = "/usr/lib/systemd/system/podman-kube@.service"
        with open(unit) as f:
            lines = dict(re.findall(r"(?m)^(ExecStart|ExecStop|Type)=(.*)$", f.read()))
        self.assertEqual(lines["Type"], "notify")
        folder = os.path.join(self.work, "pod")
        config_dir, ca_dir = os.path.join(folder, "config"), os.path.join(folder, "ca")
        os.makedirs(ca_dir)
        upstream, config_path, config = self.container_config(config_dir, "pod-pki")
        # The CA as the README of deploy/podman says: ca init --group 10001 into the host folder.
        self.podman.run("run", "--rm", "--network", "none", "--user", "0", "-v", f"{ca_dir}:/etc/trproxy/ca",
                        self.tag, "ca", "init", "--dir", "/etc/trproxy/ca", "--group", "10001")
        self.assertEqual(os.stat(os.path.join(ca_dir, "ca.key")).st_gid, 10001)

        # The pod file as shipped, with this machine's folders, free loopback ports and the image.
        ports = {3128: h.free_port(), 9090: h.free_port()}
        with open(os.path.join(ROOT, "deploy", "podman", "trproxy-pod.yaml")) as f:
            pod = f.read()
        self.assertIn("hostIP: 127.0.0.1", pod)
        self.assertNotIn("httpGet:", pod)
        pod = pod.replace("path: /etc/trproxy/config ", f"path: {config_dir} ")
        pod = pod.replace("path: /etc/trproxy/ca ", f"path: {ca_dir} ")
        pod = pod.replace("image: localhost/trproxy:0.1.0", f"image: {self.tag}")
        for container_port, host_port in ports.items():
            pod = pod.replace(f"hostPort: {container_port}\n", f"hostPort: {host_port}\n")
        pod = pod.replace("name: trproxy\n  labels", f"name: {self.name}-pod\n  labels")
        self.assertIn(f"name: {self.name}-pod", pod)
        pod_file = os.path.join(folder, "trproxy-pod.yaml")
        with open(pod_file, "w") as f:
            f.write(pod)

        # ExecStart as the unit has it (%I: the pod file), with this machine's podman options
        # and the network that reaches the host's loopback; systemd's NOTIFY_SOCKET.
        def unit_command(line, *extra):
            argv = shlex.split(line.replace("%I", pod_file))
            self.assertEqual(argv[:3], ["/usr/bin/podman", "play", "kube"])
            return self.podman.argv(*argv[1:], *extra)

        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = os.path.join(folder, "notify")
        notify.bind(notify_path)
        self.addCleanup(notify.close)
        env = dict(self.podman.env, NOTIFY_SOCKET=notify_path, PODMAN_SYSTEMD_UNIT="podman-kube@test.service")
        start = subprocess.run(unit_command(lines["ExecStart"], "--network", "slirp4netns:allow_host_loopback=true"),
                               capture_output=True, text=True, env=env, timeout=300)
        stop_argv = unit_command(lines["ExecStop"])
        self.addCleanup(lambda: subprocess.run(stop_argv, capture_output=True, env=self.podman.env, timeout=120))
        # The drop-in's ExecStop list replaces the template's (its first, empty line clears it).
        with open(os.path.join(ROOT, "deploy", "podman", "drain.conf")) as f:
            drop_in = re.findall(r"(?m)^ExecStop=(.*)$", f.read())
        self.assertEqual(drop_in[0], "")
        self.assertEqual(drop_in[-1], lines["ExecStop"])
        pod_name = f"{self.name}-pod"
        stop_commands = [self.podman.argv(*shlex.split(line.replace(" trproxy", f" {pod_name}"))[1:])
                         for line in drop_in[1:-1]] + [stop_argv]
        self.assertEqual(start.returncode, 0, start.stdout + start.stderr)
        container = f"{self.name}-pod-trproxy"
        notify.settimeout(h.DEADLINE)
        messages = b""
        while b"READY=1" not in messages:
            messages += notify.recv(4096) + b"\n"
        log(f"podman-kube notified: {messages.decode(errors='replace').split()}")

        def admin(path):
            r = subprocess.run(["curl", "-s", "-m", "2", f"http://127.0.0.1:{ports[9090]}{path}"],
                               capture_output=True, text=True)
            return r.stdout if r.returncode == 0 else None

        def ready():
            if admin("/readyz") == "ready\n":
                return True
            state = self.podman.run("inspect", "--format", "{{.State.Status}}", container, check=False).stdout
            if state.strip() not in ("running", "created", "configured"):
                ps = self.podman.run("ps", "-a", "--pod", check=False).stdout
                raise AssertionError(f"{container}: {state}\n{ps}\n{self.podman.run('logs', container).stderr}")
            return None

        try:
            h.wait_until(ready, timeout=60, what="/readyz through the pod's port")
        except TimeoutError as timeout:
            ports_now = self.podman.run("port", container, check=False)
            raise AssertionError(f"{timeout}\nports: {ports_now.stdout}{ports_now.stderr}\n"
                                 f"{self.podman.run('logs', container, check=False).stderr}") from None
        # Published on the chosen address only.
        published = self.podman.run("port", container).stdout
        self.assertIn(f"127.0.0.1:{ports[3128]}", published)
        self.assertNotIn("0.0.0.0", published)

        def sign_in():
            return subprocess.run(["curl", "-sS", "-m", "20", "-x", f"http://127.0.0.1:{ports[3128]}",
                                   "--cacert", os.path.join(ca_dir, "ca.crt"),
                                   "-H", "sec-Restrict-Tenant-Access-Policy: evil:evil",
                                   "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"],
                                  capture_output=True, text=True)

        r = sign_in()
        self.assertEqual((r.returncode, r.stdout), (0, "recorded\n"), r.stderr)
        self.assertIn(f"\r\nsec-Restrict-Tenant-Access-Policy: {h.V2_VALUE}", upstream.heads[-1])
        self.assertNotIn("evil", upstream.heads[-1])

        # A reload by a file change in the host folder (watch_files): a new policy id is inserted.
        new_value = h.V2_VALUE.split(":")[0] + ":2bbbbbb2-2bb2-3cc3-4dd4-5eeeeeeeeee5"
        # Written the way an operator's tools do (a new file renamed over the old).
        with open(config_path + ".new", "w") as f:
            f.write(config.replace(h.V2_VALUE.split(":")[1], new_value.split(":")[1]))
        os.rename(config_path + ".new", config_path)

        def new_policy_inserted():
            r = sign_in()
            self.assertEqual(r.returncode, 0, r.stderr)
            return f"\r\nsec-Restrict-Tenant-Access-Policy: {new_value}" in upstream.heads[-1] or None

        h.wait_until(new_policy_inserted, timeout=30, what="the new policy after the config file changed")
        self.assertIn('trproxy_config_reloads_total{result="success"}', admin("/metrics"))

        # The liveness probe became the container's healthcheck, and it passes (no curl needed).
        check = self.podman.run("inspect", "--format", "{{json .Config.Healthcheck}}", container).stdout
        self.assertIn("probe", check)
        r = self.podman.run("healthcheck", "run", container, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # ExecStop as the unit has it: the drop-in's pod stop (SIGTERM, drain, gone within the
        # grace period, exit 0 rather than a kill's 137), then kube down, which removes it. The log
        # is read after each command while the container still exists (following it raced the
        # removal on a busy machine: the tail with "draining" was lost).
        operational, exit_code = "", None
        for command in stop_commands:
            stop = subprocess.run(command, capture_output=True, text=True, env=self.podman.env, timeout=120)
            self.assertEqual(stop.returncode, 0, stop.stdout + stop.stderr)
            logs = self.podman.run("logs", container, check=False)
            if logs.returncode == 0:
                operational = logs.stdout + logs.stderr
                exit_code = self.podman.run("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
        self.assertIn("draining", operational)
        self.assertEqual(exit_code, "0", "the container was killed, not drained")
        self.assertNotEqual(self.podman.run("container", "exists", container, check=False).returncode, 0)
        self.assertIsNone(admin("/healthz"))


if __name__ == "__main__":
    unittest.main()
