"""Shared helpers of the chart tests: rendering and linting with a real Helm
client (Helm 3 or Helm 4, the one the test was started with), finding objects,
and a check() that prints what it verified and stops at the first failure with
a clear message naming the client."""

import atexit
import contextlib
import copy
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

RELEASE = "cmop"
NAMESPACE = "cmop"


class CheckFailed(Exception):
    pass


class Checker:
    def __init__(self):
        self.passed = 0

    def check(self, condition, what, detail=""):
        if not condition:
            raise CheckFailed(what + (": " + detail if detail else ""))
        self.passed += 1
        print("  ok: " + what)

    def section(self, title):
        print("== " + title)


def run_main(main, helm):
    """Runs main(checker); exits 1 with the failed check's message, naming the
    Helm client the checks ran with."""
    checker = Checker()
    client = client_name(helm)
    try:
        main(checker)
    except CheckFailed as e:
        print("FAIL (%s): %s" % (client, e), file=sys.stderr)
        sys.exit(1)
    print("all %d checks passed with %s" % (checker.passed, client))


_HOME = None


def helm_env():
    """The environment of every Helm run: HOME-independent cache, config and
    data folders of this process (never the user's repositories or plugins)."""
    global _HOME
    if _HOME is None:
        _HOME = tempfile.mkdtemp(prefix="cmop-chart-helm-")
        atexit.register(shutil.rmtree, _HOME, True)
    env = dict(os.environ)
    for var, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data")):
        env[var] = os.path.join(_HOME, sub)
    env["KUBECONFIG"] = os.path.join(_HOME, "no-kubeconfig")
    return env


def run_helm(helm, args, cwd=None):
    """Runs HELM ARGS...; returns the CompletedProcess (text)."""
    return subprocess.run([helm] + list(args), capture_output=True, text=True, env=helm_env(), cwd=cwd)


_VERSIONS = {}


def helm_version(helm):
    """The client's version, "v4.1.4"."""
    if helm not in _VERSIONS:
        proc = run_helm(helm, ["version", "--template", "{{.Version}}"])
        if proc.returncode != 0 or not proc.stdout.startswith("v"):
            raise CheckFailed("%s version failed: %s" % (helm, (proc.stderr or proc.stdout).strip()))
        _VERSIONS[helm] = proc.stdout.strip()
    return _VERSIONS[helm]


def client_name(helm):
    """"helm4 (v4.1.4)": the client's file name and version."""
    try:
        return "%s (%s)" % (os.path.basename(helm), helm_version(helm))
    except CheckFailed:
        return helm


def helm_major(helm):
    """3 or 4."""
    return int(helm_version(helm)[1:].split(".")[0])


def set_args(sets):
    args = []
    for s in sets:
        args += ["--set", s]
    return args


def render(helm, chart, sets=(), values_files=(), release=RELEASE, namespace=NAMESPACE,
           expect_failure=False):
    """`helm template` of the chart (values.schema.json validated, as for every
    user); returns its documents (None ones dropped), or the error text when
    expect_failure."""
    args = ["template", release, chart, "-n", namespace] + set_args(sets)
    for f in values_files:
        args += ["-f", f]
    proc = run_helm(helm, args)
    what = " ".join(list(sets) + ["-f %s" % f for f in values_files]) or "(defaults)"
    if expect_failure:
        if proc.returncode == 0:
            raise CheckFailed("helm template %s succeeded but must fail" % what)
        return proc.stderr
    if proc.returncode != 0:
        raise CheckFailed("helm template %s failed: %s" % (what, proc.stderr.strip()))
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


@contextlib.contextmanager
def values_file(values):
    """A temporary values file holding VALUES (a dict), for -f."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="values-") as f:
        yaml.safe_dump(values, f)
        f.flush()
        yield f.name


def objects(docs, kind, name=None):
    return [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs, kind, name=None):
    found = objects(docs, kind, name)
    if len(found) != 1:
        raise CheckFailed("expected exactly one %s%s, found %d" % (kind, " " + name if name else "", len(found)))
    return found[0]


def container(deployment, name):
    for c in deployment["spec"]["template"]["spec"]["containers"]:
        if c["name"] == name:
            return c
    raise CheckFailed("Deployment %s has no container %r" % (deployment["metadata"]["name"], name))


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def overlay(values, override):
    """A deep copy of VALUES with OVERRIDE merged over it (maps merged key by
    key, everything else replaced), as Helm merges values files."""
    out = copy.deepcopy(values)

    def merge(dst, src):
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = copy.deepcopy(v)
    merge(out, override)
    return out


def lint_strict(helm, chart, sets=()):
    """Runs helm lint --strict (which validates values.schema.json too);
    returns (passed, output)."""
    proc = run_helm(helm, ["lint", chart, "--strict"] + set_args(sets))
    return proc.returncode == 0, proc.stdout + proc.stderr


# NOTES.txt as Helm 3 can render it without a cluster: the same text as a named
# template, printed by helm template as the one key of a YAML document.
_NOTES_WRAPPER = """{{- define "cmop-test.notes" -}}
%s
{{- end -}}
"""
_NOTES_DOC = """notes: {{ include "cmop-test.notes" . | toJson }}
"""


def notes(helm, chart, sets=(), release=RELEASE, namespace=NAMESPACE):
    """The chart's NOTES.txt as the client renders it for an install.
    Helm 4: `helm install --dry-run=client` prints it, with no cluster. Helm
    3.17's install --dry-run=client still asks a cluster for its version, so
    there the same NOTES.txt is rendered by `helm template` in a copy of the
    chart where it is a named template (same engine, same values)."""
    if helm_major(helm) >= 4:
        proc = run_helm(helm, ["install", release, chart, "-n", namespace, "--dry-run=client"] + set_args(sets))
        if proc.returncode != 0:
            raise CheckFailed("helm install --dry-run=client %s failed: %s" % (" ".join(sets), proc.stderr.strip()))
        if "\nNOTES:\n" not in proc.stdout:
            raise CheckFailed("helm install --dry-run=client %s printed no NOTES" % " ".join(sets))
        return proc.stdout.split("\nNOTES:\n", 1)[1]
    with tempfile.TemporaryDirectory() as tmp:
        copy_dir = os.path.join(tmp, os.path.basename(os.path.normpath(chart)))
        shutil.copytree(chart, copy_dir)
        templates = os.path.join(copy_dir, "templates")
        with open(os.path.join(templates, "NOTES.txt")) as f:
            text = f.read()
        os.remove(os.path.join(templates, "NOTES.txt"))
        with open(os.path.join(templates, "_cmop_test_notes.tpl"), "w") as f:
            f.write(_NOTES_WRAPPER % text)
        with open(os.path.join(templates, "cmop-test-notes.yaml"), "w") as f:
            f.write(_NOTES_DOC)
        proc = run_helm(helm, ["template", release, copy_dir, "-n", namespace, "-s", "templates/cmop-test-notes.yaml"]
                        + set_args(sets))
        if proc.returncode != 0:
            raise CheckFailed("rendering NOTES.txt (%s) failed: %s" % (" ".join(sets), proc.stderr.strip()))
        return yaml.safe_load(proc.stdout)["notes"]
