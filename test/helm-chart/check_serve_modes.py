#!/usr/bin/python3
"""Renders charts/chartmuseum with a real Helm client with `cmop serve` as its
own Deployment (operator.serve.mode=deployment) -- publishing through the
ChartMuseum Service, or into an OCI registry with ChartMuseum left out -- and
checks the objects, that the default sidecar rendering has none of them, the
refusals of values that cannot work (the chart's own messages where the chart
checks them), the schema of the new values, the OCI-only NOTES, and lint.
Usage: check_serve_modes.py HELM CHART_DIR"""

import base64
import json
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chartlib import (NAMESPACE, client_name, container, env_of, lint_strict, notes, objects, one, overlay,  # noqa: E402
                      run_main, values_file)
from check_chart import (HELM, CHART, OPERATOR_ON, SCHEMA_REFUSAL, args_value, check_common, port_number, r,  # noqa: E402
                         secret_ref)

FULLNAME = "cmop-chartmuseum"
SERVE = FULLNAME + "-serve"
OPERATOR = FULLNAME + "-operator"
DEPLOYMENT_MODE = OPERATOR_ON + ["operator.serve.mode=deployment"]
S3 = ["env.open.STORAGE=amazon", "env.open.STORAGE_AMAZON_BUCKET=charts", "env.open.STORAGE_AMAZON_REGION=eu-west-1"]
REGISTRY = "oci://registry.example.com:5000/charts"
OCI_ONLY = DEPLOYMENT_MODE + ["chartmuseum.enabled=false", "operator.serve.oci.registry=" + REGISTRY]


def component(doc):
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def volume_of(dep, mount):
    """The pod volume behind a container's volumeMount."""
    for v in dep["spec"]["template"]["spec"]["volumes"]:
        if v["name"] == mount["name"]:
            return v
    return None


def mount_for(c, path):
    """The volumeMount whose mountPath holds PATH (longest match)."""
    best = None
    for m in c.get("volumeMounts", []):
        if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/"):
            if best is None or len(m["mountPath"]) > len(best["mountPath"]):
                best = m
    return best


def check_operator_targets(ck, docs, label, host, port):
    oargs = container(one(docs, "Deployment", OPERATOR), "operator")["args"]
    ck.check(args_value(oargs, "--sidecar-url") == "http://%s:%d" % (host, port),
             "%s: operator --sidecar-url is http://%s:%d" % (label, host, port), str(args_value(oargs, "--sidecar-url")))
    ck.check(args_value(oargs, "--trigger-endpoint") == "http://%s.%s.svc:%d" % (host, NAMESPACE, port),
             "%s: CronJobs reach http://%s.%s.svc:%d" % (label, host, NAMESPACE, port))
    svc = one(docs, "Service", host)
    ports = {p["port"]: p for p in svc["spec"]["ports"]}
    ck.check(port in ports and ports[port]["targetPort"] == "cmop", "%s: Service %s port %d targets cmop" % (label, host, port))


