#!/usr/bin/python3
"""Runs the `cmop serve` container the chart renders in
operator.serve.mode=deployment -- its args and env exactly, with secretKeyRefs
resolved from the rendered Secrets and only the listen address, the mounted
paths and the ChartMuseum host moved onto this machine -- and checks that it
becomes ready and publishes a chart from a real git repo: through a fake
ChartMuseum with basic auth, and into the real CNCF Distribution registry over
plain HTTP. The same runs with a wrong ChartMuseum password or without
operator.serve.oci.plainHTTP never get ready, so the wiring is what makes them
work. Usage: check_serve_runs.py HELM CHART_DIR CMOP_BINARY"""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chartlib import CheckFailed, container, objects, one, render, run_main  # noqa: E402

HELM, CHART, CMOP = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
SUPPORT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support")
TOKEN = "serve-runs-token"
SERVE = "cmop-chartmuseum-serve"
BASE = ["operator.enabled=true", "operator.serve.mode=deployment", "operator.token=" + TOKEN,
        "operator.serve.extraArgs={--allow-local-git}"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def http(method, url, body=None, token=None, timeout=60):
    """(status, parsed JSON or text) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            status, text = res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Processes:
    """Processes this test started, stopped (by their own pid) on exit."""

    def __init__(self, tmp):
        self.tmp, self.procs = tmp, []

    def start(self, argv, name, env=None):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.tmp)
        p.log_path = log.name
        self.procs.append(p)
        return p

    def stop(self, p, seconds=30):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(seconds)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def make_git_repo(tmp):
    repo = os.path.join(tmp, "charts-repo")
    chart = os.path.join(repo, "charts", "demo")
    os.makedirs(os.path.join(chart, "templates"))
    with open(os.path.join(chart, "Chart.yaml"), "w") as f:
        f.write("apiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: a chart published by the chart's serve Deployment\n")
    with open(os.path.join(chart, "templates", "configmap.yaml"), "w") as f:
        f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-demo\n")
    for argv in (["git", "init", "-q", "-b", "main", repo], ["git", "-C", repo, "add", "-A"],
                 ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "demo"]):
        subprocess.run(argv, check=True, capture_output=True)
    return "file://" + repo


def make_ca(tmp):
    """A real PEM CA certificate (cmop loads the bundle into its TLS contexts)."""
    pem = os.path.join(tmp, "made-ca.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cmop chart test CA",
                    "-keyout", os.path.join(tmp, "made-ca.key"), "-out", pem], check=True, capture_output=True)
    with open(pem) as f:
        return f.read()


def serve_command(docs, tmp, port, secrets_override=None, host_map=None, files=None):
    """argv and env of the rendered serve container, moved onto this machine:
    every volumeMount becomes a folder under TMP (FILES: {mount name: {file:
    text}} fill them), --listen becomes 127.0.0.1:PORT, HOST_MAP rewrites URL
    prefixes, secretKeyRefs are read from the rendered Secrets (or
    SECRETS_OVERRIDE {(name, key): value})."""
    dep = one(docs, "Deployment", SERVE)
    c = container(dep, "cmop")
    roots = {}
    for m in c["volumeMounts"]:
        local = os.path.join(tmp, "mounts", m["name"])
        os.makedirs(local, exist_ok=True)
        for name, text in (files or {}).get(m["name"], {}).items():
            with open(os.path.join(local, name), "w") as f:
                f.write(text)
        roots[m["mountPath"]] = local

    def local_path(value):
        for mount, local in sorted(roots.items(), key=lambda kv: -len(kv[0])):
            if value == mount or value.startswith(mount + "/"):
                return local + value[len(mount):]
        return value

    def moved(value):
        for prefix, to in (host_map or {}).items():
            if value.startswith(prefix):
                value = to + value[len(prefix):]
        return local_path(value)

    args = [moved(a) for a in c["args"]]
    args[args.index("--listen") + 1] = "127.0.0.1:%d" % port
    secrets = {}
    for s in objects(docs, "Secret"):
        for key, value in s.get("data", {}).items():
            secrets[(s["metadata"]["name"], key)] = base64.b64decode(value).decode()
    secrets.update(secrets_override or {})
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = moved(e["value"])
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            if (ref["name"], ref["key"]) not in secrets:
                raise CheckFailed("env %s needs Secret %s key %s, which nothing provides" % (e["name"], ref["name"], ref["key"]))
            env[e["name"]] = secrets[(ref["name"], ref["key"])]
    return [CMOP] + args, env


def wait_ready(port, seconds):
    """The last /readyz answer, after it is 200 or SECONDS have passed."""
    deadline = time.monotonic() + seconds
    answer = (0, "no answer")
    while time.monotonic() < deadline:
        try:
            answer = http("GET", "http://127.0.0.1:%d/readyz" % port, timeout=2)
        except (urllib.error.URLError, OSError) as e:
            answer = (0, str(e))
        if answer[0] == 200:
            return answer
        time.sleep(0.2)
    return answer


def run_serve(ck, procs, docs, tmp, label, expect_ready, publish_check=None, git_url=None, **kw):
    port = free_port()
    argv, env = serve_command(docs, os.path.join(tmp, label), port, **kw)
    p = procs.start(argv, "serve-" + label, env)
    if not expect_ready:
        # The publisher is probed every 2 s until it answers; 5 s is two misses.
        status, answer = wait_ready(port, 5)
        ck.check(status == 503, "%s: cmop serve stays not ready (%s)" % (label, json.dumps(answer)[:160]),
                 "readyz %s %s" % (status, answer))
        procs.stop(p)
        return
    status, answer = wait_ready(port, 30)
    with open(p.log_path) as f:
        log = f.read()[-2000:]
    ck.check(status == 200, "%s: the rendered cmop serve command starts and gets ready" % label,
             "readyz %s %s; log:\n%s" % (status, answer, log))
    status, _ = http("POST", "http://127.0.0.1:%d/repo/new" % port, {"name": "demo", "git": git_url})
    ck.check(status == 401, "%s: POST /repo/new without the token is refused (401)" % label)
    status, report = http("POST", "http://127.0.0.1:%d/repo/new" % port, {"name": "demo", "git": git_url}, token=TOKEN)
    ck.check(status == 200 and report.get("ok") is True
             and [(c["name"], c["version"], c["status"]) for c in report.get("charts", [])] == [("demo", "0.1.0", "published")],
             "%s: with the token from the chart's Secret, the demo chart is published" % label, "%s %s" % (status, report))
    publish_check()
    code = procs.stop(p)
    ck.check(code == 0, "%s: cmop serve exits 0 on SIGTERM" % label, "exit code %s" % code)


def check_through_chartmuseum(ck, procs, tmp, git_url, ca_pem):
    ck.section("mode=deployment through ChartMuseum: the rendered command against a fake ChartMuseum with basic auth")
    cm_port = free_port()
    cm = procs.start([sys.executable, os.path.join(SUPPORT, "fake_chartmuseum.py"), "--port", str(cm_port),
                      "--storage-local-rootdir", os.path.join(tmp, "cm-storage"), "--basic-auth", "admin:cm-pw"], "chartmuseum")
    if not wait_for_port(cm_port):
        raise CheckFailed("the fake ChartMuseum did not listen")
    docs = render(HELM, CHART, BASE + ["env.secret.BASIC_AUTH_USER=admin", "env.secret.BASIC_AUTH_PASS=cm-pw",
                                              "operator.serve.caSecret=corp-ca"])
    hosts = {"http://cmop-chartmuseum:8080": "http://127.0.0.1:%d" % cm_port}
    files = {"cmop-ca": {"ca.crt": ca_pem}}

    def published():
        status, state = http("GET", "http://127.0.0.1:%d/__state" % cm_port)
        ck.check(status == 200 and "0.1.0" in state.get("charts", {}).get("demo", {}),
                 "ChartMuseum holds demo 0.1.0", str(state.get("charts")))
        auth = {e["authorization"] for e in state.get("log", []) if e["method"] == "POST"}
        ck.check(auth == {"Basic " + base64.b64encode(b"admin:cm-pw").decode()},
                 "the upload carried ChartMuseum's BASIC_AUTH_USER/PASS from the chart's Secret")
    run_serve(ck, procs, docs, tmp, "chartmuseum", True, published, git_url, host_map=hosts, files=files)
    run_serve(ck, procs, docs, tmp, "chartmuseum-wrong-password", False, host_map=hosts, files=files,
              secrets_override={("cmop-chartmuseum", "BASIC_AUTH_PASS"): "wrong"})
    procs.stop(cm)


def check_into_registry(ck, procs, tmp, git_url, ca_pem):
    ck.section("mode=deployment into an OCI registry: the rendered command against the real CNCF Distribution registry")
    reg_port = free_port()
    reg_dir = os.path.join(tmp, "registry")
    os.makedirs(os.path.join(reg_dir, "storage"))
    with open(os.path.join(reg_dir, "config.yml"), "w") as f:
        f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                "    rootdirectory: %s/storage\nhttp:\n  addr: 127.0.0.1:%d\n  secret: cmop-chart-test\n" % (reg_dir, reg_port))
    reg = procs.start(["docker-registry", "serve", os.path.join(reg_dir, "config.yml")], "registry")
    if not wait_for_port(reg_port):
        raise CheckFailed("docker-registry did not listen")
    host = "127.0.0.1:%d" % reg_port
    oci = BASE + ["chartmuseum.enabled=false", "operator.serve.oci.registry=oci://%s/team/charts" % host,
                  "operator.serve.oci.username=robot", "operator.serve.oci.password=robot-pw",
                  "operator.serve.caConfigMap=corp-ca", "operator.serve.caKey=bundle.pem",
                  "operator.serve.persistence.enabled=true"]
    files = {"cmop-ca": {"bundle.pem": ca_pem}}

    def published():
        status, tags = http("GET", "http://%s/v2/team/charts/demo/tags/list" % host)
        ck.check(status == 200 and tags.get("tags") == ["0.1.0"], "the registry holds team/charts/demo:0.1.0", "%s %s" % (status, tags))
    docs = render(HELM, CHART, oci + ["operator.serve.oci.plainHTTP={%s,mirror.local:80}" % host])
    run_serve(ck, procs, docs, tmp, "oci", True, published, git_url, files=files)
    docs = render(HELM, CHART, oci)
    run_serve(ck, procs, docs, tmp, "oci-without-plainHTTP", False, files=files)
    procs.stop(reg)


def main(ck):
    if not os.access(CMOP, os.X_OK):
        raise CheckFailed("no cmop binary at %r (pass it as the first argument of test_serve_runs.sh)" % CMOP)
    with tempfile.TemporaryDirectory(prefix="cmop-serve-runs-") as tmp:
        procs = Processes(tmp)
        try:
            git_url = make_git_repo(tmp)
            ca_pem = make_ca(tmp)
            ck.check(re.search(r"-----BEGIN CERTIFICATE-----", ca_pem) is not None, "made a PEM CA certificate for --ca-file")
            check_through_chartmuseum(ck, procs, tmp, git_url, ca_pem)
            check_into_registry(ck, procs, tmp, git_url, ca_pem)
        finally:
            procs.close()


if __name__ == "__main__":
    run_main(main, HELM)
