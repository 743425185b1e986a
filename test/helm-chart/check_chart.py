#!/usr/bin/python3
"""Renders charts/chartmuseum with a real Helm client (`helm template`, which
validates values.schema.json) in the configurations users run, and checks the
objects it produces, the refusals, the NOTES, the chart as a subchart, and
helm lint --strict. Usage: check_chart.py HELM CHART_DIR"""

import base64
import json
import os
import re
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chartlib import (NAMESPACE, CheckFailed, client_name, container, env_of, lint_strict,  # noqa: E402
                      notes, objects, one, overlay, render, run_helm, run_main, values_file)
from schema_check import validate  # noqa: E402

HELM, CHART = sys.argv[1], sys.argv[2]
# What real Helm prints (Helm 3 and 4 alike) when values break values.schema.json.
SCHEMA_REFUSAL = "values don't meet the specifications of the schema"

# The operator's complete access, as (apiGroup, resource) -> verbs.
EXPECTED_RULES = {
    ("cm.bitnami.com", "chartmuseums"): {"get", "list", "watch", "update"},
    ("cm.bitnami.com", "chartmuseums/status"): {"update"},
    ("cm.bitnami.com", "chartmuseums/finalizers"): {"update"},
    ("batch", "cronjobs"): {"list", "watch", "create", "update", "delete"},
    ("", "events"): {"create"},
    ("", "secrets"): {"get"},
    ("coordination.k8s.io", "leases"): {"get", "create", "update"},
}
# Current (GA, not deprecated) API versions the chart may use.
CURRENT_APIS = {
    "v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
    "apiextensions.k8s.io/v1",
}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
OPERATOR_ON = ["operator.enabled=true"]


def r(*sets, **kw):
    return render(HELM, CHART, sets, **kw)


def args_value(args, flag):
    """The value after FLAG in a container's args (None when absent)."""
    for i, a in enumerate(args):
        if a == flag:
            return args[i + 1] if i + 1 < len(args) else None
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def secret_ref(env, name):
    e = env.get(name)
    if not e or "valueFrom" not in e or "secretKeyRef" not in e["valueFrom"]:
        return None
    ref = e["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def port_number(c, port):
    if isinstance(port, int):
        return port
    for p in c.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise CheckFailed("container %s has no port named %r" % (c["name"], port))


def check_common(ck, docs, label):
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        ck.check(d["apiVersion"] in CURRENT_APIS, "%s: %s/%s uses a current API (%s)" % (label, kind, name, d["apiVersion"]))
        ck.check(DNS1123_SUBDOMAIN.match(name) is not None, "%s: %s name %r is DNS-1123" % (label, kind, name))
        labels = d["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by",
                    "app.kubernetes.io/version", "helm.sh/chart"):
            ck.check(key in labels, "%s: %s/%s has label %s" % (label, kind, name, key))
        if kind not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            ck.check(d["metadata"].get("namespace") is not None, "%s: %s/%s sets its namespace" % (label, kind, name))
    for dep in objects(docs, "Deployment"):
        name = dep["metadata"]["name"]
        selector = dep["spec"]["selector"]["matchLabels"]
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        ck.check(all(pod_labels.get(k) == v for k, v in selector.items()),
                 "%s: Deployment %s selector matches its pod labels" % (label, name))
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        ck.check(psc.get("runAsNonRoot") is True, "%s: %s pod runs as non-root" % (label, name))
        ck.check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
                 "%s: %s pod uses the RuntimeDefault seccomp profile" % (label, name))
        mounted_tmp = True
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            ck.check(sc.get("readOnlyRootFilesystem") is True, "%s: container %s has a read-only root FS" % (label, c["name"]))
            ck.check(sc.get("allowPrivilegeEscalation") is False, "%s: container %s cannot escalate" % (label, c["name"]))
            ck.check(sc.get("capabilities", {}).get("drop") == ["ALL"], "%s: container %s drops ALL capabilities" % (label, c["name"]))
            mounted_tmp &= any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", []))
            volumes = {v["name"] for v in pod.get("volumes", [])}
            for m in c.get("volumeMounts", []):
                ck.check(m["name"] in volumes, "%s: %s mounts the declared volume %s" % (label, c["name"], m["name"]))
        ck.check(mounted_tmp, "%s: every container of %s has a writable /tmp" % (label, name))
    for svc in objects(docs, "Service"):
        pods = [d for d in objects(docs, "Deployment")
                if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items())]
        ck.check(len(pods) == 1, "%s: Service %s selects exactly the ChartMuseum pods" % (label, svc["metadata"]["name"]))


