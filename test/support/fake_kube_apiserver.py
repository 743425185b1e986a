#!/usr/bin/env python3
"""A small kube-apiserver that speaks the real wire format, for operator tests.

Serves, for the resources cmop touches (and namespaces):
  /apis/cm.bitnami.com/v1alpha1/[namespaces/NS/]chartmuseums[/NAME[/status]]  (schema: manifests/crd.yaml)
  /apis/batch/v1/[namespaces/NS/]cronjobs[/NAME[/status]]
  /apis/coordination.k8s.io/v1/[namespaces/NS/]leases[/NAME]
  /api/v1/[namespaces/NS/]events|secrets[/NAME]      /api/v1/namespaces[/NAME]

It answers as kube-apiserver v1.32 does (checked request by request against recorded
answers: test/operate/test_fake_apiserver_conformance.sh):
- Writes: body decoding (400: Lease/Event MicroTime needs exactly 6 fractional digits),
  body/URL namespace mismatch (400), missing namespace (404) or terminating one (403
  NamespaceTerminating), then validation (422 with details.causes): the CRD's structural
  schema (unknown fields pruned, defaults applied, types, formats, enums, patterns,
  minimum, required, list-map keys, for spec and status; on updates, values left as they
  were are not re-checked: validation ratcheting), DNS-1123 names, CronJob names
  of at most 52 characters, Lease durations > 0, Event involvedObject namespace, built-in
  defaults (CronJob pod template, Event fields) and CronJob fields its kind lacks dropped;
  then preconditions: a PUT without metadata.resourceVersion is 422 for custom resources
  and Leases, a stale one 409.
- metadata.resourceVersion is a global counter; generation starts at 1 and moves with
  spec changes and when deletionTimestamp is set; /status writes change only status,
  other writes never change status. A no-op write keeps the resourceVersion.
- DELETE honours propagationPolicy (Background default, Foreground, Orphan); an object
  with finalizers gets deletionTimestamp and stays until they are removed. A garbage
  collector and namespace controller run on their own (every --gc-interval seconds):
  dependents of a deleted or vanished owner uid are deleted, a deleted namespace's
  objects are deleted before it goes.
- Error bodies are Status objects with details and group-qualified names.
- ?watch=1 streams events after resourceVersion (synthetic ADDED for "" and "0"), an
  ERROR 410 Expired for versions older than the compaction point, and with
  allowWatchBookmarks a BOOKMARK every --bookmark-interval seconds and one 2 s before
  timeoutSeconds, each only when the resource's version advanced past where the watch
  started (no BOOKMARK on a quiet watch); the stream ends at timeoutSeconds.
- Authentication: a bearer token (--token) or, over TLS (--tls-cert/--tls-key), a client
  certificate signed by --client-ca; 401 otherwise. Impersonate-User makes a user without
  RBAC rights (403). Without --token and --client-ca every request is accepted.

Test hooks (no auth):
  POST /__compact          events up to now are forgotten; older watches get 410
  POST /__faults           body [{"method": "PUT", "path": "regex", "status": 500, "reason": "...",
                           "message": "...", "retryAfter": 2, "text": "plain body", "count": 1}]
                           answers the next matching requests with that failure (count -1 = forever):
                           a Status, or with "text" a text/plain body (priority-and-fairness 429s);
                           retryAfter adds a Retry-After header. An empty list clears the faults.
                           "as": "storage-initializing" or "priority-and-fairness" fills in the
                           429 the real server sends then (JSON Status / text/plain, Retry-After 1).
  POST /__watch_error      body {"code": 500, "reason": "InternalError", "message": "...", "count": 0}:
                           every open watch gets that ERROR event and ends, and so do the next
                           `count` watches at once (-1: every watch until the next /__watch_error)
  POST /__close_watches    ends every open watch stream (as an apiserver restart would)
  POST /__crd              body {"path": "crd.yaml"}: the CRD is replaced (an upgrade); objects stored
                           under the old schema stay, and updates that leave a value the new schema
                           refuses as it was are accepted (validation ratcheting)
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
import http.server
import json
import os
import re
import socketserver
import ssl
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_kube import errors  # noqa: E402
from fake_kube.errors import ApiError  # noqa: E402
from fake_kube.kinds import default_crd_path, resource_types  # noqa: E402
from fake_kube.schema import CustomResource  # noqa: E402
from fake_kube.store import Store  # noqa: E402
from fake_kube.watch import stream  # noqa: E402

PATH_RE = re.compile(
    r"^(?P<prefix>/api/v1|/apis/[^/]+/[^/]+)"
    r"(?:/namespaces/(?P<ns>[^/]+)(?=/))?"
    r"/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?"
    r"(?:/(?P<sub>status))?$")
ADMIN = "admin"


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


# The 429s of a real kube-apiserver: while its storage (re)initializes, and when API
# priority and fairness rejects a request.
FAULT_PRESETS = {
    "storage-initializing": {"status": 429, "reason": "TooManyRequests", "message": "storage is (re)initializing",
                             "details": {"retryAfterSeconds": 1}, "retryAfter": 1},
    "priority-and-fairness": {"status": 429, "retryAfter": 1,
                              "text": "Too many requests, please try again later.\n"},
}


def label_matcher(text):
    sel = parse_selector(text)
    return lambda obj: all((obj.get("metadata", {}).get("labels") or {}).get(k) == v for k, v in sel.items())


class Fake:
    """The store plus what only the HTTP side needs: counts, faults, watch signals."""

    def __init__(self, args):
        self.args = args
        self.types = resource_types(args.crd)
        self.store = Store(self.types, [n for n in args.namespaces.split(",") if n])
        self.faults = []
        self.requests = {}
        self.verb_counts = {}
        self.watch_epoch = 0          # bumped by /__close_watches
        self.watch_error = (0, None)  # (serial, Status) of the last /__watch_error
        self.watch_error_count = 0    # how many new watches get it too (-1: all)

    def stats(self):
        by_verb = {}
        for key, n in self.verb_counts.items():
            verb = key.split(" ")[0]
            by_verb[verb] = by_verb.get(verb, 0) + n
        objects, ready = {}, {}
        for key, obj in self.store.objects.items():
            objects[key[1]] = objects.get(key[1], 0) + 1
            if is_ready(obj):
                ready[key[1]] = ready.get(key[1], 0) + 1
        return {"requests": by_verb, "byResource": dict(self.verb_counts), "objects": objects, "ready": ready}


def make_handler(fake):
    store, args = fake.store, fake.args

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            if args.tls_cert:
                self.request.do_handshake()  # in this connection's thread, not the accept loop
            super().setup()

        def log_message(self, *a):
            pass

        def reply(self, code, obj, headers=None):
            self.reply_encoded(code, json.dumps(obj).encode(), headers=headers)

        # Serializing while the store lock is held is what keeps a reply consistent, so
        # the verbs below encode under the lock and write after releasing it.
        def reply_encoded(self, code, data, content_type="application/json", headers=None):
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def fail(self, e):
            if e.text is not None:
                return self.reply_encoded(e.code, e.text.encode(), "text/plain; charset=utf-8", e.headers)
            return self.reply(e.code, e.status(), e.headers)

        def body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                return json.loads(raw)
            except ValueError as e:
                raise errors.bad_request("the body of the request was in an unknown format: %s" % e)

        def hooks(self, path):
            if path == "/__requests" and self.command == "GET":
                with store.cond:
                    return self.reply(200, dict(fake.requests))
            if path == "/__stats" and self.command == "GET":
                with store.cond:
                    return self.reply(200, fake.stats())
            if path == "/__reset_requests":
                with store.cond:
                    fake.requests.clear()
                    fake.verb_counts.clear()
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
                    fake.faults = [dict(FAULT_PRESETS.get(f.get("as"), {}), **f, path_re=re.compile(f.get("path", ".*")))
                                   for f in faults]
                return self.reply(200, {})
            if path == "/__watch_error":
                status = self.body()
                with store.cond:
                    fake.watch_error = (fake.watch_error[0] + 1, {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": status.get("message", "injected watch error"),
                        "reason": status.get("reason", "InternalError"), "code": status.get("code", 500)})
                    fake.watch_error_count = status.get("count", 0)
                    store.cond.notify_all()
                return self.reply(200, {})
            if path == "/__crd":
                crd_path = self.body()["path"]
                with store.cond:
                    for rt in fake.types.values():
                        if rt.custom:
                            rt.crd = CustomResource(crd_path)
                return self.reply(200, {})
            if path == "/__close_watches":
                with store.cond:
                    fake.watch_epoch += 1
                    store.cond.notify_all()
                return self.reply(200, {})
            return self.reply(404, {"error": "unknown hook"})

        def injected_fault(self, path):
            for f in fake.faults:
                if f.get("count", 1) != 0 and f.get("method", self.command) == self.command \
                        and f["path_re"].search(path):
                    if f.get("count", 1) > 0:
                        f["count"] = f.get("count", 1) - 1
                    headers = {"Retry-After": str(f["retryAfter"])} if "retryAfter" in f else {}
                    return ApiError(f.get("status", 500), f.get("reason", "InternalError"),
                                    f.get("message", "injected fault for %s %s" % (self.command, path)),
                                    f.get("details"), headers, f.get("text"))
            return None

        def user(self):
            """The authenticated user, or None (401)."""
            auth = self.headers.get("Authorization") or ""
            if args.token and auth == "Bearer " + args.token:
                return ADMIN
            if args.client_ca:
                cert = self.request.getpeercert() if args.tls_cert else None
                for rdn in (cert or {}).get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            return v
            if not args.token and not args.client_ca:
                return ADMIN
            return None

        def authorize(self, user, path, query, m):
            """Impersonated users have no RBAC rights; everyone else is a cluster admin."""
            as_user = self.headers.get("Impersonate-User")
            if not as_user:
                return
            rt = fake.types[(m["prefix"], m["plural"])]
            verb = kube_verb(self.command, path, query).split(" ")[0]
            where = 'in the namespace "%s"' % m["ns"] if m["ns"] else "at the cluster scope"
            raise errors.forbidden(rt, m["name"] or "", 'User "%s" cannot %s resource "%s" in API group "%s" %s'
                                   % (as_user, verb, rt.plural, rt.group, where))

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
                        fake.requests[counted] = fake.requests.get(counted, 0) + 1
                        verb = kube_verb(self.command, path, query)
                        fake.verb_counts[verb] = fake.verb_counts.get(verb, 0) + 1
                    fault = self.injected_fault(path)
                if fault:
                    raise fault
                if self.user() is None:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                m = PATH_RE.match(path)
                if not m or (m["prefix"], m["plural"]) not in fake.types:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                self.authorize(self.user(), path, query, m)
                return self.serve(m, query)
            except ApiError as e:
                return self.fail(e)

        def serve(self, m, query):
            rt = fake.types[(m["prefix"], m["plural"])]
            ns, name, sub = m["ns"], m["name"], m["sub"]
            if sub and not rt.status:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if not rt.namespaced and ns:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if name is None:
                if self.command == "GET":
                    if query.get("watch") in ("1", "true"):
                        return self.watch(rt, ns, query)
                    with store.cond:
                        data = json.dumps(store.list(rt, ns, label_matcher(query.get("labelSelector")))).encode()
                    return self.reply_encoded(200, data)
                if self.command == "POST":
                    if rt.namespaced and ns is None:
                        raise ApiError(405, "MethodNotAllowed", "create needs a namespace")
                    body = self.body()
                    with store.cond:
                        data = json.dumps(store.create(rt, ns, body)).encode()
                    return self.reply_encoded(201, data)
                raise ApiError(405, "MethodNotAllowed", "method %s not allowed on a collection" % self.command)
            if rt.namespaced and ns is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if self.command == "GET":
                with store.cond:
                    data = json.dumps(store.get(rt, ns, name)).encode()
                return self.reply_encoded(200, data)
            if self.command == "PUT":
                body = self.body()
                with store.cond:
                    data = json.dumps(store.update(rt, ns, name, body, sub)).encode()
                return self.reply_encoded(200, data)
            if self.command == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype != "application/merge-patch+json":
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types "
                                   "include: application/merge-patch+json")
                body = self.body()
                with store.cond:
                    data = json.dumps(store.patch(rt, ns, name, body, sub)).encode()
                return self.reply_encoded(200, data)
            if self.command == "DELETE" and not sub:
                options = self.body()
                if query.get("propagationPolicy"):
                    options["propagationPolicy"] = query["propagationPolicy"]
                with store.cond:
                    data = json.dumps(store.delete(rt, ns, name, options)).encode()
                return self.reply_encoded(200, data)
            raise ApiError(405, "MethodNotAllowed", "method %s not allowed" % self.command)

        def write_chunk(self, obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def watch(self, rt, ns, query):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                stream(fake, rt, ns, query, self.write_chunk)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--bookmark-interval", type=float, default=60.0,
                    help="seconds between BOOKMARKs (the watch cache sends one a minute)")
    ap.add_argument("--crd", default=default_crd_path())
    ap.add_argument("--namespaces", default="default,kube-system,kube-public",
                    help="namespaces that exist at start (comma-separated)")
    ap.add_argument("--gc-interval", type=float, default=0.2,
                    help="seconds between passes of the garbage collector and namespace controller")
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    ap.add_argument("--client-ca", default="", help="CA of the client certificates that authenticate")
    args = ap.parse_args()
    fake = Fake(args)
    threading.Thread(target=fake.store.run_controllers, args=(args.gc_interval, threading.Event()),
                     daemon=True).start()

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request, client_address):
            pass  # a client that went away (or failed the TLS handshake) is not news

    server = Server(("127.0.0.1", args.port), make_handler(fake))
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key or None)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(args.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.serve_forever()


if __name__ == "__main__":
    main()
