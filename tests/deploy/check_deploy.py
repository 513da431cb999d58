#!/usr/bin/env python3
"""Checks what can be checked of the deployment files without a container engine or a
cluster: the Dockerfile builds from the project's one package list and installs at run time
exactly the Debian packages that own the libraries the built binary links; the Kubernetes
manifests parse and carry the probes, security context and objects the operations contract
needs; the ConfigMap's trproxy.yaml passes `trproxy --check`; the systemd unit is hardened."""

import copy
import json
import os
import re
import shutil
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


def package_sections():
    """packages.txt as {section: [package, ...]}."""
    sections, section = {}, None
    for line in read("packages.txt").splitlines():
        m = re.match(r"# \[(\w+)\]", line)
        if m:
            section = m.group(1)
            sections[section] = []
        elif line and not line.startswith("#"):
            sections[section].append(line)
    return sections


def project_version():
    return re.search(r"project\(trproxy VERSION (\S+)", read("CMakeLists.txt")).group(1)


class Dockerfile(unittest.TestCase):
    text = read("Dockerfile")
    build_stage, runtime_stage = text.split("FROM ${BASE_IMAGE} AS build\n", 1)[1].split("FROM ${BASE_IMAGE}\n", 1)

    def test_base_is_pinned_by_digest_and_overridable(self):
        self.assertRegex(self.text, r"\nARG BASE_IMAGE=debian:bookworm-slim@sha256:[0-9a-f]{64}\n")

    def test_builds_from_the_package_list_with_the_project_scripts(self):
        # The package layer comes before the sources, so a source change keeps it.
        packages = self.build_stage.index("RUN ./scripts/setup.sh build")
        self.assertLess(self.build_stage.index("COPY packages.txt /src/"), packages)
        self.assertLess(self.build_stage.index("COPY scripts/setup.sh /src/scripts/"), packages)
        self.assertLess(packages, self.build_stage.index("COPY . /src"))
        self.assertIn("--mount=type=cache,id=trproxy-ccache,target=/root/.cache/ccache", self.build_stage)
        # Release: the binary is stripped, so RelWithDebInfo's debug info would be compiled for nothing.
        self.assertRegex(self.build_stage, r"\./scripts/build\.sh -DCMAKE_BUILD_TYPE=Release \\\n\s+-DTRPROXY_TESTS=OFF "
                                           r"-DTRPROXY_BENCH=OFF")
        self.assertIn("install -D --strip build/trproxy /out/trproxy", self.build_stage)

    def test_the_build_stage_gives_one_binary_that_a_build_context_can_replace(self):
        # tests/container passes the packaged binary as `--build-context build=DIR` (DIR/out/trproxy):
        # the runtime stage must take nothing else from the build stage.
        self.assertEqual(re.findall(r"COPY --from=(\S+) (\S+)", self.runtime_stage), [("build", "/out/trproxy")])
        self.assertIn('binary = ["--build-context", f"build={packaged_binary(cls.work)}"]',
                      read(os.path.join("tests", "container", "test_container.py")))

    def test_runtime_packages_are_exactly_what_the_binary_links(self):
        self.assertIn("/tmp/setup/scripts/setup.sh runtime", self.runtime_stage)
        runtime = package_sections()["runtime"]
        self.assertEqual(set(runtime) - {"ca-certificates"}, linked_packages(TRPROXY),
                         "packages.txt [runtime] must list exactly the packages of the libraries trproxy links")
        self.assertIn("ca-certificates", runtime)  # upstream.trust: system

    def test_oci_labels(self):
        for label in ("title", "description", "version", "base.name"):
            self.assertIn(f"org.opencontainers.image.{label}=", self.runtime_stage)
        self.assertIn(f"ARG VERSION={project_version()}\n", self.runtime_stage)

    def test_runs_unprivileged_with_mounted_config_and_health_check(self):
        self.assertRegex(self.runtime_stage, r"\nUSER 10001:10001\n")
        self.assertIn("--gid 10001", self.runtime_stage)
        self.assertIn("EXPOSE 3128 9090", self.text)
        self.assertIn("HEALTHCHECK", self.text)
        self.assertIn('"probe", "http://127.0.0.1:9090/healthz"', self.text)  # no shell needed
        self.assertIn('CMD ["--config", "/etc/trproxy/config/trproxy.yaml"]', self.text)
        self.assertNotRegex(self.text, r"COPY .*ca\.key")
        ignored = read(".dockerignore").split()
        for secret in ("certs/ca.key", "ca/", ".git", "build*/"):
            self.assertIn(secret, ignored)

    def test_every_build_package_is_listed(self):
        build = package_sections()["build"]
        for package in ("libboost1.81-dev", "libssl-dev", "libyaml-cpp-dev", "libspdlog-dev"):
            self.assertIn(package, build)


