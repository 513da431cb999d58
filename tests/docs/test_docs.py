"""The docs test: every shell block marked runnable in README.md and docs/*.md runs against the
binary, offline, so the commands the docs show cannot drift from what trproxy does.

The conventions are the docs' own (docs/README.md, "How these docs are tested"):
- ```sh runnable: run with `bash -euo pipefail` in a fresh temp folder laid out like a checkout
  after ./scripts/run.sh (config/trproxy.yaml and deploy/ as shipped, a CA in certs/ made by
  `trproxy ca init --dir certs`, `trproxy` on PATH and as build/trproxy); it must exit 0;
- ```sh runnable with-proxy: the same, while `trproxy --config config/trproxy.yaml` runs there;
- `# prints: TEXT` lines: the block's output (stdout and stderr together) has a line equal to
  each TEXT, in that order; a TEXT ending in `...` only has to start the line;
- 127.0.0.1:3128 and 127.0.0.1:9090 become free loopback ports, in the block and the config, so
  the suite runs beside others.
Besides, README.md stays within two screens (100 lines) and keeps the quick-start block CI reads,
and every relative link in README.md and docs/ leads to a file (and a heading) that exists.

TRPROXY_BIN names the binary (ctest sets it to this build's trproxy)."""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness as h  # noqa: E402  (free ports, bounded waits, sanitizer reports, TRPROXY)

README_MAX_LINES = 100  # two screens
BLOCK_TIMEOUT = 60.0  # seconds for one block; each is a few trproxy invocations
RUNNABLE = "runnable"
WITH_PROXY = "with-proxy"
PRINTS = re.compile(r"^\s*# prints: (.*?)\s*$")
# The ports the docs show (config/trproxy.yaml's listeners), replaced by free ones in the test.
DOC_PORTS = (3128, 9090)
# The Kubernetes CA folder is in .gitignore and may hold a developer's CA; a block makes its own.
LOCAL_ONLY = {os.path.join("deploy", "kubernetes", "base", "ca")}


def doc_files():
    """README.md and every Markdown file under docs/, as paths relative to the repository."""
    files = ["README.md"] + sorted(glob.glob("docs/**/*.md", root_dir=ROOT, recursive=True))
    return [f for f in files if os.path.isfile(os.path.join(ROOT, f))]


def read(relative):
    with open(os.path.join(ROOT, relative), encoding="utf-8") as f:
        return f.read()


class Block:
    """A fenced code block: where it starts, its info string's words, and its text (dedented
    by the fence's own indent, as in a list item)."""

    def __init__(self, path, line, info, text):
        self.path, self.line, self.info, self.text = path, line, info, text

    @property
    def runnable(self):
        return self.info[:1] == ["sh"] and RUNNABLE in self.info[1:]

    @property
    def with_proxy(self):
        return WITH_PROXY in self.info[1:]

    def expected_lines(self):
        return [m.group(1) for m in map(PRINTS.match, self.text.splitlines()) if m]

    def name(self):
        return f"{self.path}:{self.line}"


def fenced_blocks(path, text):
    """Every fenced code block of a Markdown text (backtick or tilde fences, any indent)."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^( *)(`{3,}|~{3,})(.*)$", lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, info = len(opening.group(1)), opening.group(2), opening.group(3).split()
        body, start = [], i + 1
        i += 1
        while i < len(lines) and not re.match(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]):
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
            i += 1
        blocks.append(Block(path, start, info, "\n".join(body) + "\n"))
        i += 1
    return blocks


def without_code(text):
    """The Markdown text without fenced blocks and inline code spans: what links can be in."""
    kept, fence = [], None
    for line in text.splitlines():
        opening = re.match(r"^ *(`{3,}|~{3,})", line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and re.match(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$", line):
            fence = None
        elif fence is None:
            kept.append(re.sub(r"`+[^`]*`+", "", line))
    return "\n".join(kept)


def github_slug(heading):
    """The anchor GitHub gives a heading: its text lower-cased, punctuation dropped (letters,
    digits, `_`, `-` and spaces stay), spaces as `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = text.replace("`", "").replace("*", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def heading_anchors(text):
    anchors, seen = set(), {}
    for line in without_code(text).splitlines():
        m = re.match(r"^#{1,6} +(.*?)#*\s*$", line)
        if m:
            slug = github_slug(m.group(1))
            count = seen.get(slug, 0)
            anchors.add(slug if count == 0 else f"{slug}-{count}")
            seen[slug] = count + 1
    return anchors


