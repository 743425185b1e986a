#!/usr/bin/env python3
"""Replays the answers recorded from a real kube-apiserver v1.32 (k8s-api-golden/cases.json,
format and normalization in its README) against the fake API server, in order, and
requires the same status codes, Content-Type/Retry-After headers and bodies (reasons,
messages, details.causes, stored objects) once both are normalized the same way.

The fake runs with manifests/crd.yaml. The cases were recorded with an older version of
it, which lacked spec.versioning, dependencies[].mirrorOf, url "self" and spec.mirror; no
case uses those, so every recorded answer still holds but one: spec then required git, and
now requires exactly one of git and mirror (oneOf), an answer that was not recorded, so
that case (SUPERSEDED) is skipped. After the replay, a few checks of what the newer schema
adds (derived from the CRD, not recorded) make sure the fake reads it.

Usage: fake_apiserver_conformance.py FAKE_URL TOKEN CASES_JSON CRD_YAML
"""
import copy
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse

import yaml

# Recorded cases the newer CRD answers otherwise (see newer_schema for what replaces them).
SUPERSEDED = {"cm-create-invalid-missing-git"}
TIME_KEYS = {"creationTimestamp", "deletionTimestamp", "lastTransitionTime", "renewTime", "acquireTime"}
PLURALS = {"Chartmuseum": "chartmuseums", "CronJob": "cronjobs", "Lease": "leases", "Event": "events"}
OBJECT_PATH = re.compile(r"/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)/(?P<name>[^/]+)(/status)?$")
GENERATED = "[bcdfghjklmnpqrstvwxz2456789]{5}"