def check_operator_off(ck):
    ck.section("defaults (operator off)")
    docs = r()
    check_common(ck, docs, "default")
    kinds = sorted(d["kind"] for d in docs)
    ck.check(kinds == ["Deployment", "Service", "ServiceAccount"], "default renders only SA, Service, Deployment", str(kinds))
    for kind in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Secret",
                 "PersistentVolumeClaim", "Ingress"):
        ck.check(not objects(docs, kind), "default renders no %s" % kind)
    dep = one(docs, "Deployment")
    containers = dep["spec"]["template"]["spec"]["containers"]
    ck.check([c["name"] for c in containers] == ["chartmuseum"], "no cmop sidecar without operator.enabled")
    cm = containers[0]
    ck.check(cm["image"] == "ghcr.io/helm/chartmuseum:v0.16.2", "ChartMuseum image is ghcr.io/helm/chartmuseum:v0.16.2", cm["image"])
    ck.check(port_number(cm, "http") == 8080, "ChartMuseum listens on 8080")
    for probe in ("livenessProbe", "readinessProbe"):
        ck.check(cm[probe]["httpGet"]["path"] == "/health", "ChartMuseum %s GETs /health" % probe)
    env = env_of(cm)
    ck.check(env["PORT"]["value"] == "8080", "PORT=8080")
    ck.check(env["STORAGE"]["value"] == "local", "STORAGE=local")
    ck.check(env["DISABLE_API"]["value"] == "false", "DISABLE_API=false by default")
    ck.check("CHART_URL" not in env, "empty env.open values are not set")
    root = env["STORAGE_LOCAL_ROOTDIR"]["value"]
    mounts = {m["name"]: m for m in cm["volumeMounts"]}
    ck.check(mounts["storage-volume"]["mountPath"] == root, "storage volume is mounted at STORAGE_LOCAL_ROOTDIR (%s)" % root)
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    ck.check("emptyDir" in volumes["storage-volume"], "storage is an emptyDir without persistence")
    ck.check(dep["spec"].get("strategy") is None, "no Recreate strategy without a RWO volume")
    svc = one(docs, "Service")
    ck.check([p["name"] for p in svc["spec"]["ports"]] == ["http"], "Service has only the http port")
    ck.check(svc["spec"]["ports"][0]["port"] == 8080 and svc["spec"]["ports"][0]["targetPort"] == "http",
             "Service port 8080 targets http")
    sa = one(docs, "ServiceAccount")
    ck.check(dep["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"], "pod uses the chart's ServiceAccount")
    ck.check(dep["spec"]["template"]["spec"]["automountServiceAccountToken"] is False, "no API token mounted into ChartMuseum")

    ck.section("ChartMuseum env and secrets")
    docs = r("env.open.CHART_URL=https://charts.example.com", "env.open.DEPTH=0",
             "env.secret.BASIC_AUTH_USER=admin", "env.secret.BASIC_AUTH_PASS=s3cret")
    secret = one(docs, "Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    ck.check(data == {"BASIC_AUTH_USER": "admin", "BASIC_AUTH_PASS": "s3cret"}, "env.secret values land in the chart's Secret", str(data))
    env = env_of(container(one(docs, "Deployment"), "chartmuseum"))
    ck.check(env["CHART_URL"]["value"] == "https://charts.example.com", "env.open.CHART_URL is passed through")
    for key in ("BASIC_AUTH_USER", "BASIC_AUTH_PASS"):
        ck.check(secret_ref(env, key) == (secret["metadata"]["name"], key), "%s comes from the chart's Secret" % key)
    docs = r("env.secret.BEARER_AUTH=true", "env.secret.BASIC_AUTH_PASS=123456")
    data = {k: base64.b64decode(v).decode() for k, v in one(docs, "Secret")["data"].items()}
    ck.check(data == {"BEARER_AUTH": "true", "BASIC_AUTH_PASS": "123456"},
             "env.secret takes a boolean and a number (--set) and stores their text", str(data))
    docs = r("env.existingSecret=cm-auth", "env.existingSecretMappings.BASIC_AUTH_USER=user",
             "env.existingSecretMappings.BASIC_AUTH_PASS=pass", "env.secret.BASIC_AUTH_USER=ignored")
    ck.check(not objects(docs, "Secret"), "no Secret is created with env.existingSecret")
    env = env_of(container(one(docs, "Deployment"), "chartmuseum"))
    ck.check(secret_ref(env, "BASIC_AUTH_USER") == ("cm-auth", "user"), "BASIC_AUTH_USER mapped from the existing Secret")
    ck.check(secret_ref(env, "BASIC_AUTH_PASS") == ("cm-auth", "pass"), "BASIC_AUTH_PASS mapped from the existing Secret")

    ck.section("context path")
    docs = r("env.open.CONTEXT_PATH=/charts", *OPERATOR_ON)
    dep = one(docs, "Deployment", "cmop-chartmuseum")
    ck.check(container(dep, "chartmuseum")["livenessProbe"]["httpGet"]["path"] == "/charts/health", "probes follow CONTEXT_PATH")
    ck.check(args_value(container(dep, "cmop")["args"], "--chartmuseum-url") == "http://127.0.0.1:8080/charts",
             "sidecar publishes under CONTEXT_PATH")


def check_operator_on(ck):
    ck.section("operator.enabled=true")
    docs = r(*OPERATOR_ON)
    check_common(ck, docs, "operator")
    svc = one(docs, "Service")
    svc_name = svc["metadata"]["name"]
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    ck.check(ports.get("cmop", {}).get("port") == 8081 and ports["cmop"]["targetPort"] == "cmop",
             "Service exposes port cmop 8081 -> the sidecar")
    ck.check(svc["spec"]["type"] == "ClusterIP", "the sidecar port stays on a ClusterIP Service by default")

    dep = one(docs, "Deployment", "cmop-chartmuseum")
    side = container(dep, "cmop")
    image = "ghcr.io/cmop/cmop:0.1.0"
    ck.check(side["image"] == image, "sidecar image is operator.image", side["image"])
    args = side["args"]
    ck.check(args[0] == "serve", "sidecar runs `cmop serve`", str(args))
    ck.check(args_value(args, "--listen") == "0.0.0.0:8081", "sidecar listens on 0.0.0.0:8081")
    ck.check(args_value(args, "--chartmuseum-url") == "http://127.0.0.1:8080", "sidecar publishes to ChartMuseum on localhost")
    state_dir = args_value(args, "--state-dir")
    mounts = {m["mountPath"]: m for m in side["volumeMounts"]}
    ck.check(any(state_dir.startswith(p + "/") or state_dir == p for p in mounts), "state dir %s is on a volume" % state_dir)
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    state_mount = [m for p, m in mounts.items() if state_dir.startswith(p)][0]
    ck.check("emptyDir" in volumes[state_mount["name"]], "without persistence the state is on an emptyDir")
    ck.check(port_number(side, "cmop") == 8081, "sidecar container port cmop is 8081")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        ck.check(side[probe]["httpGet"]["path"] == path and port_number(side, side[probe]["httpGet"]["port"]) == 8081,
                 "sidecar %s GETs %s on 8081" % (probe, path))
    env = env_of(side)
    token_secret = one(docs, "Secret")
    token_name = token_secret["metadata"]["name"]
    ck.check(secret_ref(env, "CMOP_TOKEN") == (token_name, "token"), "sidecar CMOP_TOKEN comes from the token Secret")
    token = base64.b64decode(token_secret["data"]["token"]).decode()
    ck.check(re.fullmatch(r"[A-Za-z0-9]{32,}", token) is not None, "generated token is a long random alphanumeric string")
    ck.check("CMOP_CHARTMUSEUM_USERNAME" not in env, "no basic auth for the sidecar when ChartMuseum has none")
    ck.check(env_of(container(dep, "chartmuseum"))["DISABLE_API"]["value"] == "false", "ChartMuseum's API stays on")

    op = one(docs, "Deployment", "cmop-chartmuseum-operator")
    oc = container(op, "operator")
    oargs = oc["args"]
    ck.check(oc["image"] == image, "operator image is operator.image")
    ck.check(oargs[0] == "operate", "operator runs `cmop operate`")
    ck.check(args_value(oargs, "--sidecar-url") == "http://%s:8081" % svc_name, "--sidecar-url is the Service's cmop port",
             str(args_value(oargs, "--sidecar-url")))
    ck.check(args_value(oargs, "--trigger-endpoint") == "http://%s.%s.svc:8081" % (svc_name, NAMESPACE),
             "--trigger-endpoint is namespace-qualified for CronJob pods")
    ck.check(args_value(oargs, "--image") == image, "--image is the one cmop image")
    ck.check(args_value(oargs, "--token-secret") is None,
             "no --token-secret: CronJobs get per-repo trigger tokens, the sidecar token stays in its Secret")
    ck.check("--leader-elect" in oargs, "--leader-elect is on")
    lease_names = [n for role in objects(docs, "Role") for rule in role["rules"] for n in rule.get("resourceNames", [])
                   if "leases" in rule["resources"]]
    ck.check(lease_names == [args_value(oargs, "--lease-name")] and args_value(oargs, "--lease-namespace") == NAMESPACE,
             "the Lease the operator uses is the one its Role names, in the release namespace", str(lease_names))
    ck.check(args_value(oargs, "--namespace") is None, "no --namespace without watchNamespace")
    ck.check(secret_ref(env_of(oc), "CMOP_TOKEN") == (token_name, "token"), "operator CMOP_TOKEN comes from the token Secret")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        ck.check(oc[probe]["httpGet"]["path"] == path and port_number(oc, oc[probe]["httpGet"]["port"]) == 8082,
                 "operator %s GETs %s on 8082" % (probe, path))
    op_sa = one(docs, "ServiceAccount", "cmop-chartmuseum-operator")
    ck.check(op["spec"]["template"]["spec"]["serviceAccountName"] == op_sa["metadata"]["name"], "operator runs as its own ServiceAccount")
    ck.check(op["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 65532, "operator runs as the distroless nonroot user")

    check_rbac(ck, docs, op_sa["metadata"]["name"], cluster_scoped=True)
    check_crd(ck, one(docs, "CustomResourceDefinition"))

    ck.section("operator basic auth follows ChartMuseum's")
    docs = r(*OPERATOR_ON, "env.secret.BASIC_AUTH_USER=admin", "env.secret.BASIC_AUTH_PASS=pw")
    dep = one(docs, "Deployment", "cmop-chartmuseum")
    cm_env, side_env = env_of(container(dep, "chartmuseum")), env_of(container(dep, "cmop"))
    ck.check(secret_ref(side_env, "CMOP_CHARTMUSEUM_USERNAME") == secret_ref(cm_env, "BASIC_AUTH_USER") is not None,
             "sidecar username is ChartMuseum's BASIC_AUTH_USER secretKeyRef")
    ck.check(secret_ref(side_env, "CMOP_CHARTMUSEUM_PASSWORD") == secret_ref(cm_env, "BASIC_AUTH_PASS") is not None,
             "sidecar password is ChartMuseum's BASIC_AUTH_PASS secretKeyRef")
    docs = r(*OPERATOR_ON, "env.existingSecret=cm-auth", "env.existingSecretMappings.BASIC_AUTH_USER=u",
             "env.existingSecretMappings.BASIC_AUTH_PASS=p")
    side_env = env_of(container(one(docs, "Deployment", "cmop-chartmuseum"), "cmop"))
    ck.check(secret_ref(side_env, "CMOP_CHARTMUSEUM_USERNAME") == ("cm-auth", "u"), "sidecar username from the existing Secret")
    ck.check(secret_ref(side_env, "CMOP_CHARTMUSEUM_PASSWORD") == ("cm-auth", "p"), "sidecar password from the existing Secret")
    docs = r(*OPERATOR_ON, "env.open.BASIC_AUTH_USER=admin", "env.open.BASIC_AUTH_PASS=plain-pw")
    side_env = env_of(container(one(docs, "Deployment", "cmop-chartmuseum"), "cmop"))
    ck.check(side_env.get("CMOP_CHARTMUSEUM_USERNAME", {}).get("value") == "admin" and
             side_env.get("CMOP_CHARTMUSEUM_PASSWORD", {}).get("value") == "plain-pw",
             "sidecar basic auth from env.open when ChartMuseum gets it there", str(side_env))
    docs = r(*OPERATOR_ON, "env.open.BASIC_AUTH_USER=admin", "env.secret.BASIC_AUTH_PASS=pw")
    side_env = env_of(container(one(docs, "Deployment", "cmop-chartmuseum"), "cmop"))
    ck.check(side_env.get("CMOP_CHARTMUSEUM_USERNAME", {}).get("value") == "admin" and
             secret_ref(side_env, "CMOP_CHARTMUSEUM_PASSWORD") == ("cmop-chartmuseum", "BASIC_AUTH_PASS"),
             "sidecar basic auth from env.open and env.secret mixed", str(side_env))
    for bearer in (["env.open.BEARER_AUTH=true"], ["env.secret.BEARER_AUTH=true"],
                   ["env.existingSecret=cm-auth", "env.existingSecretMappings.BEARER_AUTH=bearer"]):
        err = r(*(OPERATOR_ON + bearer), expect_failure=True)
        ck.check("chartmuseumBearerTokenSecret" in err, "bearer auth (%s) without a sidecar token is refused" % " ".join(bearer))
        docs = r(*(OPERATOR_ON + bearer), "operator.serve.chartmuseumBearerTokenSecret.name=cm-jwt",
                 "operator.serve.chartmuseumBearerTokenSecret.key=jwt")
        side_env = env_of(container(one(docs, "Deployment", "cmop-chartmuseum"), "cmop"))
        ck.check(secret_ref(side_env, "CMOP_CHARTMUSEUM_TOKEN") == ("cm-jwt", "jwt"),
                 "sidecar bearer token from its Secret (%s)" % " ".join(bearer))

    ck.section("token sources")
    docs = r(*OPERATOR_ON, "operator.token=fixed-token-123")
    ck.check(base64.b64decode(one(docs, "Secret")["data"]["token"]).decode() == "fixed-token-123", "operator.token is used verbatim")
    docs = r(*OPERATOR_ON, "operator.token=123456")
    ck.check(base64.b64decode(one(docs, "Secret")["data"]["token"]).decode() == "123456",
             "a numeric --set operator.token=123456 is the token \"123456\"")
    with values_file({"operator": {"enabled": True, "token": 12345678901}}) as f:
        docs = r(values_files=[f])
    ck.check(base64.b64decode(one(docs, "Secret")["data"]["token"]).decode() == "12345678901",
             "a numeric token from a values file (a float to Helm) keeps its digits, no exponent")
    err = r(*OPERATOR_ON, "operator.token=123456", "operator.existingTokenSecret=mine", expect_failure=True)
    ck.check("not both" in err, "a numeric operator.token beside existingTokenSecret is refused with the chart's message",
             err.strip())
    docs = r(*OPERATOR_ON, "operator.existingTokenSecret=my-token", "operator.existingTokenSecretKey=value")
    ck.check(not objects(docs, "Secret"), "no token Secret with operator.existingTokenSecret")
    side_env = env_of(container(one(docs, "Deployment", "cmop-chartmuseum"), "cmop"))
    oc = container(one(docs, "Deployment", "cmop-chartmuseum-operator"), "operator")
    ck.check(secret_ref(side_env, "CMOP_TOKEN") == ("my-token", "value"), "sidecar token from the existing Secret")
    ck.check(secret_ref(env_of(oc), "CMOP_TOKEN") == ("my-token", "value"), "operator token from the existing Secret")

    ck.section("installCRD=false, multi-tenant, refusals")
    docs = r(*OPERATOR_ON, "operator.installCRD=false")
    ck.check(not objects(docs, "CustomResourceDefinition"), "operator.installCRD=false renders no CRD")
    ck.check(objects(docs, "Deployment", "cmop-chartmuseum-operator"), "the operator still renders without the CRD")
    docs = r(*OPERATOR_ON, "env.open.DEPTH=1", "operator.serve.tenant=team")
    side = container(one(docs, "Deployment", "cmop-chartmuseum"), "cmop")
    ck.check(args_value(side["args"], "--chartmuseum-tenant") == "team", "operator.serve.tenant becomes --chartmuseum-tenant")
    for sets, needle in ((["env.open.DISABLE_API=true"], "DISABLE_API"),
                         (["env.open.DISABLE_DELETE=true"], "DISABLE_DELETE"),
                         (["replicaCount=2"], "replicaCount"),
                         (["env.open.DEPTH=2"], "operator.serve.tenant"),
                         (["operator.leaderElect=false", "operator.operate.replicaCount=2"], "leaderElect"),
                         (["env.open.ALLOW_OVERWRITE=true"], "ALLOW_OVERWRITE"),
                         (["env.open.DEPTH=2", "operator.serve.tenant=team"], "DEPTH=2"),
                         (["env.open.DEPTH=1", "operator.serve.tenant=org/team"], "DEPTH=1"),
                         (["operator.serve.tenant=team"], "DEPTH"),
                         (["env.open.DEPTH=2", "operator.serve.tenant=org/.."], "segment")):
        err = r(*(OPERATOR_ON + sets), expect_failure=True)
        ck.check(needle in err, "refused: %s (%s)" % (" ".join(sets), err.strip().splitlines()[-1] if err.strip() else "no message"))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        # From a values file YAML numbers are floats: they must still be written as integers.
        f.write("env:\n  open:\n    MAX_UPLOAD_SIZE: 52428800\n    CACHE_INTERVAL: 5m\n")
        f.flush()
        docs = r(*OPERATOR_ON, values_files=[f.name])
    dep = one(docs, "Deployment", "cmop-chartmuseum")
    side_env, cm_env = env_of(container(dep, "cmop")), env_of(container(dep, "chartmuseum"))
    ck.check(cm_env["MAX_UPLOAD_SIZE"]["value"] == "52428800" and cm_env["CACHE_INTERVAL"]["value"] == "5m",
             "env.open numbers from a values file reach ChartMuseum as integers", str(cm_env.get("MAX_UPLOAD_SIZE")))
    ck.check(side_env.get("CMOP_CHARTMUSEUM_MAX_UPLOAD_SIZE", {}).get("value") == "52428800",
             "the sidecar knows ChartMuseum's MAX_UPLOAD_SIZE", str(side_env.get("CMOP_CHARTMUSEUM_MAX_UPLOAD_SIZE")))
    docs = r("env.open.ALLOW_OVERWRITE=true")
    ck.check(env_of(container(one(docs, "Deployment"), "chartmuseum"))["ALLOW_OVERWRITE"]["value"] == "true",
             "ALLOW_OVERWRITE=true is allowed without the operator")
    docs = r("env.open.DISABLE_API=true")
    ck.check(env_of(container(one(docs, "Deployment"), "chartmuseum"))["DISABLE_API"]["value"] == "true",
             "DISABLE_API=true is allowed without the operator")


def check_rbac(ck, docs, sa_name, cluster_scoped, watch_ns=None):
    role_kinds = ("ClusterRole", "Role")
    rules = {}
    for kind in role_kinds:
        for role in objects(docs, kind):
            # Roles aggregated into the built-in edit/view roles are the users',
            # not the operator's (check_monitoring.py checks them).
            if any(k.startswith("rbac.authorization.k8s.io/aggregate-to-") for k in role["metadata"].get("labels", {})):
                continue
            for rule in role["rules"]:
                for verb in rule["verbs"]:
                    ck.check("*" not in verb, "%s %s grants no wildcard verb" % (kind, role["metadata"]["name"]))
                for group in rule["apiGroups"]:
                    ck.check(group != "*", "%s %s grants no wildcard apiGroup" % (kind, role["metadata"]["name"]))
                    for res in rule["resources"]:
                        ck.check("*" not in res, "%s %s grants no wildcard resource" % (kind, role["metadata"]["name"]))
                        rules.setdefault((group, res), set()).update(rule["verbs"])
    ck.check(rules == EXPECTED_RULES, "RBAC rules are exactly the least-privilege set",
             json.dumps({"/".join(k): sorted(v) for k, v in rules.items()}))
    lease_rules = [rule for role in objects(docs, "Role") for rule in role["rules"] if "leases" in rule["resources"]]
    lease_roles = [role for role in objects(docs, "Role") if any("leases" in x["resources"] for x in role["rules"])]
    ck.check(len(lease_roles) == 1 and lease_roles[0]["metadata"]["namespace"] == NAMESPACE,
             "Lease access is a Role in the release namespace only")
    ck.check(all(set(x["verbs"]) <= {"create"} or x.get("resourceNames") for x in lease_rules),
             "Lease get/update is limited to the operator's Lease by name")
    if cluster_scoped:
        cr = one(docs, "ClusterRole", sa_name)
        crb = one(docs, "ClusterRoleBinding")
        ck.check(crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cr["metadata"]["name"]},
                 "ClusterRoleBinding refers to the ClusterRole")
        ck.check(crb["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": NAMESPACE}],
                 "ClusterRoleBinding binds the operator ServiceAccount")
    else:
        ck.check(not objects(docs, "ClusterRole") and not objects(docs, "ClusterRoleBinding"),
                 "watchNamespace renders no cluster-scoped RBAC")
        roles = [x for x in objects(docs, "Role") if x["metadata"]["namespace"] == watch_ns]
        bindings = [x for x in objects(docs, "RoleBinding") if x["metadata"]["namespace"] == watch_ns]
        ck.check(len(roles) == 1 and len(bindings) == 1, "one Role and RoleBinding in the watched namespace %s" % watch_ns)
        ck.check(bindings[0]["roleRef"]["kind"] == "Role" and bindings[0]["roleRef"]["name"] == roles[0]["metadata"]["name"],
                 "RoleBinding refers to the Role")
        ck.check(bindings[0]["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": NAMESPACE}],
                 "RoleBinding binds the operator ServiceAccount of the release namespace")
    for b in objects(docs, "RoleBinding") + objects(docs, "ClusterRoleBinding"):
        target = b["roleRef"]["name"]
        ck.check(any(x["metadata"]["name"] == target for x in objects(docs, b["roleRef"]["kind"])),
                 "%s %s refers to a rendered %s" % (b["kind"], b["metadata"]["name"], b["roleRef"]["kind"]))


