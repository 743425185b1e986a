#!/usr/bin/env python3
"""A small kube-apiserver that speaks the real wire format, for operator tests.

Follows the Kubernetes API conventions for the resources cmop touches:
  /apis/cm.bitnami.com/v1alpha1/[namespaces/NS/]chartmuseums[/NAME[/status]]  (status subresource)
  /apis/batch/v1/[namespaces/NS/]cronjobs[/NAME]
  /apis/coordination.k8s.io/v1/[namespaces/NS/]leases[/NAME]
  /api/v1/[namespaces/NS/]events|secrets[/NAME]

Semantics kept faithful because the controller's correctness depends on them:
- metadata.resourceVersion is a global increasing counter (a string); uid and
  creationTimestamp are set on create; generation starts at 1 and is bumped only when
  spec changes. Updates of the main resource ignore status; /status updates ignore
  everything but status (and never bump generation).
- PUT with a stale resourceVersion -> 409 Conflict; POST of an existing name -> 409
  AlreadyExists; anything missing -> 404 NotFound; all errors are Status objects.
- PATCH with application/merge-patch+json (RFC 7386).
- DELETE of an object with finalizers sets deletionTimestamp and keeps it; removing
  the last finalizer deletes it. Adding a finalizer to a deleting object is refused.
- Deleting an object garbage-collects the objects whose ownerReferences name its uid.
- LIST answers with metadata.resourceVersion; labelSelector k=v[,k=v] is supported.
- ?watch=1 streams newline-delimited JSON events, chunked: events after the given
  resourceVersion (synthetic ADDED for all objects when it is "" or "0"), BOOKMARKs
  when allowWatchBookmarks=true, the end of the stream after timeoutSeconds, and for a
  resourceVersion older than the compaction point an ERROR event with a 410 Expired
  Status (HTTP 200, as the real server does).
- Bearer token auth when --token is given (401 Status otherwise).

Test hooks (no auth):
  POST /__compact          events up to now are forgotten; older watches get 410
  POST /__faults           body [{"method": "PUT", "path": "regex", "status": 500, "count": 1}]
                           answers the next matching requests with that status (count -1 = forever);
                           an empty list clears the faults
  POST /__close_watches    ends every open watch stream (as an apiserver restart would)
  GET  /__requests         {"METHOD /path": count, ...} of every API request (query stripped)
  GET  /__stats            {"requests": {"VERB": n}, "byResource": {"VERB RESOURCE[/status]": n},
                            "objects": {plural: n}, "ready": {plural: n}} where VERB is the
                           apiserver's (get, list, watch, create, update, patch, delete) and
                           "ready" counts objects whose Ready condition is True for their
                           current generation (status.observedGeneration == metadata.generation)
  POST /__reset_requests   zeroes the counts (both of the above)
A request carrying the header "X-Fake-Uncounted: 1" is served but not counted, so a
harness can create and inspect objects without skewing the counts of the client under test.
"""
import argparse
import bisect
import copy
import datetime
import http.server
import json
import re
import socketserver
import threading
import time
import urllib.parse
import uuid

# (api prefix, plural) -> (kind, apiVersion, has spec/generation, has status subresource)
RESOURCES = {
    ("/apis/cm.bitnami.com/v1alpha1", "chartmuseums"): ("Chartmuseum", "cm.bitnami.com/v1alpha1", True, True),
    ("/apis/batch/v1", "cronjobs"): ("CronJob", "batch/v1", True, True),
    ("/apis/coordination.k8s.io/v1", "leases"): ("Lease", "coordination.k8s.io/v1", False, False),
    ("/api/v1", "events"): ("Event", "v1", False, False),
    ("/api/v1", "secrets"): ("Secret", "v1", False, False),
}

PATH_RE = re.compile(
    r"^(?P<prefix>/api/v1|/apis/[^/]+/[^/]+)"
    r"(?:/namespaces/(?P<ns>[^/]+))?"
    r"/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?"
    r"(?:/(?P<sub>status))?$")


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    result = copy.deepcopy(target)
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


class ApiError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


