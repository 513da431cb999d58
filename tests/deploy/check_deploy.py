#!/usr/bin/env python3
"""Checks what can be checked of the deployment files without a container engine or a
cluster: the Dockerfile builds from the project's one package list and installs at run time
exactly the Debian packages that own the libraries the built binary links; the Kubernetes
manifests parse and carry the probes, security context and objects the operations contract
needs; the ConfigMap's trproxy.yaml passes `trproxy --check`; the systemd unit is hardened."""

import os
import shutil
import re
import subprocess
import sys
import tempfile
import unittest

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TRPROXY = os.environ.get("TRPROXY_BIN", os.path.join(ROOT, "build", "trproxy"))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def linked_packages(binary):
    """Debian packages owning the shared libraries `binary` links (libc/libstdc++ aside)."""
    packages = set()
    for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.search(r"=> (/\S+)", line)
        if not m:
            continue
        real = os.path.realpath(m.group(1))
        owner = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", m.group(1)], capture_output=True, text=True)
        package = owner.stdout.split(":")[0]
        if package not in ("libc6", "libstdc++6", "libgcc-s1"):
            packages.add(package)
    return packages


class Dockerfile(unittest.TestCase):
    text = read("Dockerfile")

    def test_builds_from_the_package_list_with_the_project_scripts(self):
        self.assertIn("COPY packages.txt scripts/setup.sh", self.text)
        self.assertIn("./scripts/setup.sh build", self.text)
        self.assertIn("./scripts/build.sh", self.text)
        self.assertRegex(self.text, r"FROM debian:bookworm-slim AS build")

    def test_runtime_packages_are_exactly_what_the_binary_links(self):
        runtime = self.text.split("FROM debian:bookworm-slim\n", 1)[1]
        install = re.search(r"apt-get install -y --no-install-recommends ([^\\&]+)", runtime).group(1).split()
        self.assertEqual(set(install) - {"ca-certificates"}, linked_packages(TRPROXY))
        self.assertIn("ca-certificates", install)  # upstream.trust: system

    def test_runs_unprivileged_with_mounted_config_and_health_check(self):
        self.assertRegex(self.text, r"\nUSER 10001")
        self.assertIn("EXPOSE 3128 9090", self.text)
        self.assertIn("HEALTHCHECK", self.text)
        self.assertIn("/healthz", self.text)
        self.assertNotRegex(self.text, r"COPY .*ca\.key")
        self.assertIn("certs/ca.key", read(".dockerignore"))

    def test_every_build_package_is_listed(self):
        listed = [l for l in read("packages.txt").splitlines() if l and not l.startswith("#")]
        for package in ("libboost1.81-dev", "libssl-dev", "libyaml-cpp-dev", "libspdlog-dev"):
            self.assertIn(package, listed)


class Kubernetes(unittest.TestCase):
    docs = [d for d in yaml.safe_load_all(read("deploy/kubernetes/trproxy.yaml")) if d]
    by_kind = {d["kind"]: d for d in docs}

    def test_all_objects_are_there_and_named(self):
        for kind in ("ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler"):
            self.assertIn(kind, self.by_kind)
            self.assertTrue(self.by_kind[kind]["metadata"]["name"])
            self.assertIn("apiVersion", self.by_kind[kind])

    def test_deployment_is_replicated_probed_and_locked_down(self):
        spec = self.by_kind["Deployment"]["spec"]
        self.assertGreaterEqual(spec["replicas"], 2)
        pod = spec["template"]["spec"]
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        container = pod["containers"][0]
        self.assertEqual(container["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(container["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertIn("requests", container["resources"])
        self.assertTrue(container["securityContext"]["readOnlyRootFilesystem"])
        self.assertFalse(container["securityContext"]["allowPrivilegeEscalation"])
        ports = {p["containerPort"] for p in container["ports"]}
        self.assertEqual(ports, {3128, 9090})
        self.assertEqual(self.by_kind["Service"]["spec"]["ports"][0]["port"], 3128)
        self.assertEqual(self.by_kind["HorizontalPodAutoscaler"]["spec"]["metrics"][0]["resource"]["name"], "cpu")

    def test_configmap_config_passes_trproxy_check(self):
        # --check loads the CA exactly as a start does: give it one where the Secret would be.
        config = self.by_kind["ConfigMap"]["data"]["trproxy.yaml"]
        with tempfile.TemporaryDirectory() as folder:
            ca_dir = make_ca(folder)
            path = os.path.join(folder, "trproxy.yaml")
            with open(path, "w") as f:
                f.write(config.replace("/etc/trproxy/ca/", ca_dir + "/"))
            r = subprocess.run([TRPROXY, "--config", path, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("mode: tenant restrictions v2", r.stdout)


def make_ca(folder):
    ca_dir = os.path.join(folder, "ca")
    subprocess.run([TRPROXY, "ca", "init", "--dir", ca_dir], check=True, capture_output=True)
    return ca_dir


class Systemd(unittest.TestCase):
    text = read("deploy/systemd/trproxy.service")

    def test_unit_runs_checked_config_unprivileged_and_hardened(self):
        self.assertIn("ExecStartPre=/usr/local/bin/trproxy --config /etc/trproxy/trproxy.yaml --check", self.text)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", self.text)
        for setting in ("User=trproxy", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=",
                        "PrivateTmp=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"):
            self.assertIn(setting, self.text)

    def test_default_config_passes_check(self):
        # The shipped config beside the CA scripts/run.sh makes (../certs/), in a scratch copy.
        with tempfile.TemporaryDirectory() as folder:
            os.makedirs(os.path.join(folder, "config"))
            shutil.copy(os.path.join(ROOT, "config", "trproxy.yaml"), os.path.join(folder, "config"))
            subprocess.run([TRPROXY, "ca", "init", "--dir", os.path.join(folder, "certs")], check=True,
                           capture_output=True)
            r = subprocess.run([TRPROXY, "--config", os.path.join(folder, "config", "trproxy.yaml"), "--check"],
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