def relative_links(text):
    """The targets of the inline links [text](target) that are neither URLs nor mail addresses."""
    targets = re.findall(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", without_code(text))
    return [t for t in targets if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t)]


def with_free_ports(text, ports):
    for doc_port, port in ports.items():
        text = text.replace(f"127.0.0.1:{doc_port}", f"127.0.0.1:{port}")
    return text


def offline_environment(bin_dir):
    """The caller's environment with trproxy first on PATH and no proxy settings, so a block's
    curl to 127.0.0.1 goes nowhere else."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,::1,localhost"
    return env


class Checkout:
    """A temp folder laid out like a checkout after ./scripts/run.sh, with the docs' ports made
    free ones: config/, deploy/, certs/ (a fresh CA), build/trproxy and trproxy on PATH."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="trproxy-docs-")
        self.ports = dict(zip(DOC_PORTS, h.free_ports(len(DOC_PORTS))))
        os.makedirs(os.path.join(self.dir, "config"))
        with open(os.path.join(self.dir, "config", "trproxy.yaml"), "w") as f:
            f.write(with_free_ports(read(os.path.join("config", "trproxy.yaml")), self.ports))
        shutil.copytree(os.path.join(ROOT, "deploy"), os.path.join(self.dir, "deploy"),
                        ignore=self._leave_out_local_only)
        bin_dir = os.path.join(self.dir, ".bin")
        for folder in (bin_dir, os.path.join(self.dir, "build")):
            os.makedirs(folder)
            os.symlink(os.path.abspath(h.TRPROXY), os.path.join(folder, "trproxy"))
        self.env = offline_environment(bin_dir)
        r = h.run_trproxy("ca", "init", "--dir", os.path.join(self.dir, "certs"))
        if r.returncode != 0:
            raise AssertionError(f"trproxy ca init failed ({r.returncode}): {r.stderr}")

    def _leave_out_local_only(self, folder, names):
        relative = os.path.relpath(folder, ROOT)
        return [n for n in names if os.path.join(relative, n) in LOCAL_ONLY]

    def admin_url(self, path):
        return f"http://127.0.0.1:{self.ports[9090]}{path}"

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class RunningProxy:
    """`trproxy --config config/trproxy.yaml` in a checkout, as ./scripts/run.sh leaves it,
    ready once its /readyz answers 200 (polled, within the harness's deadline)."""

    def __init__(self, checkout):
        self.checkout = checkout
        self.log_path = os.path.join(checkout.dir, "trproxy.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([h.TRPROXY, "--config", "config/trproxy.yaml"], cwd=checkout.dir,
                                     env=checkout.env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            h.wait_until(self._ready, what="trproxy /readyz answering 200")
        except BaseException:
            self.stop()
            raise

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"trproxy exited with {self.proc.returncode} before it was ready:\n"
                                 f"{self.output()}")
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with no_proxy.open(self.checkout.admin_url("/readyz"), timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM, then the harness's deadline for the drain; its output for the report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=h.DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"trproxy did not exit within {h.DEADLINE}s of SIGTERM")
        self.log.close()
        return self.output()


def run_block(block, checkout):
    """Runs the block's text in the checkout; returns (exit code, output)."""
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", with_free_ports(block.text, checkout.ports)],
                            cwd=checkout.dir, env=checkout.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=BLOCK_TIMEOUT * h.TIME_SCALE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the block's whole process group, background jobs too
        output, _ = proc.communicate()
        raise AssertionError(f"{block.name()}: still running after {BLOCK_TIMEOUT}s; output:\n{output}")
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the block left running in the background
    except ProcessLookupError:
        pass
    return proc.returncode, output


ELISION = "..."  # a `# prints:` text ending in it matches the lines it starts


def line_matches(want, line):
    if want.endswith(ELISION):
        return line.startswith(want[:-len(ELISION)])
    return line == want


def missing_in_order(expected, output):
    """The first expected line not found after the line that matched the previous one, or None."""
    lines = [line.rstrip() for line in output.splitlines()]
    position = 0
    for want in expected:
        found = next((i for i in range(position, len(lines)) if line_matches(want, lines[i])), None)
        if found is None:
            return want
        position = found + 1
    return None


class RunnableBlocks(unittest.TestCase):
    """One test per runnable block (added below), named by its file and line."""

    def check_block(self, block):
        checkout = Checkout()
        self.addCleanup(checkout.close)
        proxy = RunningProxy(checkout) if block.with_proxy else None
        try:
            code, output = run_block(block, checkout)
        finally:
            proxy_output = proxy.stop() if proxy else ""
        context = f"{block.name()}:\n{block.text}\n--- output ---\n{output}"
        if proxy_output:
            context += f"\n--- trproxy --config config/trproxy.yaml ---\n{proxy_output}"
        for text in (output, proxy_output):
            report = h.sanitizer_report(text)
            self.assertIsNone(report, f"sanitizer report in {context}")
        self.assertEqual(code, 0, f"exit {code} from {context}")
        expected = [with_free_ports(line, checkout.ports) for line in block.expected_lines()]
        missing = missing_in_order(expected, output)
        self.assertIsNone(missing, f"no line {missing!r} (in order) in the output of {context}")


def runnable_blocks():
    return [b for path in doc_files() for b in fenced_blocks(path, read(path)) if b.runnable]


def add_block_tests():
    for block in runnable_blocks():
        name = "test_" + re.sub(r"\W", "_", block.path) + f"_line_{block.line}"
        setattr(RunnableBlocks, name, lambda self, block=block: self.check_block(block))


add_block_tests()


class Docs(unittest.TestCase):
    def test_readme_fits_on_two_screens(self):
        lines = read("README.md").splitlines()
        self.assertLessEqual(len(lines), README_MAX_LINES,
                             f"README.md has {len(lines)} lines; the reference belongs in docs/")

    def test_readme_keeps_the_quick_start_commands(self):
        """CI and people read these two lines from under this heading."""
        text = read("README.md")
        section = text.split("## Quick start (Debian 12)\n", 1)
        self.assertEqual(len(section), 2, "README.md lost its '## Quick start (Debian 12)' heading")
        first = fenced_blocks("README.md", section[1])[0]
        self.assertEqual(first.info, ["sh"])
        commands = [line.split("#", 1)[0].strip() for line in first.text.splitlines()]
        self.assertEqual(commands, ["./scripts/run.sh", "./scripts/test.sh"])

    def test_every_relative_link_resolves(self):
        broken = []
        for path in doc_files():
            folder = os.path.dirname(os.path.join(ROOT, path))
            for target in relative_links(read(path)):
                file_part, _, fragment = target.partition("#")
                resolved = os.path.normpath(os.path.join(folder, file_part)) if file_part else \
                    os.path.join(ROOT, path)
                if not os.path.exists(resolved):
                    broken.append(f"{path}: {target} (no {os.path.relpath(resolved, ROOT)})")
                elif fragment and resolved.endswith(".md"):
                    with open(resolved, encoding="utf-8") as f:
                        if fragment not in heading_anchors(f.read()):
                            broken.append(f"{path}: {target} (no heading #{fragment})")
        self.assertEqual(broken, [], "broken links:\n" + "\n".join(broken))

    def test_runnable_blocks_are_found(self):
        """The marker is spelled the way the test looks for it: a typo would skip a block."""
        blocks = runnable_blocks()
        self.assertGreater(len(blocks), 0)
        misspelt = [b.name() for path in doc_files() for b in fenced_blocks(path, read(path))
                    if any(w.startswith("run") and w != RUNNABLE for w in b.info[1:])
                    or (b.runnable and set(b.info[2:]) - {WITH_PROXY})]
        self.assertEqual(misspelt, [], "blocks with an unknown marker")


if __name__ == "__main__":
    unittest.main()