class Store:
    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {}   # (prefix, plural, ns, name) -> object
        self.events = []    # (rv, prefix, plural, ns, type, object), in rv order
        self.event_rvs = [] # the rv of each entry of events, for bisecting
        self.compacted_rv = 0
        self.watch_epoch = 0
        self.faults = []
        self.requests = {}
        self.verb_counts = {}

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def record(self, key, etype, obj):
        rv = int(obj["metadata"]["resourceVersion"])
        self.events.append((rv, key[0], key[1], key[2], etype, copy.deepcopy(obj)))
        self.event_rvs.append(rv)
        self.cond.notify_all()

    # --- verbs; all called with self.cond held ---------------------------------------
    def get(self, key):
        obj = self.objects.get(key)
        if obj is None:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (key[1], key[3]))
        return obj

    def create(self, prefix, plural, ns, body):
        kind, api_version, has_spec, _ = RESOURCES[(prefix, plural)]
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
        if not name:
            raise ApiError(422, "Invalid", "%s.metadata.name: Required value: name or generateName is required"
                           % kind)
        key = (prefix, plural, ns, name)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (plural, name))
        if meta.get("resourceVersion"):
            raise ApiError(400, "BadRequest", "resourceVersion should not be set on objects to be created")
        meta.update(name=name, namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(),
                    resourceVersion=self.next_rv())
        meta.pop("deletionTimestamp", None)
        body["kind"], body["apiVersion"] = kind, api_version
        if has_spec:
            meta["generation"] = 1
        if RESOURCES[(prefix, plural)][3]:
            body.pop("status", None)
        self.objects[key] = body
        self.record(key, "ADDED", body)
        return body

    def update(self, key, body, subresource):
        current = self.get(key)
        kind, api_version, has_spec, has_status = RESOURCES[(key[0], key[1])]
        meta = body.get("metadata") or {}
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict",
                           'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                           "please apply your changes to the latest version and try again" % (key[1], key[3]))
        if meta.get("name") not in (None, key[3]):
            raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)"
                           % (meta.get("name"), key[3]))
        new = copy.deepcopy(current)
        if subresource == "status":
            new["status"] = copy.deepcopy(body.get("status"))
        else:
            keep_status = current.get("status")
            new = copy.deepcopy(body)
            new_meta = new.setdefault("metadata", {})
            for immutable in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                              "deletionGracePeriodSeconds", "generation"):
                if immutable in current["metadata"]:
                    new_meta[immutable] = current["metadata"][immutable]
                else:
                    new_meta.pop(immutable, None)
            new["kind"], new["apiVersion"] = kind, api_version
            if has_status:
                if keep_status is None:
                    new.pop("status", None)
                else:
                    new["status"] = keep_status
            if has_spec and new.get("spec") != current.get("spec"):
                new_meta["generation"] = current["metadata"].get("generation", 0) + 1
            if current["metadata"].get("deletionTimestamp"):
                old_f = set(current["metadata"].get("finalizers") or [])
                added = [f for f in (new_meta.get("finalizers") or []) if f not in old_f]
                if added:
                    raise ApiError(422, "Invalid", "metadata.finalizers: Forbidden: no new finalizers can be "
                                   "added if the object is being deleted, found new finalizers %s" % added)
        if new == current:
            return current  # a no-op write does not bump resourceVersion (as etcd3 storage behaves)
        new["metadata"]["resourceVersion"] = self.next_rv()
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            return self.remove(key, new)
        self.objects[key] = new
        self.record(key, "MODIFIED", new)
        return new

    def patch(self, key, patch, subresource):
        current = self.get(key)
        merged = merge_patch(current, patch)
        if subresource != "status":
            merged.setdefault("metadata", {})["resourceVersion"] = \
                (patch.get("metadata") or {}).get("resourceVersion") or current["metadata"]["resourceVersion"]
        return self.update(key, merged, subresource)

    def delete(self, key):
        current = self.get(key)
        if current["metadata"].get("finalizers"):
            if current["metadata"].get("deletionTimestamp"):
                return current
            new = copy.deepcopy(current)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["metadata"]["resourceVersion"] = self.next_rv()
            self.objects[key] = new
            self.record(key, "MODIFIED", new)
            return new
        current = copy.deepcopy(current)
        current["metadata"]["resourceVersion"] = self.next_rv()
        return self.remove(key, current)

    def remove(self, key, final):
        del self.objects[key]
        self.record(key, "DELETED", final)
        self.collect_garbage(final["metadata"]["uid"])
        return final

    def collect_garbage(self, owner_uid):
        for key, obj in list(self.objects.items()):
            if key not in self.objects:
                continue
            owners = obj["metadata"].get("ownerReferences") or []
            if any(o.get("uid") == owner_uid for o in owners):
                self.delete(key)

    def stats(self):
        by_verb = {}
        for key, n in self.verb_counts.items():
            verb = key.split(" ")[0]
            by_verb[verb] = by_verb.get(verb, 0) + n
        objects, ready = {}, {}
        for key, obj in self.objects.items():
            objects[key[1]] = objects.get(key[1], 0) + 1
            if is_ready(obj):
                ready[key[1]] = ready.get(key[1], 0) + 1
        return {"requests": by_verb, "byResource": dict(self.verb_counts), "objects": objects, "ready": ready}

    def list(self, prefix, plural, ns, selector):
        items = [copy.deepcopy(o) for k, o in sorted(self.objects.items())
                 if k[0] == prefix and k[1] == plural and (ns is None or k[2] == ns) and matches(o, selector)]
        kind, api_version, _, _ = RESOURCES[(prefix, plural)]
        if not prefix.startswith("/apis/cm."):
            for item in items:  # built-in list items come without kind/apiVersion
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {"kind": kind + "List", "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self.rv)}, "items": items}


def kube_verb(method, path, query):
    """'VERB resource[/subresource]' as the apiserver's request metrics name it."""
    m = PATH_RE.match(path)
    resource = (m["plural"] + ("/" + m["sub"] if m["sub"] else "")) if m else "unknown"
    if method == "GET":
        verb = "get" if m and m["name"] else ("watch" if query.get("watch") in ("1", "true") else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())
    return "%s %s" % (verb, resource)


def is_ready(obj):
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"].get("generation"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def parse_selector(text):
    sel = {}
    for part in filter(None, (text or "").split(",")):
        k, _, v = part.partition("=")
        sel[k.strip()] = v.strip().lstrip("=")
    return sel


def matches(obj, selector):
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    args = ap.parse_args()
    store = Store()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            self.reply_encoded(code, json.dumps(obj).encode())

        # Serializing while the store lock is held is what keeps a reply consistent, so
        # the verbs below encode under the lock (no defensive deep copy needed) and write
        # to the socket after releasing it.
        def reply_encoded(self, code, data):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                return json.loads(raw)
            except ValueError as e:
                raise ApiError(400, "BadRequest", "the body of the request was in an unknown format: %s" % e)

        def hooks(self, path):
            if path == "/__requests" and self.command == "GET":
                with store.cond:
                    return self.reply(200, dict(store.requests))
            if path == "/__stats" and self.command == "GET":
                with store.cond:
                    return self.reply(200, store.stats())
            if path == "/__reset_requests":
                with store.cond:
                    store.requests.clear()
                    store.verb_counts.clear()
                return self.reply(200, {})
            if path == "/__compact":
                with store.cond:
                    store.compacted_rv = store.rv
                    store.events = []
                    store.event_rvs = []
                return self.reply(200, {"compacted": str(store.compacted_rv)})
            if path == "/__faults":
                faults = self.body()
                with store.cond:
                    store.faults = [dict(f, path_re=re.compile(f.get("path", ".*"))) for f in faults]
                return self.reply(200, {})
            if path == "/__close_watches":
                with store.cond:
                    store.watch_epoch += 1
                    store.cond.notify_all()
                return self.reply(200, {})
            return self.reply(404, {"error": "unknown hook"})

        def handle_any(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            path = url.path
            try:
                if path.startswith("/__"):
                    return self.hooks(path)
                with store.cond:
                    if self.headers.get("X-Fake-Uncounted") != "1":
                        counted = "%s %s" % (self.command, path)
                        store.requests[counted] = store.requests.get(counted, 0) + 1
                        verb = kube_verb(self.command, path, query)
                        store.verb_counts[verb] = store.verb_counts.get(verb, 0) + 1
                    for f in store.faults:
                        if f.get("count", 1) != 0 and f.get("method", self.command) == self.command \
                                and f["path_re"].search(path):
                            if f.get("count", 1) > 0:
                                f["count"] = f.get("count", 1) - 1
                            raise ApiError(f.get("status", 500), f.get("reason", "InternalError"),
                                           "injected fault for %s %s" % (self.command, path))
                if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                m = PATH_RE.match(path)
                if not m or (m["prefix"], m["plural"]) not in RESOURCES:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                prefix, plural, ns, name, sub = m["prefix"], m["plural"], m["ns"], m["name"], m["sub"]
                if sub and not RESOURCES[(prefix, plural)][3]:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                if name is None:
                    if self.command == "GET":
                        if query.get("watch") in ("1", "true"):
                            return self.watch(prefix, plural, ns, query)
                        with store.cond:
                            data = json.dumps(store.list(prefix, plural, ns,
                                                         parse_selector(query.get("labelSelector")))).encode()
                        return self.reply_encoded(200, data)
                    if self.command == "POST":
                        if ns is None:
                            raise ApiError(405, "MethodNotAllowed", "create needs a namespace")
                        body = self.body()
                        with store.cond:
                            data = json.dumps(store.create(prefix, plural, ns, body)).encode()
                        return self.reply_encoded(201, data)
                    raise ApiError(405, "MethodNotAllowed", "method %s not allowed on a collection" % self.command)
                if ns is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                key = (prefix, plural, ns, name)
                if self.command == "GET":
                    with store.cond:
                        data = json.dumps(store.get(key)).encode()
                    return self.reply_encoded(200, data)
                if self.command == "PUT":
                    body = self.body()
                    with store.cond:
                        data = json.dumps(store.update(key, body, sub)).encode()
                    return self.reply_encoded(200, data)
                if self.command == "PATCH":
                    ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                    if ctype != "application/merge-patch+json":
                        raise ApiError(415, "UnsupportedMediaType",
                                       "the body of the request was in an unknown format - accepted media types "
                                       "include: application/merge-patch+json")
                    body = self.body()
                    with store.cond:
                        data = json.dumps(store.patch(key, body, sub)).encode()
                    return self.reply_encoded(200, data)
                if self.command == "DELETE" and not sub:
                    with store.cond:
                        data = json.dumps(store.delete(key)).encode()
                    return self.reply_encoded(200, data)
                raise ApiError(405, "MethodNotAllowed", "method %s not allowed" % self.command)
            except ApiError as e:
                return self.reply(e.code, e.status())

        def write_chunk(self, obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def watch(self, prefix, plural, ns, query):
            kind, api_version, _, _ = RESOURCES[(prefix, plural)]
            bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
            timeout = float(query.get("timeoutSeconds") or 1800)
            deadline = time.monotonic() + timeout
            rv_text = query.get("resourceVersion") or ""
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pending = []
            with store.cond:
                epoch = store.watch_epoch
                if rv_text in ("", "0"):
                    pos_rv = store.rv
                    for k, o in sorted(store.objects.items()):
                        if k[0] == prefix and k[1] == plural and (ns is None or k[2] == ns):
                            pending.append({"type": "ADDED", "object": copy.deepcopy(o)})
                else:
                    pos_rv = int(rv_text)
                    if pos_rv < store.compacted_rv:
                        pending.append({"type": "ERROR", "object": {
                            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": "too old resource version: %d (%d)" % (pos_rv, store.compacted_rv),
                            "reason": "Expired", "code": 410}})
                        deadline = 0
            try:
                for ev in pending:
                    self.write_chunk(ev)
                last_bookmark = time.monotonic()
                while time.monotonic() < deadline:
                    with store.cond:
                        store.cond.wait(timeout=min(0.2, args.bookmark_interval))
                        if store.watch_epoch != epoch:
                            break
                        # Events are in rv order: start after pos_rv instead of scanning the
                        # whole history on every wake-up (quadratic with many writes).
                        first = bisect.bisect_right(store.event_rvs, pos_rv)
                        batch = [e for e in store.events[first:] if e[1] == prefix and e[2] == plural
                                 and (ns is None or e[3] == ns)]
                        current_rv = store.rv
                    for e in batch:
                        self.write_chunk({"type": e[4], "object": e[5]})
                        pos_rv = e[0]
                    if bookmarks and time.monotonic() - last_bookmark >= args.bookmark_interval:
                        pos_rv = max(pos_rv, current_rv)
                        self.write_chunk({"type": "BOOKMARK", "object": {
                            "kind": kind, "apiVersion": api_version,
                            "metadata": {"resourceVersion": str(pos_rv)}}})
                        last_bookmark = time.monotonic()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