def structural_problems(schema, where="$"):
    """Properties without a type make a CRD schema non-structural."""
    problems = []
    if "type" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("x-kubernetes-int-or-string"):
        problems.append(where)
    for name, sub in schema.get("properties", {}).items():
        problems += structural_problems(sub, where + "." + name)
    if isinstance(schema.get("items"), dict):
        problems += structural_problems(schema["items"], where + "[]")
    return problems


def check_crd(ck, crd):
    ck.section("CustomResourceDefinition")
    spec = crd["spec"]
    ck.check(crd["apiVersion"] == "apiextensions.k8s.io/v1", "CRD uses apiextensions.k8s.io/v1")
    ck.check(crd["metadata"]["name"] == "chartmuseums.cm.bitnami.com", "CRD is chartmuseums.cm.bitnami.com")
    ck.check(spec["group"] == "cm.bitnami.com" and spec["scope"] == "Namespaced", "group cm.bitnami.com, namespaced")
    ck.check(spec["names"]["kind"] == "Chartmuseum" and spec["names"]["plural"] == "chartmuseums", "kind Chartmuseum, plural chartmuseums")
    versions = spec["versions"]
    ck.check([v["name"] for v in versions] == ["v1alpha1"] and versions[0]["served"] and versions[0]["storage"],
             "v1alpha1 is served and stored")
    v = versions[0]
    ck.check(v.get("subresources", {}).get("status") == {}, "status subresource is on")
    columns = [(c["name"], c["type"], c["jsonPath"]) for c in v["additionalPrinterColumns"]]
    ck.check(columns == [("Ready", "string", '.status.conditions[?(@.type=="Ready")].status'),
                         ("Reason", "string", '.status.conditions[?(@.type=="Ready")].reason'),
                         ("Commit", "string", ".status.lastCommit"),
                         ("Charts", "integer", ".status.charts"),
                         ("Failed", "integer", ".status.failedCharts"),
                         ("Last Sync", "date", ".status.lastSyncTime"),
                         ("Age", "date", ".metadata.creationTimestamp")],
             "printer columns Ready, Reason, Commit, Charts, Failed, Last Sync, Age", str(columns))
    # kubectl's built-in short names (cm is ConfigMaps, cj CronJobs ...) must not be shadowed.
    builtin = {"cm", "cs", "csr", "crd", "crds", "cj", "ds", "deploy", "ep", "ev", "hpa", "ing", "limits", "no", "ns",
               "pdb", "po", "psp", "pv", "pvc", "quota", "rc", "rs", "sa", "sc", "sts", "svc", "netpol", "pc", "ingclass"}
    short = spec["names"].get("shortNames", [])
    ck.check(short == ["chm"] and not set(short) & builtin, "short name chm, no built-in one", str(short))
    ck.check(bool(v["schema"]["openAPIV3Schema"]["properties"]["spec"].get("description")), "spec has a description")
    schema = v["schema"]["openAPIV3Schema"]
    ck.check(structural_problems(schema) == [], "schema is structural (every field typed)", str(structural_problems(schema)))
    s = schema["properties"]["spec"]
    ck.check("required" not in s and s["oneOf"] == [{"required": ["git"]}, {"required": ["mirror"]}],
             "spec requires exactly one of git and mirror", str(s.get("oneOf")))
    every = s["properties"]["updateEveryMinutes"]
    ck.check(every["type"] == "integer" and every["minimum"] == 1 and every["default"] == 15,
             "updateEveryMinutes is an integer, minimum 1, default 15")
    ck.check(s["properties"]["suspend"]["type"] == "boolean", "suspend is a boolean")
    ck.check(s["properties"]["secretRef"]["required"] == ["name"], "secretRef requires name")
    ck.check(sorted(s["properties"]["dependencies"]["items"]["required"]) == ["name", "url"], "dependencies need name and url")
    st = schema["properties"]["status"]["properties"]
    for field in ("observedGeneration", "conditions", "lastCommit", "charts", "publishedCharts", "lastSyncTime"):
        ck.check(field in st, "status has %s" % field)
    ck.check(set(st["conditions"]["items"]["properties"]) ==
             {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}, "condition fields")

    def cr(spec_):
        return {"apiVersion": "cm.bitnami.com/v1alpha1", "kind": "Chartmuseum", "metadata": {"name": "x"}, "spec": spec_}
    for url in ("https://github.com/foo/charts", "http://git.local/charts.git", "git://host/repo.git",
                "ssh://git@host:22/repo.git", "git@github.com:foo/charts.git"):
        ck.check(validate(cr({"git": url}), schema) == [], "CRD accepts git %s" % url)
    for url in ("file:///srv/charts", "/srv/charts", "ftp://host/x", "", "https://"):
        ck.check(validate(cr({"git": url}), schema) != [], "CRD refuses git %r" % url)
    ck.check(validate(cr({"ref": "main"}), schema) != [], "CRD refuses a spec without git")
    mirror = {"url": "oci://registry.example.com/charts", "charts": [{"name": "nginx", "versions": "^15"}],
              "prune": True, "secretRef": {"name": "creds"}}
    ck.check(validate(cr({"mirror": mirror}), schema) == [], "CRD accepts a mirror", str(validate(cr({"mirror": mirror}), schema)))
    ck.check(validate(cr({"mirror": {"url": "https://charts.example.com/stable"}}), schema) == [],
             "CRD accepts an HTTP mirror of every chart")
    ck.check(validate(cr({"git": "https://h/r", "mirror": mirror}), schema) != [], "CRD refuses git and mirror together")
    for url in ("ftp://h/x", "", "file:///srv/charts"):
        ck.check(validate(cr({"mirror": {"url": url}}), schema) != [], "CRD refuses mirror url %r" % url)
    ck.check(validate(cr({"mirror": {"url": "https://h/", "charts": [{"versions": "1.x"}]}}), schema) != [],
             "CRD refuses a mirrored chart without a name")
    ck.check(validate(cr({"git": "https://h/r", "updateEveryMinutes": 0}), schema) != [], "CRD refuses updateEveryMinutes 0")
    ck.check(validate(cr({"git": "https://h/r", "dependencies": [{"name": "bitnami"}]}), schema) != [],
             "CRD refuses a dependency without url")
    full = cr({"git": "https://h/r", "ref": "v1", "path": "charts", "updateEveryMinutes": 5, "suspend": True,
               "secretRef": {"name": "creds"}, "dependencies": [{"name": "bitnami", "url": "https://charts.bitnami.com/bitnami"}]})
    full["status"] = {"observedGeneration": 2, "lastCommit": "abc", "charts": 3, "lastSyncTime": "2024-01-01T00:00:00Z",
                      "publishedCharts": [{"name": "web", "version": "1.0.0"}],
                      "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "message": "",
                                      "lastTransitionTime": "2024-01-01T00:00:00Z", "observedGeneration": 2}]}
    ck.check(validate(full, schema) == [], "CRD accepts a complete resource with status", str(validate(full, schema)))