class ContainerConfig(unittest.TestCase):
    """deploy/container/trproxy.yaml as docs/deployment.md mounts it (config/ read-only, ca/ beside it)."""
    config = yaml.safe_load(read("deploy/container/trproxy.yaml"))

    def test_listens_on_all_addresses_and_admin_where_the_healthcheck_asks(self):
        self.assertEqual(self.config["listen"], "0.0.0.0:3128")
        self.assertEqual(self.config["admin"]["listen"], "0.0.0.0:9090")

    def test_ca_paths_resolve_inside_the_ca_mount(self):
        for key in ("cert", "key"):
            resolved = os.path.normpath(os.path.join("/etc/trproxy/config", self.config["ca"][key]))
            self.assertTrue(resolved.startswith("/etc/trproxy/ca/"), resolved)

    def test_drain_fits_docker_stop(self):
        seconds = lambda text: int(text.rstrip("s"))  # noqa: E731
        limits = self.config["limits"]
        self.assertLessEqual(seconds(limits["drain_delay"]) + seconds(limits["shutdown_grace"]), 10)

    def test_passes_check_with_a_group_readable_key(self):
        with tempfile.TemporaryDirectory() as folder:
            config_dir = os.path.join(folder, "config")
            shutil.copytree(os.path.join(ROOT, "deploy", "container"), config_dir)
            ca_dir = os.path.join(folder, "ca")
            r = subprocess.run([TRPROXY, "ca", "init", "--dir", ca_dir, "--group", str(os.getegid())],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("key mode 0640", r.stdout)
            r = subprocess.run([TRPROXY, "--config", os.path.join(config_dir, "trproxy.yaml"), "--check"],
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


@unittest.skipUnless(os.geteuid() == 0, "giving a file another group and switching users needs root")
class CaKeyGroup(unittest.TestCase):
    """`ca init --group 10001`: the image's user (10001:10001) reads the key, another user does not."""

    def check_as(self, uid, gid, config):
        return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", TRPROXY,
                               "--config", config, "--check"], capture_output=True, text=True)

    def test_the_container_user_reads_the_key_and_no_one_else(self):
        with tempfile.TemporaryDirectory() as folder:
            os.chmod(folder, 0o755)
            shutil.copytree(os.path.join(ROOT, "deploy", "container"), os.path.join(folder, "config"))
            ca_dir = os.path.join(folder, "ca")
            r = subprocess.run([TRPROXY, "ca", "init", "--dir", ca_dir, "--group", "10001"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            key = os.stat(os.path.join(ca_dir, "ca.key"))
            self.assertEqual((key.st_mode & 0o777, key.st_uid, key.st_gid), (0o640, 0, 10001))
            os.chmod(ca_dir, 0o755)
            config = os.path.join(folder, "config", "trproxy.yaml")
            allowed = self.check_as(10001, 10001, config)
            self.assertEqual(allowed.returncode, 0, allowed.stderr)
            refused = self.check_as(10002, 10002, config)
            self.assertEqual(refused.returncode, 2)
            self.assertIn("ca.key", refused.stderr)
            self.assertIn("cannot read", refused.stderr)

    def test_an_unknown_group_name_is_a_usage_error_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as folder:
            ca_dir = os.path.join(folder, "ca")
            r = subprocess.run([TRPROXY, "ca", "init", "--dir", ca_dir, "--group", "no-such-group-here"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn('--group "no-such-group-here"', r.stderr)
            self.assertFalse(os.path.exists(os.path.join(ca_dir, "ca.key")))


def seconds(duration):
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def render_kustomization(path):
    """The objects `kubectl kustomize deploy/kubernetes/PATH` makes, offline: the tree copied to a
    temporary folder with a CA made by `trproxy ca init --config` where the base expects it."""
    with tempfile.TemporaryDirectory() as folder:
        tree = os.path.join(folder, "kubernetes")
        shutil.copytree(os.path.join(ROOT, "deploy", "kubernetes"), tree,
                        ignore=shutil.ignore_patterns("ca"))
        subprocess.run([TRPROXY, "ca", "init", "--dir", os.path.join(tree, "base", "ca"), "--config",
                        os.path.join(tree, "base", "trproxy.yaml")], check=True, capture_output=True)
        r = subprocess.run(["kubectl", "kustomize", os.path.join(tree, path)], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"kubectl kustomize {path} failed:\n{r.stderr}")
        return [d for d in yaml.safe_load_all(r.stdout) if d]


def by_kind_of(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def config_passes_check(test, config_text, *expected):
    """--check loads the CA exactly as a start does: give it one where the Secret would be."""
    with tempfile.TemporaryDirectory() as folder:
        ca_dir = make_ca(folder)
        path = os.path.join(folder, "trproxy.yaml")
        with open(path, "w") as f:
            f.write(config_text.replace("/etc/trproxy/ca/", ca_dir + "/"))
        r = subprocess.run([TRPROXY, "--config", path, "--check"], capture_output=True, text=True)
    test.assertEqual(r.returncode, 0, r.stderr)
    for line in expected:
        test.assertIn(line, r.stdout)


OVERLAYS = ("overlays/proxy-protocol", "overlays/transparent-gateway")


class Kubernetes(unittest.TestCase):
    """The Kustomize base, rendered (deploy/kubernetes/base)."""
    docs = render_kustomization("base")
    by_kind = by_kind_of(docs)
    deployment = by_kind["Deployment"][0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    config = yaml.safe_load(by_kind["ConfigMap"][0]["data"]["trproxy.yaml"])
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    def service(self, name):
        return next(s for s in self.by_kind["Service"] if s["metadata"]["name"] == name)

    def test_all_objects_are_there_and_named(self):
        for kind in ("ConfigMap", "Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler", "ServiceMonitor"):
            self.assertIn(kind, self.by_kind)
            for d in self.by_kind[kind]:
                self.assertTrue(d["metadata"]["name"])
        # The CA Secret comes from the operator's files (secretGenerator): no placeholder in the tree.
        secret = self.by_kind["Secret"][0]
        self.assertEqual((secret["metadata"]["name"], secret["type"]), ("trproxy-ca", "kubernetes.io/tls"))
        self.assertEqual(set(secret["data"]), {"tls.crt", "tls.key"})
        self.assertFalse(os.path.exists(os.path.join(ROOT, "deploy", "kubernetes", "base", "ca", "ca.key"))
                         and "deploy/kubernetes/base/ca/" not in read(".gitignore"))

    def test_the_ca_secret_is_readable_by_the_pod_user_only(self):
        context = self.pod["securityContext"]
        self.assertTrue(context["runAsNonRoot"])
        self.assertEqual(context["fsGroup"], context["runAsGroup"])
        volume = next(v for v in self.pod["volumes"] if v["name"] == "ca")["secret"]
        self.assertEqual(volume["defaultMode"], 0o440)  # group-readable: the kubelet gives it fsGroup
        self.assertIs(volume["optional"], False)  # a pod never starts without its CA
        self.assertEqual({i["key"]: i["path"] for i in volume["items"]}, {"tls.crt": "ca.crt", "tls.key": "ca.key"})
        mount = next(m for m in self.container["volumeMounts"] if m["name"] == "ca")["mountPath"]
        self.assertEqual(self.config["ca"]["key"], mount + "/ca.key")

    def test_deployment_is_probed_locked_down_and_scaled_by_the_hpa(self):
        self.assertNotIn("replicas", self.deployment["spec"])  # the HPA owns the count
        hpa = self.by_kind["HorizontalPodAutoscaler"][0]["spec"]
        self.assertEqual(hpa["scaleTargetRef"]["name"], self.deployment["metadata"]["name"])
        self.assertGreaterEqual(hpa["minReplicas"], 2)
        self.assertIs(self.pod["automountServiceAccountToken"], False)
        self.assertEqual(self.container["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "admin"})
        self.assertEqual(self.container["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "admin"})
        self.assertTrue(self.container["securityContext"]["readOnlyRootFilesystem"])
        self.assertFalse(self.container["securityContext"]["allowPrivilegeEscalation"])
        self.assertEqual({p["name"]: p["containerPort"] for p in self.container["ports"]}, {"proxy": 3128, "admin": 9090})
        self.assertEqual(self.config["admin"]["listen"], "0.0.0.0:9090")
        spread = {c["topologyKey"]: c for c in self.pod["topologySpreadConstraints"]}
        self.assertEqual(spread["kubernetes.io/hostname"]["labelSelector"]["matchLabels"], self.pod_labels)

    def test_threads_follow_the_cpu_limit(self):
        self.assertEqual(self.config["threads"], 0)
        self.assertIn("cpu", self.container["resources"]["limits"])

    def test_rolling_update_drains_after_endpoint_propagation(self):
        limits = self.config["limits"]
        self.assertGreaterEqual(seconds(limits["drain_delay"]), 10)
        self.assertGreater(self.pod["terminationGracePeriodSeconds"],
                           seconds(limits["drain_delay"]) + seconds(limits["shutdown_grace"]))
        self.assertEqual(self.deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)

    def test_config_and_ca_are_folder_mounts_so_updates_reach_the_pod(self):
        # subPath mounts never see the kubelet's symlink swap; folders do (watch_files).
        for mount in self.container["volumeMounts"]:
            self.assertNotIn("subPath", mount)

    def test_metrics_are_never_on_the_client_facing_service(self):
        self.assertEqual([p["port"] for p in self.service("trproxy")["spec"]["ports"]], [3128])
        admin = self.service("trproxy-admin")
        self.assertEqual([p["port"] for p in admin["spec"]["ports"]], [9090])
        self.assertEqual(admin["spec"]["type"], "ClusterIP")
        monitor = self.by_kind["ServiceMonitor"][0]["spec"]
        self.assertEqual(monitor["selector"]["matchLabels"], admin["metadata"]["labels"])
        self.assertNotEqual(monitor["selector"]["matchLabels"], self.service("trproxy")["metadata"]["labels"])
        self.assertEqual(monitor["endpoints"][0]["port"], "admin")
        self.assertEqual(monitor["endpoints"][0]["path"], "/metrics")

    def test_network_policy_admits_clients_to_3128_and_monitoring_to_9090(self):
        policy = self.by_kind["NetworkPolicy"][0]["spec"]
        self.assertEqual(policy["podSelector"]["matchLabels"], self.pod_labels)
        ingress = {tuple(p["port"] for p in rule["ports"]): rule["from"] for rule in policy["ingress"]}
        self.assertEqual(set(ingress), {(3128,), (9090,)})
        self.assertTrue(all("namespaceSelector" in peer for peer in ingress[(9090,)]))
        self.assertEqual(set(policy["policyTypes"]), {"Ingress", "Egress"})

    def test_configmap_config_passes_trproxy_check(self):
        config_passes_check(self, self.by_kind["ConfigMap"][0]["data"]["trproxy.yaml"],
                            "mode: tenant restrictions v2")

    def test_generated_names_are_stable_so_updates_reload_in_place(self):
        # No content hash: the mounted files change under the same names and pods reload (watch_files).
        self.assertEqual(self.by_kind["ConfigMap"][0]["metadata"]["name"], "trproxy-config")
        self.assertEqual(self.by_kind["Secret"][0]["metadata"]["name"], "trproxy-ca")


class KubernetesOverlays(unittest.TestCase):
    """The overlays, rendered: behind a PROXY-protocol load balancer, and as a transparent gateway."""

    @classmethod
    def setUpClass(cls):
        cls.rendered = {path: by_kind_of(render_kustomization(path)) for path in OVERLAYS}

    def test_proxy_protocol_overlay_trusts_the_balancer_and_exposes_an_internal_load_balancer(self):
        objects = self.rendered["overlays/proxy-protocol"]
        service = next(s for s in objects["Service"] if s["metadata"]["name"] == "trproxy")
        self.assertEqual(service["spec"]["type"], "LoadBalancer")
        self.assertEqual(service["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-proxy-protocol"],
                         "*")
        admin = next(s for s in objects["Service"] if s["metadata"]["name"] == "trproxy-admin")
        self.assertEqual(admin["spec"]["type"], "ClusterIP")  # the admin port stays inside
        config = objects["ConfigMap"][0]["data"]["trproxy.yaml"]
        self.assertTrue(yaml.safe_load(config)["proxy_protocol"]["trusted"])
        config_passes_check(self, config, "PROXY protocol from: 10.0.0.0/8")

    def test_transparent_gateway_overlay_is_a_host_network_daemonset_with_net_admin_only(self):
        objects = self.rendered["overlays/transparent-gateway"]
        self.assertEqual(set(objects), {"ConfigMap", "Secret", "DaemonSet"})
        pod = objects["DaemonSet"][0]["spec"]["template"]["spec"]
        self.assertIs(pod["hostNetwork"], True)
        self.assertEqual(pod["dnsPolicy"], "ClusterFirstWithHostNet")
        self.assertEqual(pod["nodeSelector"], {"trproxy.io/gateway": "true"})
        container = pod["containers"][0]
        self.assertEqual(container["securityContext"]["capabilities"], {"drop": ["ALL"], "add": ["NET_ADMIN"]})
        self.assertNotIn("ports", container)  # host network: nothing to publish
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(container[probe]["exec"]["command"][:2], ["trproxy", "probe"])  # no curl in the image
        self.assertIs(next(v for v in pod["volumes"] if v["name"] == "ca")["secret"]["optional"], False)
        config = objects["ConfigMap"][0]["data"]["trproxy.yaml"]
        parsed = yaml.safe_load(config)
        self.assertEqual(parsed["admin"]["listen"], "127.0.0.1:9090")  # never on the LAN
        config_passes_check(self, config, "transparent listeners: 0.0.0.0:3129, [::]:3129 (method redirect)",
                            "upstream mark: 2")


SCHEMAS = os.path.join(ROOT, "tests", "deploy", "kubernetes-schemas")


class KubernetesSchemas(unittest.TestCase):
    """Every object against the Kubernetes OpenAPI schemas (npm kubernetes-models, installed
    with `npm ci` from the committed lock into a folder of this test), unknown fields refused."""

    @classmethod
    def setUpClass(cls):
        cls.work = os.environ.get("TRPROXY_NPM_DIR") or tempfile.mkdtemp(prefix="trproxy-k8s-schemas-")
        os.makedirs(cls.work, exist_ok=True)
        for name in ("package.json", "package-lock.json", "validate.mjs"):
            shutil.copy(os.path.join(SCHEMAS, name), cls.work)
        stamp = os.path.join(cls.work, "node_modules", ".trproxy-lock")
        lock = read("tests/deploy/kubernetes-schemas/package-lock.json")
        if not os.path.exists(stamp) or open(stamp).read() != lock:
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=cls.work,
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise AssertionError(f"npm ci failed:\n{r.stdout}\n{r.stderr}")
            with open(stamp, "w") as f:
                f.write(lock)

    def validate(self, docs):
        docs = copy.deepcopy(docs)
        for doc in docs:
            # Kustomize wraps a Secret's base64 at 76 columns; the API server's decoder (Go's
            # encoding/base64) skips the newlines, the schema's "byte" format does not.
            if doc.get("kind") == "Secret":
                doc["data"] = {k: v.replace("\n", "") for k, v in doc.get("data", {}).items()}
        r = subprocess.run(["node", os.path.join(self.work, "validate.mjs")], input=json.dumps(docs),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.stderr, "")
        return r.returncode, r.stdout.splitlines()

    def test_every_object_is_valid(self):
        for path in ("base",) + OVERLAYS:
            with self.subTest(kustomization=path):
                docs = Kubernetes.docs if path == "base" else render_kustomization(path)
                code, lines = self.validate(docs)
                self.assertEqual(code, 0, "\n".join(lines))
                self.assertEqual(len(lines), len(docs))
                self.assertTrue(all(line.startswith("OK ") for line in lines), lines)

    def test_the_podman_pod_is_a_valid_pod(self):
        """deploy/podman/trproxy-pod.yaml is played by podman in tests/container; here it is held
        to the Kubernetes Pod schema too, so it stays a pod any kube tooling reads."""
        docs = list(yaml.safe_load_all(read("deploy/podman/trproxy-pod.yaml")))
        self.assertEqual([doc["kind"] for doc in docs], ["Pod"])
        code, lines = self.validate(docs)
        self.assertEqual((code, len(lines)), (0, 1), "\n".join(lines))
        self.assertTrue(lines[0].startswith("OK "), lines)

    def test_negative_controls_are_refused(self):
        def broken(change):
            docs = copy.deepcopy(Kubernetes.docs)
            deployment = next(d for d in docs if d["kind"] == "Deployment")
            change(deployment)
            return [deployment]

        cases = [
            (lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicyy="Always"),
             "unknown field /spec/template/spec/containers/0/imagePullPolicyy"),
            (lambda d: d["spec"].update(replicas="2"), "spec/replicas must be integer"),
            (lambda d: d["spec"].pop("selector"), "spec must have required property selector"),
            (lambda d: d.update(kind="Deploymnet"), "no schema for apps/v1 Deploymnet"),
        ]
        for change, why in cases:
            code, lines = self.validate(broken(change))
            self.assertEqual(code, 1, lines)
            self.assertTrue(lines[0].startswith("INVALID "), lines)
            self.assertIn(why, lines[0])
        monitor = copy.deepcopy(Kubernetes.by_kind["ServiceMonitor"][0])
        monitor["spec"]["endpoints"][0]["intervall"] = "30s"
        code, lines = self.validate([monitor])
        self.assertEqual(code, 1)
        self.assertIn("unknown field /spec/endpoints/0/intervall", lines[0])


def make_ca(folder):
    ca_dir = os.path.join(folder, "ca")
    subprocess.run([TRPROXY, "ca", "init", "--dir", ca_dir], check=True, capture_output=True)
    return ca_dir


class Systemd(unittest.TestCase):
    text = read("deploy/systemd/trproxy.service.in")

    def test_unit_notifies_checks_before_reload_and_does_not_loop_on_a_bad_config(self):
        self.assertIn("\nType=notify\n", self.text)
        self.assertIn("\nNotifyAccess=main\n", self.text)
        check = "@BINDIR@/trproxy --config @SYSCONFDIR@/trproxy/trproxy.yaml --check"
        self.assertIn(f"ExecStartPre={check}\n", self.text)
        # The check runs first: systemd runs ExecReload= lines in order and stops at a failure.
        self.assertLess(self.text.index(f"ExecReload={check}\n"), self.text.index("ExecReload=/bin/kill -HUP $MAINPID\n"))
        self.assertIn("\nRestartPreventExitStatus=2\n", self.text)

    def test_unit_runs_unprivileged_and_hardened(self):
        for setting in ("User=trproxy", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=",
                        "PrivateTmp=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "ProtectProc=invisible"):
            self.assertIn(setting + "\n", self.text)

    def test_fragments_name_the_same_user_and_folders(self):
        self.assertRegex(read("deploy/systemd/trproxy.sysusers"), r"(?m)^u trproxy - ")
        tmpfiles = read("deploy/systemd/trproxy.tmpfiles")
        self.assertIn("d /etc/trproxy/ca 0750 root trproxy -", tmpfiles)
        self.assertIn("d /var/log/trproxy 0750 trproxy trproxy -", tmpfiles)
        logrotate = read("deploy/systemd/trproxy.logrotate")
        self.assertIn("/var/log/trproxy/*.log", logrotate)
        self.assertIn("--signal=SIGUSR1 trproxy.service", logrotate)

    def test_packaged_config_passes_check_with_the_ca_beside_it(self):
        with tempfile.TemporaryDirectory() as folder:
            shutil.copy(os.path.join(ROOT, "deploy", "debian", "trproxy.yaml"), folder)
            make_ca(folder)
            r = subprocess.run([TRPROXY, "--config", os.path.join(folder, "trproxy.yaml"), "--check"],
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

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
