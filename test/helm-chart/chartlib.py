"""Shared helpers of the chart tests: rendering with helm-render, finding
objects, and a check() that prints what it verified and stops at the first
failure with a clear message."""

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


def run_main(main):
    """Runs main(checker); exits 1 with the failed check's message."""
    checker = Checker()
    try:
        main(checker)
    except CheckFailed as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
    print("all %d checks passed" % checker.passed)


def set_args(sets):
    args = []
    for s in sets:
        args += ["--set", s]
    return args


def render(helm_render, chart, sets=(), values_files=(), release=RELEASE, namespace=NAMESPACE,
           expect_failure=False):
    """Renders the chart; returns its documents (None ones dropped), or the
    error text when expect_failure."""
    cmd = [helm_render, "template", release, chart, "-n", namespace] + set_args(sets)
    for f in values_files:
        cmd += ["-f", f]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if expect_failure:
        if proc.returncode == 0:
            raise CheckFailed("rendering with %s succeeded but must fail" % " ".join(sets))
        return proc.stderr
    if proc.returncode != 0:
        raise CheckFailed("helm-render template %s failed: %s" % (" ".join(sets), proc.stderr.strip()))
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


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


def helm_render_path():
    """The helm-render binary: $HELM_RENDER, else built from the shared tool."""
    if os.environ.get("HELM_RENDER"):
        return os.environ["HELM_RENDER"]
    source = os.environ.get("CMOP_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.path.join(source, "..", "shared", "tools", "helm-render", "build.sh")
    proc = subprocess.run(["bash", build], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CheckFailed("building helm-render with %s failed: %s" % (build, proc.stderr.strip()))
    return proc.stdout.strip()


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


@contextlib.contextmanager
def schemaless_copy(chart):
    """A temporary copy of CHART without values.schema.json: helm-render cannot
    validate the schema (the tests do, with schema_check) and warns about it,
    which lint --strict would count as a failure."""
    with tempfile.TemporaryDirectory() as tmp:
        dst = os.path.join(tmp, os.path.basename(os.path.normpath(chart)))
        shutil.copytree(chart, dst)
        os.remove(os.path.join(dst, "values.schema.json"))
        yield dst


def lint_strict(helm_render, chart, sets=()):
    """Runs helm-render lint --strict; returns (passed, output)."""
    proc = subprocess.run([helm_render, "lint", chart, "--strict"] + set_args(sets), capture_output=True, text=True)
    return proc.returncode == 0, proc.stdout + proc.stderr