def check_persistence(ck):
    ck.section("persistence")
    docs = r("persistence.enabled=true", "persistence.size=20Gi", "persistence.storageClass=fast")
    pvc = one(docs, "PersistentVolumeClaim")
    ck.check(pvc["spec"]["resources"]["requests"]["storage"] == "20Gi", "PVC requests persistence.size")
    ck.check(pvc["spec"]["accessModes"] == ["ReadWriteOnce"], "PVC access mode ReadWriteOnce")
    ck.check(pvc["spec"]["storageClassName"] == "fast", "PVC storageClassName from persistence.storageClass")
    dep = one(docs, "Deployment")
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    ck.check(volumes["storage-volume"].get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"],
             "storage volume is the PVC")
    mounts = {m["name"]: m for m in container(dep, "chartmuseum")["volumeMounts"]}
    ck.check(mounts["storage-volume"]["mountPath"] == "/storage", "PVC mounted at /storage")
    ck.check(dep["spec"]["strategy"]["type"] == "Recreate", "RWO volume means Recreate strategy")
    docs = r("persistence.enabled=true", "persistence.storageClass=-")
    ck.check(one(docs, "PersistentVolumeClaim")["spec"]["storageClassName"] == "", "storageClass '-' disables dynamic provisioning")
    docs = r("persistence.enabled=true", "persistence.existingClaim=my-claim")
    ck.check(not objects(docs, "PersistentVolumeClaim"), "no PVC with existingClaim")
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    ck.check(volumes["storage-volume"]["persistentVolumeClaim"]["claimName"] == "my-claim", "existingClaim is mounted")
    docs = r("persistence.enabled=true", *OPERATOR_ON)
    dep = one(docs, "Deployment", "cmop-chartmuseum")
    side = container(dep, "cmop")
    state = [m for m in side["volumeMounts"] if m["name"] == "storage-volume"]
    ck.check(len(state) == 1 and state[0].get("subPath") == "cmop-state"
             and args_value(side["args"], "--state-dir").startswith(state[0]["mountPath"] + "/"),
             "with persistence the sidecar state is on the PVC subPath cmop-state")