def check_sidecar_default_unchanged(ck):
    ck.section("sidecar mode stays the default")
    for label, sets in (("defaults", []), ("operator on", OPERATOR_ON),
                        ("explicit sidecar", OPERATOR_ON + ["operator.serve.mode=sidecar"])):
        docs = r(*sets)
        ck.check(not [d for d in docs if component(d) == "serve"], "%s: no serve Deployment/Service/PVC/Secret" % label)
        ck.check(not objects(docs, "Deployment", SERVE) and not objects(docs, "Service", SERVE), "%s: nothing named %s" % (label, SERVE))
    docs = r(*OPERATOR_ON)
    dep = one(docs, "Deployment", FULLNAME)
    ck.check([c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["chartmuseum", "cmop"],
             "operator on: the sidecar is in the ChartMuseum pod")
    check_operator_targets(ck, docs, "sidecar", FULLNAME, 8081)
    side = container(dep, "cmop")
    ck.check(args_value(side["args"], "--ca-file") is None and args_value(side["args"], "--plain-http-registries") is None,
             "no --ca-file or --plain-http-registries unless asked for")
    fixed = OPERATOR_ON + ["operator.token=fixed"]
    ck.check(r(*fixed) == r(*(fixed + ["operator.serve.mode=sidecar", "chartmuseum.enabled=true"])),
             "mode=sidecar and chartmuseum.enabled=true render exactly what the defaults do")


def check_deployment_chartmuseum(ck):
    ck.section("mode=deployment publishing through the ChartMuseum Service, ChartMuseum scaled on S3")
    auth = ["env.secret.BASIC_AUTH_USER=admin", "env.secret.BASIC_AUTH_PASS=pw"]
    docs = r(*(DEPLOYMENT_MODE + S3 + auth + ["replicaCount=3"]))
    check_common(ck, docs, "deployment+chartmuseum")
    cm_dep = one(docs, "Deployment", FULLNAME)
    ck.check(cm_dep["spec"]["replicas"] == 3, "ChartMuseum runs replicaCount=3 replicas")
    ck.check([c["name"] for c in cm_dep["spec"]["template"]["spec"]["containers"]] == ["chartmuseum"],
             "no cmop sidecar in the ChartMuseum pods")
    cm_env = env_of(container(cm_dep, "chartmuseum"))
    ck.check(cm_env["STORAGE"]["value"] == "amazon" and cm_env["STORAGE_AMAZON_BUCKET"]["value"] == "charts",
             "ChartMuseum gets its S3 settings")
    cm_svc = one(docs, "Service", FULLNAME)
    ck.check([p["name"] for p in cm_svc["spec"]["ports"]] == ["http"], "the ChartMuseum Service has only its http port")

    dep = one(docs, "Deployment", SERVE)
    spec = dep["spec"]
    ck.check(spec["replicas"] == 1 and spec.get("strategy") == {"type": "Recreate"},
             "serve Deployment: one replica, Recreate (never two on one state dir)")
    pod = spec["template"]["spec"]
    ck.check(pod["enableServiceLinks"] is False, "serve pod: no service link variables among the CMOP_* ones")
    ck.check(pod["securityContext"] == cm_dep["spec"]["template"]["spec"]["securityContext"],
             "serve pod runs with the ChartMuseum pod's security context (uid 1000, fsGroup)")
    ck.check(pod["serviceAccountName"] == cm_dep["spec"]["template"]["spec"]["serviceAccountName"]
             and pod["automountServiceAccountToken"] is False, "serve pod: ChartMuseum's ServiceAccount, no API token")
    c = container(dep, "cmop")
    args = c["args"]
    ck.check(args[0] == "serve" and args_value(args, "--listen") == "0.0.0.0:8081", "runs `cmop serve --listen 0.0.0.0:8081`")
    ck.check(args_value(args, "--chartmuseum-url") == "http://%s:8080" % FULLNAME,
             "publishes through the ChartMuseum Service (http://%s:8080)" % FULLNAME, str(args_value(args, "--chartmuseum-url")))
    env = env_of(c)
    ck.check(secret_ref(env, "CMOP_CHARTMUSEUM_USERNAME") == secret_ref(cm_env, "BASIC_AUTH_USER") is not None,
             "serve username is ChartMuseum's BASIC_AUTH_USER secretKeyRef")
    ck.check(secret_ref(env, "CMOP_CHARTMUSEUM_PASSWORD") == secret_ref(cm_env, "BASIC_AUTH_PASS") is not None,
             "serve password is ChartMuseum's BASIC_AUTH_PASS secretKeyRef")
    ck.check(secret_ref(env, "CMOP_TOKEN") == (FULLNAME + "-cmop-token", "token"), "serve CMOP_TOKEN from the token Secret")
    ck.check(not any(k.startswith("CMOP_OCI_") for k in env), "no OCI settings when publishing to ChartMuseum")
    state = mount_for(c, args_value(args, "--state-dir"))
    ck.check(state is not None and "emptyDir" in volume_of(dep, state), "state dir on an emptyDir without serve persistence")
    ck.check(not objects(docs, "PersistentVolumeClaim"), "no PVC without persistence")

    svc = one(docs, "Service", SERVE)
    ck.check(svc["spec"]["type"] == "ClusterIP", "serve Service is ClusterIP")
    ck.check(svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"], "serve Service selects the serve pod")
    ck.check(not all(cm_dep["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items()),
             "serve Service does not select ChartMuseum pods")
    ck.check(port_number(c, "cmop") == 8081, "serve container port cmop is 8081")
    check_operator_targets(ck, docs, "deployment", SERVE, 8081)

    ck.section("the serve Deployment's container is the sidecar's, but for where it publishes")
    for label, extra in (("plain", []), ("with auth, CA, plain-HTTP registries, tuning", auth + [
            "operator.serve.caSecret=corp-ca", "operator.serve.oci.plainHTTP={reg.local:5000}", "operator.serve.workers=8",
            "operator.serve.extraArgs={--log-level,debug}", "operator.serve.resources.limits.memory=512Mi",
            "env.open.DEPTH=2", "operator.serve.tenant=team/charts"])):
        side = container(one(r(*(OPERATOR_ON + extra)), "Deployment", FULLNAME), "cmop")
        serve = container(one(r(*(DEPLOYMENT_MODE + extra)), "Deployment", SERVE), "cmop")
        for key in ("image", "imagePullPolicy", "ports", "livenessProbe", "readinessProbe", "securityContext", "resources", "env"):
            ck.check(side.get(key) == serve.get(key), "%s: same %s" % (label, key),
                     "sidecar %s, serve %s" % (json.dumps(side.get(key)), json.dumps(serve.get(key))))
        side_args, serve_args = list(side["args"]), list(serve["args"])
        for a in (side_args, serve_args):
            a[a.index("--chartmuseum-url") + 1] = "<target>"
        ck.check(side_args == serve_args, "%s: same args but the --chartmuseum-url" % label, "%s vs %s" % (side_args, serve_args))
        ck.check(sorted(m["mountPath"] for m in side["volumeMounts"]) == sorted(m["mountPath"] for m in serve["volumeMounts"]),
                 "%s: same mount paths" % label)

    ck.section("mode=deployment: context path, service port, tenant, persistence")
    docs = r(*(DEPLOYMENT_MODE + ["env.open.CONTEXT_PATH=/charts", "service.port=80"]))
    ck.check(args_value(container(one(docs, "Deployment", SERVE), "cmop")["args"], "--chartmuseum-url") == "http://%s:80/charts" % FULLNAME,
             "--chartmuseum-url follows service.port and CONTEXT_PATH")
    docs = r(*(DEPLOYMENT_MODE + ["operator.serve.service.port=9000"]))
    check_operator_targets(ck, docs, "service.port 9000", SERVE, 9000)
    docs = r(*(DEPLOYMENT_MODE + ["env.open.DEPTH=1", "operator.serve.tenant=team"]))
    ck.check(args_value(container(one(docs, "Deployment", SERVE), "cmop")["args"], "--chartmuseum-tenant") == "team",
             "operator.serve.tenant becomes --chartmuseum-tenant")
    docs = r(*(DEPLOYMENT_MODE + ["env.open.DEPTH=1", "operator.serve.tenant=/team/"]))
    ck.check(args_value(container(one(docs, "Deployment", SERVE), "cmop")["args"], "--chartmuseum-tenant") == "team",
             "operator.serve.tenant=/team/ becomes --chartmuseum-tenant team")
    docs = r(*(DEPLOYMENT_MODE + ["operator.serve.persistence.enabled=true", "operator.serve.persistence.size=5Gi",
                                  "operator.serve.persistence.storageClass=fast", "persistence.enabled=true"]))
    check_common(ck, docs, "deployment+persistence")
    pvcs = {p["metadata"]["name"]: p for p in objects(docs, "PersistentVolumeClaim")}
    ck.check(sorted(pvcs) == sorted([FULLNAME, SERVE]), "ChartMuseum and cmop serve each get their own PVC", str(sorted(pvcs)))
    pvc = pvcs[SERVE]
    ck.check(pvc["spec"]["resources"]["requests"]["storage"] == "5Gi" and pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
             and pvc["spec"]["storageClassName"] == "fast", "serve PVC: 5Gi, ReadWriteOnce, storage class fast")
    dep = one(docs, "Deployment", SERVE)
    c = container(dep, "cmop")
    state = mount_for(c, args_value(c["args"], "--state-dir"))
    ck.check(volume_of(dep, state).get("persistentVolumeClaim", {}).get("claimName") == SERVE, "state dir on the serve PVC")
    cm_pod = one(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    ck.check(not any(m.get("subPath") for c in cm_pod["containers"] for m in c.get("volumeMounts", [])),
             "ChartMuseum's PVC holds no cmop state subPath in deployment mode")
    docs = r(*(DEPLOYMENT_MODE + ["operator.serve.persistence.enabled=true", "operator.serve.persistence.existingClaim=my-state"]))
    ck.check(not objects(docs, "PersistentVolumeClaim"), "no serve PVC with existingClaim")
    dep = one(docs, "Deployment", SERVE)
    ck.check(any(v.get("persistentVolumeClaim", {}).get("claimName") == "my-state" for v in dep["spec"]["template"]["spec"]["volumes"]),
             "existingClaim is mounted")
    docs = r(*(DEPLOYMENT_MODE + ["replicaCount=2", "persistence.enabled=true", "persistence.accessMode=ReadWriteMany"]))
    ck.check(one(docs, "Deployment", FULLNAME)["spec"]["replicas"] == 2, "replicaCount=2 with STORAGE=local on a ReadWriteMany volume is allowed")


def check_deployment_oci(ck):
    ck.section("mode=deployment publishing into an OCI registry, ChartMuseum left out")
    sets = OCI_ONLY + ["operator.serve.oci.username=robot", "operator.serve.oci.password=s3cret-pw",
                       "operator.serve.oci.plainHTTP={registry.example.com:5000,mirror.local:80}",
                       "operator.serve.caConfigMap=corp-ca", "operator.serve.caKey=bundle.pem",
                       "env.secret.BASIC_AUTH_USER=ignored", "env.secret.BASIC_AUTH_PASS=ignored"]
    docs = r(*sets)
    check_common(ck, docs, "oci")
    ck.check(not [d for d in docs if component(d) == "server" and d["kind"] != "ServiceAccount"],
             "no ChartMuseum object (Deployment, Service, PVC, Ingress, env Secret)",
             str([(d["kind"], d["metadata"]["name"]) for d in docs if component(d) == "server"]))
    ck.check(sorted(d["metadata"]["name"] for d in objects(docs, "Deployment")) == sorted([OPERATOR, SERVE]),
             "Deployments: the operator and cmop serve only")
    ck.check(sorted(d["metadata"]["name"] for d in objects(docs, "Service")) == [SERVE], "the only Service is the serve Service")
    dep = one(docs, "Deployment", SERVE)
    c = container(dep, "cmop")
    args, env = c["args"], env_of(c)
    ck.check(env.get("CMOP_OCI_REGISTRY", {}).get("value") == REGISTRY, "CMOP_OCI_REGISTRY=%s" % REGISTRY)
    secret = one(docs, "Secret", FULLNAME + "-oci")
    ck.check(secret_ref(env, "CMOP_OCI_USERNAME") == (secret["metadata"]["name"], "username"), "CMOP_OCI_USERNAME from the OCI Secret")
    ck.check(secret_ref(env, "CMOP_OCI_PASSWORD") == (secret["metadata"]["name"], "password"), "CMOP_OCI_PASSWORD from the OCI Secret")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    ck.check(data == {"username": "robot", "password": "s3cret-pw"}, "the OCI Secret holds the inline credentials")
    ck.check("s3cret-pw" not in json.dumps(dep), "the password appears nowhere in the Deployment")
    ck.check(args_value(args, "--chartmuseum-url") is None and not any(k.startswith("CMOP_CHARTMUSEUM_") for k in env),
             "no ChartMuseum target or credentials")
    ck.check(args_value(args, "--plain-http-registries") == "registry.example.com:5000,mirror.local:80",
             "--plain-http-registries joins operator.serve.oci.plainHTTP with commas")
    ca = args_value(args, "--ca-file")
    m = mount_for(c, ca)
    v = volume_of(dep, m) if m else None
    ck.check(ca == "/etc/cmop/ca/bundle.pem" and m is not None and m.get("readOnly") is True,
             "--ca-file %s is on a read-only mount" % ca)
    ck.check(v is not None and v.get("configMap", {}).get("name") == "corp-ca"
             and v["configMap"]["items"] == [{"key": "bundle.pem", "path": "bundle.pem"}],
             "the CA comes from ConfigMap corp-ca, key bundle.pem")
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    ck.check("checksum/oci-secret" in annotations, "the pod restarts when the inline credentials change")
    other = one(r(*(sets[:-4] + ["operator.serve.oci.password=rotated"])), "Deployment", SERVE)
    ck.check(other["spec"]["template"]["metadata"]["annotations"]["checksum/oci-secret"] != annotations["checksum/oci-secret"],
             "a new password changes the checksum")
    check_operator_targets(ck, docs, "oci", SERVE, 8081)

    docs = r(*(OCI_ONLY + ["operator.serve.oci.existingSecret=registry-creds"]))
    ck.check(not objects(docs, "Secret", FULLNAME + "-oci"), "no OCI Secret with existingSecret")
    env = env_of(container(one(docs, "Deployment", SERVE), "cmop"))
    ck.check(secret_ref(env, "CMOP_OCI_USERNAME") == ("registry-creds", "username")
             and secret_ref(env, "CMOP_OCI_PASSWORD") == ("registry-creds", "password"),
             "credentials from the existing Secret's keys username and password")
    docs = r(*OCI_ONLY)
    env = env_of(container(one(docs, "Deployment", SERVE), "cmop"))
    ck.check("CMOP_OCI_USERNAME" not in env and "CMOP_OCI_PASSWORD" not in env and not objects(docs, "Secret", FULLNAME + "-oci"),
             "no credentials: anonymous access, no OCI Secret")
    docs = r(*(DEPLOYMENT_MODE + ["operator.serve.oci.registry=" + REGISTRY]))
    ck.check(objects(docs, "Deployment", FULLNAME) and objects(docs, "Service", FULLNAME),
             "with chartmuseum.enabled left on, ChartMuseum still renders beside the OCI target")
    ck.check(args_value(container(one(docs, "Deployment", SERVE), "cmop")["args"], "--chartmuseum-url") is None,
             "... and cmop still publishes only into the registry")

    ck.section("CA bundle in sidecar mode")
    dep = one(r(*(OPERATOR_ON + ["operator.serve.caSecret=corp-ca"])), "Deployment", FULLNAME)
    side = container(dep, "cmop")
    ca = args_value(side["args"], "--ca-file")
    m = mount_for(side, ca)
    ck.check(ca == "/etc/cmop/ca/ca.crt" and m is not None and volume_of(dep, m).get("secret", {}).get("secretName") == "corp-ca",
             "the sidecar gets --ca-file from Secret corp-ca (key ca.crt)")
    ck.check(not any(mm["name"] == m["name"] for mm in container(dep, "chartmuseum")["volumeMounts"]),
             "ChartMuseum itself does not mount the CA")


def check_signing_key(ck):
    ck.section("signing key (operator.serve.signingKey)")
    side = container(one(r(*OPERATOR_ON), "Deployment", FULLNAME), "cmop")
    ck.check(args_value(side["args"], "--signing-key") is None, "no --signing-key unless asked for")
    for label, sets, name in (("sidecar", OPERATOR_ON, FULLNAME), ("deployment", OCI_ONLY, SERVE)):
        for key, path in ((None, "/etc/cmop/signing/signing.asc"), ("release.asc", "/etc/cmop/signing/release.asc")):
            extra = ["operator.serve.signingKey.secret=cmop-signing"]
            if key:
                extra.append("operator.serve.signingKey.key=" + key)
            dep = one(r(*(sets + extra)), "Deployment", name)
            c = container(dep, "cmop")
            arg = args_value(c["args"], "--signing-key")
            m = mount_for(c, arg) if arg else None
            v = volume_of(dep, m) if m else None
            item = key or "signing.asc"
            ck.check(arg == path and m is not None and m.get("readOnly") is True,
                     "%s: --signing-key %s is on a read-only mount" % (label, path), str(arg))
            ck.check(v is not None and v.get("secret", {}).get("secretName") == "cmop-signing"
                     and v["secret"].get("items") == [{"key": item, "path": item}],
                     "%s: the key is item %s of Secret cmop-signing" % (label, item))
            if label == "sidecar":
                ck.check(not any(mm["name"] == m["name"] for mm in container(dep, "chartmuseum").get("volumeMounts", [])),
                         "ChartMuseum itself does not mount the signing key")


def check_refusals(ck):
    ck.section("refused combinations")
    refusals = (
        (OPERATOR_ON + ["operator.serve.oci.registry=" + REGISTRY], "needs operator.serve.mode=deployment"),
        (["operator.serve.oci.registry=" + REGISTRY], "operator.enabled=false"),
        (DEPLOYMENT_MODE + ["chartmuseum.enabled=false"], "chartmuseum.enabled=false leaves nothing"),
        (["chartmuseum.enabled=false"], "chartmuseum.enabled=false leaves nothing"),
        (OPERATOR_ON + ["chartmuseum.enabled=false"], "chartmuseum.enabled=false leaves nothing"),
        (DEPLOYMENT_MODE + ["operator.serve.oci.registry=https://registry.example.com/charts"], "must be oci://"),
        (DEPLOYMENT_MODE + ["operator.serve.oci.registry=registry.example.com/charts"], "must be oci://"),
        (DEPLOYMENT_MODE + ["operator.serve.oci.registry=oci://robot:s3cret@registry.example.com/charts"],
         "must not carry credentials"),
        (DEPLOYMENT_MODE + ["operator.serve.oci.registry=oci:///charts"], "it needs a host"),
        (DEPLOYMENT_MODE + ["operator.serve.oci.registry=oci://registry.example.com/charts?x=1"], "no query"),
        (OCI_ONLY + ["operator.serve.oci.existingSecret=x", "operator.serve.oci.password=p"], "not both"),
        (OCI_ONLY + ["operator.serve.oci.username=u"], "go together"),
        (DEPLOYMENT_MODE + ["operator.serve.oci.username=u", "operator.serve.oci.password=p"], "without operator.serve.oci.registry"),
        (OPERATOR_ON + ["operator.serve.caSecret=a", "operator.serve.caConfigMap=b"], "caSecret or operator.serve.caConfigMap, not both"),
        (OCI_ONLY + ["ingress.enabled=true"], "ingress.enabled=true"),
        (OCI_ONLY + ["persistence.enabled=true"], "operator.serve.persistence"),
        (OCI_ONLY + ["env.open.DEPTH=1", "operator.serve.tenant=team"], "operator.serve.tenant"),
        (OPERATOR_ON + ["operator.serve.mode=both"], "sidecar or deployment"),
        (DEPLOYMENT_MODE + ["replicaCount=3"], "shared storage"),
        (DEPLOYMENT_MODE + ["replicaCount=3", "persistence.enabled=true"], "shared storage"),
        (OPERATOR_ON + S3 + ["replicaCount=3"], "operator.serve.mode=deployment"),
        (DEPLOYMENT_MODE + ["env.open.DISABLE_API=true"], "DISABLE_API"),
        (DEPLOYMENT_MODE + ["env.open.DEPTH=1"], "operator.serve.tenant"),
    )
    for sets, needle in refusals:
        err = r(*sets, expect_failure=True)
        last = err.strip().splitlines()[-1] if err.strip() else "no message"
        ck.check(needle in err and SCHEMA_REFUSAL not in err,
                 "refused with the chart's own message: %s (%s)"
                 % (" ".join(sets[len(OPERATOR_ON):] if sets[:1] == OPERATOR_ON else sets), last), err.strip())
    err = r(*(DEPLOYMENT_MODE + ["operator.serve.oci.registry=oci://robot:s3cret@registry.example.com/charts"]),
            expect_failure=True)
    ck.check("s3cret" not in err, "the refusal of a registry URL with credentials does not repeat the password", err)
    docs = r(*(DEPLOYMENT_MODE + ["operator.serve.oci.registry=" + REGISTRY, "env.open.DISABLE_API=true"]))
    ck.check(objects(docs, "Deployment", SERVE), "DISABLE_API=true is fine when cmop publishes into a registry")
    docs = r(*(DEPLOYMENT_MODE + S3 + ["replicaCount=3"]))
    ck.check(one(docs, "Deployment", FULLNAME)["spec"]["replicas"] == 3, "replicaCount=3 with S3 storage is allowed")


def check_schema(ck):
    ck.section("values.schema.json: the new values, as real Helm validates them")
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)

    good = {"chartmuseum": {"enabled": False}, "operator": {"enabled": True, "serve": {
        "mode": "deployment", "caSecret": "corp-ca", "caKey": "bundle.pem",
        "oci": {"registry": REGISTRY, "username": "u", "password": "p", "plainHTTP": ["registry.example.com:5000"]},
        "persistence": {"enabled": True, "size": "5Gi", "accessMode": "ReadWriteOncePod"},
        "service": {"port": 9000, "annotations": {"a": "b"}}, "podLabels": {"team": "x"},
        "tolerations": [{"key": "k", "operator": "Exists"}], "nodeSelector": {"disk": "ssd"}}}}
    with values_file(overlay(values, good)) as f:
        docs = r(values_files=[f])
    ck.check(objects(docs, "Deployment", SERVE), "a complete OCI deployment-mode configuration renders")
    for override, what in (
            ({"chartmuseum": {"enabled": "no"}}, "chartmuseum.enabled not a bool"),
            ({"chartmuseum": {"enable": False}}, "an unknown key under chartmuseum"),
            ({"operator": {"serve": {"mode": 2}}}, "operator.serve.mode not a string"),
            ({"operator": {"serve": {"oci": {"registry": ["oci://a/b"]}}}}, "an OCI registry that is a list"),
            ({"operator": {"serve": {"oci": {"plainHTTP": "registry:5000"}}}}, "plainHTTP as a string"),
            ({"operator": {"serve": {"oci": {"plainHTTP": ["http://registry:5000"]}}}}, "plainHTTP with a scheme"),
            ({"operator": {"serve": {"persistence": {"enabled": True, "accessMode": "ReadOnlyMany"}}}}, "a read-only state volume"),
            ({"operator": {"serve": {"service": {"port": 0}}}}, "serve service.port 0"),
            ({"operator": {"serve": {"caKey": "../x"}}}, "a caKey with a slash")):
        with values_file(overlay(values, override)) as f:
            err = r(values_files=[f], expect_failure=True)
        ck.check(SCHEMA_REFUSAL in err, "schema refuses %s (%s)" % (what, err.strip().splitlines()[-1]), err.strip())


def check_oci_notes(ck):
    ck.section("NOTES of the OCI-only install")
    plain = notes(HELM, CHART, OCI_ONLY + ["operator.serve.oci.plainHTTP={mirror.local:80,registry.example.com:5000}"])
    commands = [l.strip() for l in plain.splitlines() if l.strip().startswith("helm ")]
    ck.check(any(c.startswith("helm install NAME %s/CHART" % REGISTRY) for c in commands),
             "the NOTES say how to install from %s" % REGISTRY, plain)
    ck.check(commands and all(c.endswith(" --plain-http") for c in commands),
             "the registry is in operator.serve.oci.plainHTTP: every helm command has --plain-http", str(commands))
    for label, sets in (("no plainHTTP", OCI_ONLY),
                        ("another registry in plainHTTP", OCI_ONLY + ["operator.serve.oci.plainHTTP={registry.example.com:80}"])):
        text = notes(HELM, CHART, sets)
        ck.check("helm install NAME %s/CHART" % REGISTRY in text and "--plain-http" not in text,
                 "%s: the helm commands have no --plain-http (the registry speaks https)" % label, text)


def check_lint(ck):
    ck.section("helm lint --strict (%s) of the new modes" % client_name(HELM))
    for label, sets in (("deployment + ChartMuseum on S3", DEPLOYMENT_MODE + S3 + ["replicaCount=3"]),
                        ("deployment + OCI, ChartMuseum off, persistence, CA",
                         OCI_ONLY + ["operator.serve.persistence.enabled=true", "operator.serve.caSecret=ca",
                                     "operator.serve.oci.username=u", "operator.serve.oci.password=p"])):
        passed, output = lint_strict(HELM, CHART, sets)
        ck.check(passed and "[WARNING]" not in output, "lint --strict passes (%s)" % label, output)


def main(ck):
    check_sidecar_default_unchanged(ck)
    check_deployment_chartmuseum(ck)
    check_deployment_oci(ck)
    check_signing_key(ck)
    check_refusals(ck)
    check_schema(ck)
    check_oci_notes(ck)
    check_lint(ck)


if __name__ == "__main__":
    run_main(main, HELM)