class Replay:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.token = u.hostname, u.port, token
        self.rv_token = {}   # the fake's resourceVersion -> "<rv:N>"
        self.rv_value = {}   # "<rv:N>" -> the fake's resourceVersion
        self.seen = {}       # (plural, ns, name) -> the last object the fake answered
        self.failures = []

    # --- requests ---------------------------------------------------------------------
    def send(self, req, extra_headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = dict(req.get("headers") or {})
        if "Authorization" not in headers:
            headers["Authorization"] = "Bearer " + self.token
        headers.update(extra_headers or {})
        query = urllib.parse.urlencode(req.get("query") or {})
        body = json.dumps(req["body"]) if req.get("body") is not None else None
        conn.request(req["method"], req["path"] + ("?" + query if query else ""), body=body, headers=headers)
        return conn, conn.getresponse()

    def substitute(self, req):
        """The recorded request with the fake's resourceVersions, uids and times."""
        req = copy.deepcopy(req)
        m = OBJECT_PATH.search(req["path"])
        target = self.seen.get((m["plural"], m["ns"], m["name"])) if m else None
        in_ns = re.search(r"/namespaces/([^/]+)/", req["path"])
        ns = in_ns[1] if in_ns else None

        def owner_uid(ref, owner_ns):
            owner = self.seen.get((PLURALS.get(ref.get("kind")), owner_ns or ns, ref.get("name")))
            return owner["metadata"]["uid"] if owner else "unknown-owner"

        def walk(v, key=None, parent=None):
            if isinstance(v, dict):
                for k in list(v):
                    v[k] = walk(v[k], k, v)
                if "<uid>" == v.get("uid"):
                    if key == "metadata" and target:
                        v["uid"] = target["metadata"]["uid"]
                    elif key == "involvedObject":
                        v["uid"] = owner_uid(v, v.get("namespace"))
                    elif parent is not None and key is None:
                        v["uid"] = owner_uid(v, None)
                return v
            if isinstance(v, list):
                return [walk(x, None, v) for x in v]
            if isinstance(v, str) and v.startswith("<rv:"):
                return self.rv_value[v]
            if v == "<time>" and target and key in target["metadata"]:
                return target["metadata"][key]
            return v

        req["body"] = walk(req.get("body"))
        req["query"] = {k: walk(v) for k, v in (req.get("query") or {}).items()}
        return req

    # --- answers ----------------------------------------------------------------------
    def remember(self, path, obj):
        if not isinstance(obj, dict):
            return
        if obj.get("kind", "").endswith("List") and isinstance(obj.get("items"), list):
            plural = path.rstrip("/").rsplit("/", 1)[-1]
            for item in obj["items"]:
                meta = item.get("metadata", {})
                self.seen[(plural, meta.get("namespace"), meta.get("name"))] = item
            return
        meta = obj.get("metadata") or {}
        plural = PLURALS.get(obj.get("kind"))
        if plural and meta.get("uid") and meta.get("name"):
            self.seen[(plural, meta.get("namespace"), meta["name"])] = obj

    def token_of(self, rv):
        if rv not in self.rv_token:
            tok = "<rv:%d>" % (len(self.rv_token) + 1)
            self.rv_token[rv], self.rv_value[tok] = tok, rv
        return self.rv_token[rv]

    def normalize(self, value, generate_name=None):
        def walk(v, key=None):
            if isinstance(v, dict):
                return {k: walk(x, k) for k, x in v.items() if k != "managedFields"}
            if isinstance(v, list):
                return [walk(x) for x in v]
            if key == "resourceVersion" and isinstance(v, str):
                return self.token_of(v)
            if key == "uid" and isinstance(v, str):
                return "<uid>"
            if key in TIME_KEYS and v is not None:
                return "<time>"
            if isinstance(v, str):
                if generate_name:
                    v = re.sub(re.escape(generate_name) + GENERATED, generate_name + "<suffix>", v)
                old = re.match(r"^too old resource version: (\d+) \((\d+)\)$", v)
                if old:
                    v = "too old resource version: %s (%s)" % (old[1], self.token_of(old[2]))
            return v
        return walk(value)

    def check(self, name, what, expected, actual):
        if expected != actual:
            self.failures.append("%s: %s differs\n  expected: %s\n  actual:   %s"
                                 % (name, what, json.dumps(expected, sort_keys=True),
                                    json.dumps(actual, sort_keys=True)))

    def compare_answer(self, name, req, sent, expected, resp, raw):
        ctype = resp.getheader("Content-Type")
        body = json.loads(raw) if ctype and ctype.startswith("application/json") else raw.decode()
        if 200 <= resp.status < 300:
            self.remember(sent["path"], body)
        gen = ((req.get("body") or {}).get("metadata") or {}).get("generateName")
        self.check(name, "status", expected["status"], resp.status)
        headers = {"Content-Type": ctype}
        if resp.getheader("Retry-After"):
            headers["Retry-After"] = resp.getheader("Retry-After")
        self.check(name, "headers", expected["headers"], headers)
        self.check(name, "body", expected["body"], self.normalize(body, gen))

    def run_plain(self, case):
        sent = self.substitute(case["request"])
        conn, resp = self.send(sent)
        raw = resp.read()
        conn.close()
        self.compare_answer(case["name"], case["request"], sent, case["response"], resp, raw)

    def run_watch(self, case, background_writes):
        sent = self.substitute(case["request"])
        started = time.monotonic()
        conn, resp = self.send(sent)
        events = []  # (seconds after start, event)

        def read():
            while True:
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    events.append((time.monotonic() - started, json.loads(line)))

        reader = threading.Thread(target=read)
        reader.start()
        during = case.get("during") or []
        for i, step in enumerate(during):  # sent half a second apart, as recorded
            time.sleep(max(0.0, started + 0.5 * (i + 1) - time.monotonic()))
            self.run_plain({"name": "%s/during[%d]" % (case["name"], i), "request": step["request"],
                            "response": step["response"]})
        for at in background_writes:
            time.sleep(max(0.0, started + at - time.monotonic()))
            self.kube_controller_manager_renews()
        reader.join(timeout=float(case["request"]["query"].get("timeoutSeconds", 5)) + 10)
        ended = time.monotonic() - started
        conn.close()
        expected = case["response"]
        self.check(case["name"], "status", expected["status"], resp.status)
        self.check(case["name"], "Content-Type", expected["headers"]["Content-Type"], resp.getheader("Content-Type"))
        got = [dict(type=e["type"], object=self.normalize(e["object"])) for _, e in events]
        marks = [e for e in got if e["type"] == "BOOKMARK"]
        want_marks = [e for e in expected["events"] if e["type"] == "BOOKMARK"]
        self.check(case["name"], "events", [e for e in expected["events"] if e["type"] != "BOOKMARK"],
                   [e for e in got if e["type"] != "BOOKMARK"])
        if want_marks:
            # One or two were recorded (timing); all of them near the end, with the same object.
            self.check(case["name"], "bookmarks", True, 1 <= len(marks) <= 2 and all(m == want_marks[0] for m in marks))
            timeout = float(case["request"]["query"]["timeoutSeconds"])
            first = min(t for t, e in events if e["type"] == "BOOKMARK") if marks else 0
            self.check(case["name"], "first bookmark near the timeout", True, timeout - 3 <= first < timeout)
        else:
            self.check(case["name"], "bookmarks", [], marks)
        self.check(case["name"], "stream end (s)", True, abs(ended - expected["end"]["afterSeconds"]) <= 1.0)

    def kube_controller_manager_renews(self):
        """The recorded cluster's kube-controller-manager renewed its leader Lease every 2 s:
        writes that advanced the etcd revision, not Chartmuseum events."""
        conn, resp = self.send({"method": "GET", "path": "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                                "kube-controller-manager", "headers": {"Accept": "application/json"}})
        lease = json.loads(resp.read())
        conn.close()
        lease["spec"]["renewTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        conn, resp = self.send({"method": "PUT", "path": "/apis/coordination.k8s.io/v1/namespaces/kube-system/"
                                "leases/kube-controller-manager", "body": lease,
                                "headers": {"Content-Type": "application/json"}})
        resp.read()
        conn.close()
        assert resp.status == 200, resp.status

    def setup(self):
        """The namespace golden (empty) and kube-controller-manager's Lease."""
        for path, body in (("/api/v1/namespaces", {"metadata": {"name": "golden"}}),
                           ("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
                            {"metadata": {"name": "kube-controller-manager"},
                             "spec": {"holderIdentity": "kcm", "leaseDurationSeconds": 15,
                                      "renewTime": "2025-01-01T00:00:00.000000Z"}})):
            conn, resp = self.send({"method": "POST", "path": path, "body": body,
                                    "headers": {"Content-Type": "application/json"}})
            resp.read()
            conn.close()
            assert resp.status == 201, (path, resp.status)

    def newer_schema(self, crd_path):
        """What manifests/crd.yaml added after the recording, derived from the schema (read
        here, so that the expectations follow the CRD as it changes)."""
        with open(crd_path) as f:
            crd = next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == "CustomResourceDefinition")
        spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        versionings = spec_schema["versioning"]["enum"]
        mirror_pattern = spec_schema["dependencies"]["items"]["properties"]["mirrorOf"]["pattern"]
        base = {"apiVersion": "cm.bitnami.com/v1alpha1", "kind": "Chartmuseum", "metadata": {"name": "newer"},
                "spec": {"git": "https://example.com/c.git"}}
        path = "/apis/cm.bitnami.com/v1alpha1/namespaces/golden/chartmuseums"
        bad = copy.deepcopy(base)
        bad["spec"]["versioning"] = "sometimes"
        self.expect_cause("newer-versioning-enum", path, bad, "spec.versioning", "FieldValueNotSupported",
                          'Unsupported value: "sometimes": supported values: '
                          + ", ".join('"%s"' % v for v in versionings))
        bad = copy.deepcopy(base)
        bad["spec"]["dependencies"] = [{"name": "m", "url": "self", "mirrorOf": "ftp://x"}]
        self.expect_cause("newer-mirror-of-pattern", path, bad, "spec.dependencies[0].mirrorOf", "FieldValueInvalid",
                          'Invalid value: "ftp://x": spec.dependencies[0].mirrorOf in body should match '
                          "'%s'" % mirror_pattern)
        good = copy.deepcopy(base)
        good["spec"].update(versioning="revision",
                            dependencies=[{"name": "m", "url": "self", "mirrorOf": "https://charts.example.com"}])
        conn, resp = self.send({"method": "POST", "path": path, "body": good,
                                "headers": {"Content-Type": "application/json"}})
        created = json.loads(resp.read())
        conn.close()
        self.check("newer-accepted", "status", 201, resp.status)
        self.check("newer-accepted", "spec", dict(good["spec"], suspend=False, updateEveryMinutes=15),
                   created.get("spec"))
        # Exactly one of git and mirror (oneOf): neither and both are refused, as
        # kube-openapi words a oneOf failure (a cause without a field), neither also
        # with the first alternative's failure.
        alternatives = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["oneOf"]
        self.check("newer-one-of", "alternatives", [{"required": ["git"]}, {"required": ["mirror"]}], alternatives)
        mirror = {"url": "oci://registry.example.com/charts", "charts": [{"name": "nginx", "versions": "^15"}]}
        one_of = 'Invalid value: "": "spec" must validate one and only one schema (oneOf). '
        for name, spec, expected in (
                ("newer-neither", {"ref": "main"},
                 [("<nil>", one_of + "Found none valid"), ("spec.git", "Required value")]),
                ("newer-both", {"git": "https://example.com/c.git", "mirror": mirror},
                 [("<nil>", one_of + "Found 2 valid alternatives")])):
            body = dict(base, metadata={"name": name}, spec=spec)
            conn, resp = self.send({"method": "POST", "path": path, "body": body,
                                    "headers": {"Content-Type": "application/json"}})
            st = json.loads(resp.read())
            conn.close()
            self.check(name, "status", 422, resp.status)
            self.check(name, "causes", expected,
                       [(c.get("field"), c.get("message")) for c in (st.get("details") or {}).get("causes", [])])
        body = dict(base, metadata={"name": "newer-mirror"}, spec={"mirror": mirror})
        conn, resp = self.send({"method": "POST", "path": path, "body": body,
                                "headers": {"Content-Type": "application/json"}})
        created = json.loads(resp.read())
        conn.close()
        self.check("newer-mirror", "status", 201, resp.status)
        self.check("newer-mirror", "spec", dict(mirror=mirror, suspend=False, updateEveryMinutes=15),
                   created.get("spec"))

    def expect_cause(self, name, path, body, field, reason, message):
        conn, resp = self.send({"method": "POST", "path": path, "body": body,
                                "headers": {"Content-Type": "application/json"}})
        st = json.loads(resp.read())
        conn.close()
        self.check(name, "status", 422, resp.status)
        self.check(name, "causes", [{"reason": reason, "message": message, "field": field}],
                   (st.get("details") or {}).get("causes"))


def main():
    url, token, cases_path, crd_path = sys.argv[1:5]
    with open(cases_path) as f:
        cases = json.load(f)
    replay = Replay(url, token)
    replay.setup()
    for case in cases:
        if case["request"]["query"].get("watch") == "1":
            # Only the long watch spans kube-controller-manager's renewals (every 2 s).
            replay.run_watch(case, background_writes=[2.5, 4.5] if case.get("during") else [])
        elif case["name"] not in SUPERSEDED:
            replay.run_plain(case)
    replay.newer_schema(crd_path)
    for f in replay.failures:
        print("FAIL " + f)
    print("%d recorded cases replayed, %d mismatches" % (len(cases), len(replay.failures)))
    sys.exit(1 if replay.failures else 0)


if __name__ == "__main__":
    main()