def check_ingress_service(ck):
    ck.section("ingress and service")
    docs = r("ingress.enabled=true", "ingress.className=nginx", "ingress.hosts[0].host=charts.example.com",
             "ingress.hosts[0].paths[0].path=/", "ingress.hosts[0].paths[0].pathType=Prefix",
             "ingress.tls[0].secretName=charts-tls", "ingress.tls[0].hosts[0]=charts.example.com",
             "ingress.annotations.cert-manager\\.io/cluster-issuer=letsencrypt")
    ing = one(docs, "Ingress")
    svc = one(docs, "Service")
    ck.check(ing["apiVersion"] == "networking.k8s.io/v1", "Ingress is networking.k8s.io/v1")
    ck.check(ing["spec"]["ingressClassName"] == "nginx", "ingressClassName from ingress.className")
    ck.check(ing["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}, "ingress annotations kept")
    rule = ing["spec"]["rules"][0]
    ck.check(rule["host"] == "charts.example.com", "Ingress host")
    path = rule["http"]["paths"][0]
    backend = path["backend"]["service"]
    svc_ports = {p["name"] for p in svc["spec"]["ports"]}
    ck.check(path["path"] == "/" and path["pathType"] == "Prefix", "Ingress path / Prefix")
    ck.check(backend["name"] == svc["metadata"]["name"] and backend["port"].get("name") in svc_ports,
             "Ingress routes to the Service's http port")
    ck.check(ing["spec"]["tls"] == [{"secretName": "charts-tls", "hosts": ["charts.example.com"]}], "Ingress TLS")
    docs = r("service.type=NodePort", "service.nodePort=30080", "service.annotations.a=b")
    svc = one(docs, "Service")
    ck.check(svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 30080, "NodePort service with nodePort")
    ck.check(svc["metadata"]["annotations"] == {"a": "b"}, "service annotations")
    docs = r("serviceAccount.create=false", "serviceAccount.name=shared")
    ck.check(not objects(docs, "ServiceAccount"), "serviceAccount.create=false creates none")
    ck.check(one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "shared", "pod uses serviceAccount.name")


def check_webhook_ingress(ck):
    ck.section("operator.webhooks.ingress")
    ck.check(not [i for i in objects(r(*OPERATOR_ON), "Ingress")], "no webhook Ingress by default")
    ck.check(not objects(r("operator.webhooks.ingress.enabled=true"), "Ingress"),
             "no webhook Ingress without the operator")
    for mode, service in (("sidecar", "cmop-chartmuseum"), ("deployment", "cmop-chartmuseum-serve")):
        docs = r(*OPERATOR_ON, "operator.serve.mode=" + mode, "operator.webhooks.ingress.enabled=true",
                 "operator.webhooks.ingress.host=hooks.example.com", "operator.webhooks.ingress.className=nginx",
                 "operator.webhooks.ingress.tls[0].secretName=hooks-tls",
                 "operator.webhooks.ingress.tls[0].hosts[0]=hooks.example.com")
        ing = one(docs, "Ingress", "cmop-chartmuseum-hooks")
        rules = ing["spec"]["rules"]
        paths = [p for rule in rules for p in rule["http"]["paths"]]
        ck.check(len(rules) == 1 and rules[0]["host"] == "hooks.example.com", "webhook Ingress host (%s)" % mode)
        ck.check([(p["path"], p["pathType"]) for p in paths] == [("/hooks/", "Prefix")],
                 "webhook Ingress routes /hooks/ and nothing else (%s)" % mode)
        backend = paths[0]["backend"]["service"]
        svc = one(docs, "Service", service)
        ck.check(backend["name"] == service and backend["port"] == {"name": "cmop"}
                 and "cmop" in {p["name"] for p in svc["spec"]["ports"]},
                 "webhook Ingress reaches cmop serve's port (%s)" % mode)
        ck.check(ing["spec"]["ingressClassName"] == "nginx" and ing["spec"]["tls"][0]["secretName"] == "hooks-tls",
                 "webhook Ingress class and TLS (%s)" % mode)


def check_watch_namespace(ck):
    ck.section("operator.watchNamespace")
    docs = r(*OPERATOR_ON, "operator.watchNamespace=team-a")
    check_common(ck, docs, "watchNamespace")
    oc = container(one(docs, "Deployment", "cmop-chartmuseum-operator"), "operator")
    ck.check(args_value(oc["args"], "--namespace") == "team-a", "--namespace team-a")
    check_rbac(ck, docs, "cmop-chartmuseum-operator", cluster_scoped=False, watch_ns="team-a")


def check_values_schema(ck):
    ck.section("values.schema.json, as real Helm validates it")
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)
    ck.check(schema.get("$schema") == "http://json-schema.org/draft-07/schema#", "schema is JSON Schema draft-07")
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    with values_file(values) as f:
        ck.check(len(r(values_files=[f])) > 0, "values.yaml passed back as a values file conforms to the schema")

    def undocumented(vals, sch, where):
        missing = []
        if isinstance(vals, dict) and sch.get("type") == "object" and "properties" in sch:
            for k, v in vals.items():
                if k in sch["properties"]:
                    missing += undocumented(v, sch["properties"][k], where + "." + k)
                elif not isinstance(sch.get("additionalProperties"), dict):
                    missing.append(where + "." + k)
        return missing
    ck.check(undocumented(values, schema, "") == [], "every key of values.yaml is described by the schema",
             str(undocumented(values, schema, "")))
    bad = [
        ({"service": {"type": "Foo", "port": 8080}}, "service.type Foo"),
        ({"operator": {"enabled": "yes"}}, "operator.enabled not a bool"),
        ({"operator": {"enabled": True, "serve": {"workers": 0}}}, "operator.serve.workers 0"),
        ({"persistence": {"enabled": True, "accessMode": "Sometimes"}}, "persistence.accessMode Sometimes"),
        ({"replicaCount": -1}, "replicaCount -1"),
        ({"unknownKey": 1}, "an unknown top-level key"),
        ({"enabled": "yes"}, "a root enabled that is not a bool"),
        ({"env": {"open": {"lower_case": "x"}}}, "a lower-case env.open name"),
        ({"env": {"secret": {"BASIC_AUTH_PASS": ["a", "b"]}}}, "a list as an env.secret value"),
        ({"operator": {"token": True}}, "a boolean operator.token"),
        ({"operator": {"serve": {"tenant": "org//team"}}}, "a tenant with an empty middle segment"),
    ]
    for override, what in bad:
        with values_file(overlay(values, override)) as f:
            err = r(values_files=[f], expect_failure=True)
        ck.check(SCHEMA_REFUSAL in err, "schema refuses %s (%s)" % (what, err.strip().splitlines()[-1]), err.strip())

    ck.section("the schema accepts what the templates take")
    docs = r(*OPERATOR_ON, "env.open.DEPTH=2", "operator.serve.tenant=/org/team/")
    side = container(one(docs, "Deployment", "cmop-chartmuseum"), "cmop")
    ck.check(args_value(side["args"], "--chartmuseum-tenant") == "org/team",
             "operator.serve.tenant=/org/team/ is taken, as --chartmuseum-tenant org/team (the slashes trimmed)")
    side = container(one(r(*OPERATOR_ON, "operator.serve.tenant=/"), "Deployment", "cmop-chartmuseum"), "cmop")
    ck.check(args_value(side["args"], "--chartmuseum-tenant") is None,
             "operator.serve.tenant=/ is no tenant: no --chartmuseum-tenant", str(side["args"]))
    docs = r(*OPERATOR_ON, "env.secret.BEARER_AUTH=true", "operator.serve.chartmuseumBearerTokenSecret.name=cm-jwt")
    ck.check(secret_ref(env_of(container(one(docs, "Deployment", "cmop-chartmuseum"), "chartmuseum")), "BEARER_AUTH")
             == ("cmop-chartmuseum", "BEARER_AUTH"), "env.secret.BEARER_AUTH=true (a boolean) reaches ChartMuseum")
    fixed = OPERATOR_ON + ["operator.token=fixed"]
    for value in ("true", "false"):
        ck.check(r(*(fixed + ["enabled=" + value])) == r(*fixed),
                 "a root enabled=%s (a parent's condition) is accepted and changes nothing" % value)


def check_subchart(ck):
    ck.section("the chart as a dependency with condition: chartmuseum.enabled")
    with open(os.path.join(CHART, "Chart.yaml")) as f:
        meta = yaml.safe_load(f)
    with tempfile.TemporaryDirectory() as tmp:
        parent = os.path.join(tmp, "platform")
        os.makedirs(os.path.join(parent, "templates"))
        with open(os.path.join(parent, "Chart.yaml"), "w") as f:
            yaml.safe_dump({"apiVersion": "v2", "name": "platform", "version": "1.0.0", "dependencies": [{
                "name": meta["name"], "version": meta["version"], "repository": "file://" + os.path.abspath(CHART),
                "condition": "chartmuseum.enabled"}]}, f)
        with open(os.path.join(parent, "values.yaml"), "w") as f:
            yaml.safe_dump({"chartmuseum": {"enabled": True}}, f)
        with open(os.path.join(parent, "templates", "configmap.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-platform\n"
                    "  namespace: {{ .Release.Namespace }}\n")
        proc = run_helm(HELM, ["dependency", "build", parent])
        ck.check(proc.returncode == 0, "helm dependency build fetches the chart through file://", proc.stderr.strip())
        packaged = os.path.join(parent, "charts", "%s-%s.tgz" % (meta["name"], meta["version"]))
        ck.check(os.path.exists(packaged), "the dependency is vendored as charts/%s" % os.path.basename(packaged))
        names = lambda docs: sorted((d["kind"], d["metadata"]["name"]) for d in docs)  # noqa: E731
        on = render(HELM, parent)
        ck.check(("Deployment", "cmop-chartmuseum") in names(on) and ("ConfigMap", "cmop-platform") in names(on),
                 "chartmuseum.enabled=true (the parent's default): ChartMuseum renders beside the parent's objects",
                 str(names(on)))
        alone = r("operator.token=fixed", "operator.enabled=true")
        sub = render(HELM, parent, ["chartmuseum.operator.enabled=true", "chartmuseum.operator.token=fixed"])
        ck.check([d for d in sub if d["kind"] != "ConfigMap"] == alone,
                 "values under chartmuseum.* reach the subchart: it renders exactly what it renders alone")
        off = render(HELM, parent, ["chartmuseum.enabled=false"])
        ck.check(names(off) == [("ConfigMap", "cmop-platform")], "chartmuseum.enabled=false leaves the chart out",
                 str(names(off)))
        err = render(HELM, parent, ["chartmuseum.operator.serve.mode=both", "chartmuseum.operator.enabled=true"],
                     expect_failure=True)
        ck.check("must be sidecar or deployment" in err, "the subchart's own refusals still reach the user",
                 err.strip())
        passed, output = lint_strict(HELM, parent)
        ck.check(passed, "helm lint --strict passes on the parent", output)


def check_notes(ck):
    ck.section("NOTES.txt")
    text = notes(HELM, CHART)
    ck.check("kubectl port-forward -n %s svc/cmop-chartmuseum 8080:8080" % NAMESPACE in text
             and "helm repo add chartmuseum http://127.0.0.1:8080" in text,
             "defaults: how to reach the repository through a port-forward", text)
    ck.check("persistence.enabled=false" in text, "defaults: the warning about the emptyDir")
    text = notes(HELM, CHART, OPERATOR_ON + ["env.open.CONTEXT_PATH=/charts", "persistence.enabled=true"])
    ck.check("http://127.0.0.1:8080/charts" in text and "kind: Chartmuseum" in text
             and "persistence.enabled=false" not in text,
             "operator on: the context path, a Chartmuseum to apply, no emptyDir warning", text)


def check_lint(ck):
    ck.section("helm lint --strict (%s), which validates the schema too" % client_name(HELM))
    for label, sets in (("defaults", []), ("operator on", OPERATOR_ON),
                        ("operator on + persistence + ingress", OPERATOR_ON + ["persistence.enabled=true", "ingress.enabled=true"]),
                        ("watchNamespace", OPERATOR_ON + ["operator.watchNamespace=team-a"])):
        passed, output = lint_strict(HELM, CHART, sets)
        ck.check(passed, "lint --strict passes (%s)" % label, output)
        ck.check("[WARNING]" not in output and "[ERROR]" not in output, "lint says nothing to fix (%s)" % label, output)
    passed, output = lint_strict(HELM, CHART, ["service.type=Foo"])
    ck.check(not passed and "service.type" in output.replace("/service/type", "service.type"),
             "lint --strict fails on a value the schema refuses (it can fail)", output)


def check_secret_namespaces(ck):
    ck.section("operator.rbac.secretNamespaces")
    docs = r(*OPERATOR_ON, "operator.rbac.secretNamespaces={team-a,team-b}")
    check_common(ck, docs, "secretNamespaces")
    check_rbac(ck, docs, "cmop-chartmuseum-operator", cluster_scoped=True)
    cluster = one(docs, "ClusterRole", "cmop-chartmuseum-operator")
    ck.check(not any("secrets" in rule["resources"] for rule in cluster["rules"]),
             "the ClusterRole grants no access to Secrets")
    for ns in ("team-a", "team-b"):
        roles = [x for x in objects(docs, "Role") if x["metadata"]["namespace"] == ns]
        bindings = [x for x in objects(docs, "RoleBinding") if x["metadata"]["namespace"] == ns]
        ck.check(len(roles) == 1 and roles[0]["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
                 "a Role reading Secrets in %s" % ns)
        ck.check(len(bindings) == 1 and bindings[0]["subjects"][0]["name"] == "cmop-chartmuseum-operator",
                 "bound to the operator ServiceAccount in %s" % ns)


def main(ck):
    check_operator_off(ck)
    check_secret_namespaces(ck)
    check_operator_on(ck)
    check_persistence(ck)
    check_ingress_service(ck)
    check_webhook_ingress(ck)
    check_watch_namespace(ck)
    check_values_schema(ck)
    check_subchart(ck)
    check_notes(ck)
    check_lint(ck)


if __name__ == "__main__":
    run_main(main, HELM)
