#!/usr/bin/env python3
"""A fake ChartMuseum: the HTTP API of helm/chartmuseum v0.16 (pkg/chartmuseum/server/
multitenant handlers.go + api.go + routes.go, router/router.go, gin-contrib/size, the
local backend of chartmuseum/storage), backed by a real local-storage directory laid
out as `chartmuseum --storage=local --storage-local-rootdir=DIR`. docs/chartmuseum.md
lists what was checked against which source.

Behaviour mirrored from ChartMuseum:
  GET  /health, GET /info                   -> 200 {"healthy":true} / {"version": ...}; no auth at all
  GET  /<repo>/index.yaml                   -> index regenerated from the stored .tgz files
  GET  /<repo>/charts/<file>                -> the stored object (straight from storage), 404 {"error":"object not found"}
  GET  /api/<repo>/charts[?offset=&limit=]  -> {name: [chart versions]}
  GET  /api/<repo>/charts/<name>            -> [chart versions], 404 "chart not found"
  GET  /api/<repo>/charts/<name>/<version>  -> chart version ("latest" allowed), 404
  HEAD of the two previous                  -> same status, no body
  POST /api/<repo>/charts                   -> raw .tgz body, or multipart/form-data field "chart"
       body over --max-upload-size: --max-upload-size + 1 bytes are read, then 413
       "request too large" (text/plain, Connection: close), the rest is left unread and
       the connection closed after 500 ms (Go's lingering close; then RST)
       a package Helm's loader refuses (gzip/tar, Chart.yaml, SemVer, name, type, aliases):
       400 {"error": "validation: ..."} (raw body and form alike, as v0.16; older releases: 500 for a raw body)
       201 {"saved":true}; 409 {"error":"file already exists"} when name+version exists,
       unless --allow-overwrite, or ?force (any value) and not --disable-force-overwrite;
       --max-storage-objects N reached: 507 {"error":"repo has reached storage limit"}
  DELETE /api/<repo>/charts/<name>/<version> -> 200 {"deleted":true}; ANY storage error is
       404 {"error": "remove <path>: <reason>"} ("no such file or directory" when missing)
       with --disable-delete the route does not exist: 404 {"error":"not found"}
  anything else                             -> 404 {"error":"not found"}
<repo> is exactly --depth path segments ("" for depth 0).
Auth (--basic-auth user:pass, --bearer-token T): every route but /health and /info needs
the credentials, else 401 {"error":"unauthorized"} with WWW-Authenticate;
--auth-anonymous-get lets GET/HEAD through.
ChartMuseum's bearer auth checks JWTs from an auth server; this fake accepts one static token.

Test-only control endpoints (no auth, no tenant prefix):
  POST /__faults {"fail_next": N, "status": 500, "body": "..."}  the next N API requests fail
  POST /__faults {"delay_ms": M}                                  every request waits M ms (0 = off)
  POST /__faults {"stall_uploads_after": N}  the first N chart uploads go through; every later
       one waits, its body read and nothing stored yet, until {"stall_uploads_after": -1}
       releases it (then it is stored as usual, even if its client is gone by then)
  POST /__faults {"delete_error": "permission denied"}  deleting an existing object fails with
       this storage error (a read-only or foreign-owned volume, an S3 denial); null = off
  POST /__faults {"index_lag_ms": M}  objects stored from now on stay out of the index and
       the API for M ms (ChartMuseum updates its cached index asynchronously, and a
       restarted one serves its old index-cache.yaml for a while); 409 still sees them
  POST /__faults {"truncate_next_upload": true}  the next upload is written half (storage
       is not atomic) and its connection dropped unanswered, as when ChartMuseum dies mid-write
  GET  /__state  -> {"charts": {name: {version: sha256}} of tenant "", "stalled": uploads waiting,
                     "tenants": {tenant: {name: {version: sha256}}} (what storage holds, lag or not),
                     "requests": {"METHOD /path": count}, "log": [{method, path, query, status,
                     content_type, authorization}]}
Provenance files: POST /api/<repo>/prov (raw body or form field "prov") and the "prov" field
beside "chart" in a POST /api/<repo>/charts form store <name>-<version>.tgz.prov, the name and
version read from the signed text as ChartMuseum's ProvenanceFilenameFromContent does (a
"-----BEGIN PGP SIGNED MESSAGE-----" start, then "\nname: " and "\nversion: " lines; else 400);
an existing one is 409 unless overwriting is allowed, like a chart. DELETE removes it too."""
import argparse
import base64
import datetime
import email.parser
import email.policy
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse

import yaml

VERSION = "0.16.2-fake"
SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")


class PackageError(Exception):
    pass


def chart_metadata_from_tgz(content):
    """Reads <dir>/Chart.yaml the way Helm's loader.LoadArchive does (first path
    component stripped), returning the metadata dict. Raises PackageError with a
    message shaped like Helm's."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(content), mode="r:gz")
    except (tarfile.ReadError, EOFError, OSError) as err:
        raise PackageError("gzip: invalid header" if not content.startswith(b"\x1f\x8b") else str(err))
    chart_yaml = None
    try:
        with archive:
            for member in archive:
                parts = member.name.split("/", 1)
                if len(parts) < 2:
                    continue
                rel = parts[1]
                if rel.startswith("/") or ".." in rel.split("/"):
                    raise PackageError("chart illegally references parent directory")
                if rel == "Chart.yaml" and member.isfile() and chart_yaml is None:
                    chart_yaml = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        raise PackageError(str(err) or "unexpected EOF")
    if chart_yaml is None:
        raise PackageError("Chart.yaml file is missing")
    try:
        metadata = yaml.safe_load(chart_yaml)
    except yaml.YAMLError as err:
        raise PackageError("cannot load Chart.yaml: %s" % err)
    if not isinstance(metadata, dict):
        raise PackageError("cannot load Chart.yaml: not a mapping")
    for key in ("version", "appVersion"):
        if key in metadata and metadata[key] is not None and not isinstance(metadata[key], str):
            metadata[key] = str(metadata[key])
    validate_metadata(metadata)
    return metadata


# Masterminds/semver v3 NewVersion (the loose form Helm's loader accepts): optional
# "v", one to three numeric parts, dot-separated prerelease and build identifiers.
LOOSE_SEMVER = re.compile(r"^v?[0-9]+(\.[0-9]+)?(\.[0-9]+)?"
                          r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")
ALIAS = re.compile(r"^[a-zA-Z0-9_-]+$")


def valid_semver(version):
    if not LOOSE_SEMVER.match(version):
        return False
    pre = version.split("+", 1)[0].partition("-")[2]
    # A numeric prerelease identifier may not have leading zeros.
    return all(not (p.isdigit() and len(p) > 1 and p[0] == "0") for p in pre.split(".")) if pre else True


def validate_metadata(metadata):
    """Helm 3's chart.Metadata.Validate as ChartMuseum v0.16's loader runs it on
    every upload; the messages are Helm's ("validation: ..."). A missing
    apiVersion is v1, as Helm's loader defaults it."""
    def fail(message):
        raise PackageError("validation: " + message)
    if not metadata.get("apiVersion"):
        metadata["apiVersion"] = "v1"
    name = metadata.get("name")
    if not name:
        fail("chart.metadata.name is required")
    if not isinstance(name, str) or name != os.path.basename(name) or "\\" in name:
        fail("chart.metadata.name %s is invalid" % json.dumps(str(name)))
    version = metadata.get("version")
    if not version:
        fail("chart.metadata.version is required")
    if not valid_semver(version):
        fail("chart.metadata.version %s is invalid" % json.dumps(version))
    if metadata.get("type") not in (None, "", "application", "library"):
        fail("chart.metadata.type must be application or library")
    seen = set()
    for dep in metadata.get("dependencies") or []:
        if not isinstance(dep, dict):
            continue
        alias = dep.get("alias") or ""
        if alias and not ALIAS.match(str(alias)):
            fail("dependency %s has disallowed characters in the alias" % json.dumps(str(dep.get("name"))))
        key = alias or dep.get("name")
        if key in seen:
            fail("more than one dependency with name or alias %s" % json.dumps(str(key)))
        seen.add(key)


def version_key(version):
    """Masterminds-style ordering: numeric major.minor.patch, a prerelease sorts
    before its release; unparseable versions sort last."""
    m = SEMVER.match(version)
    if not m:
        return (0, (), 0, ())
    nums = tuple(int(g or 0) for g in m.group(1, 2, 3))
    pre = m.group(4)
    if pre is None:
        return (1, nums, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (1, nums, 0, ids)


def rfc3339(ts):
    dt = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


class Storage:
    """ChartMuseum's local storage: objects are files under rootdir/<tenant>/."""

    def __init__(self, root):
        self.root = root
        # (tenant, filename) -> time before which the index does not list it yet:
        # ChartMuseum adds an upload to its cached index asynchronously.
        self.hidden_until = {}
        self.index_lag = 0.0

    def tenant_dir(self, tenant):
        return os.path.join(self.root, tenant) if tenant else self.root

    def path(self, tenant, filename):
        return os.path.join(self.tenant_dir(tenant), filename)

    def get(self, tenant, filename):
        with open(self.path(tenant, filename), "rb") as f:
            return f.read()

    def put(self, tenant, filename, content):
        directory = self.tenant_dir(tenant)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, self.path(tenant, filename))
        self._written(tenant, filename)

    def put_torn(self, tenant, filename, content):
        """What ChartMuseum's local storage leaves when it dies mid-write: its
        ioutil.WriteFile is not atomic, so the object exists with a prefix."""
        directory = self.tenant_dir(tenant)
        os.makedirs(directory, exist_ok=True)
        with open(self.path(tenant, filename), "wb") as f:
            f.write(content)
        self._written(tenant, filename)

    def _written(self, tenant, filename):
        if self.index_lag > 0:
            self.hidden_until[(tenant, filename)] = time.monotonic() + self.index_lag

    def object_count(self, tenant):
        """ListObjects of the local backend: the files (not folders) of the tenant dir."""
        directory = self.tenant_dir(tenant)
        try:
            return sum(1 for f in os.listdir(directory) if os.path.isfile(os.path.join(directory, f)))
        except FileNotFoundError:
            return 0

    def delete(self, tenant, filename):
        os.remove(self.path(tenant, filename))

    def chart_versions(self, tenant, base_url, include_lagging=False):
        """Every readable .tgz in the tenant dir as index entries, per name newest
        first; without include_lagging, not those the index has not caught up with."""
        directory = self.tenant_dir(tenant)
        entries = {}
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            names = []
        for filename in names:
            full = os.path.join(directory, filename)
            if not filename.endswith(".tgz") or not os.path.isfile(full):
                continue
            if not include_lagging and self.hidden_until.get((tenant, filename), 0) > time.monotonic():
                continue  # stored, but not in the index yet
            with open(full, "rb") as f:
                content = f.read()
            try:
                metadata = chart_metadata_from_tgz(content)
            except PackageError:
                continue  # ChartMuseum logs and skips unreadable packages
            entry = dict(metadata)
            url = "charts/" + filename
            entry["urls"] = [base_url.rstrip("/") + "/" + url if base_url else url]
            entry["created"] = rfc3339(os.stat(full).st_mtime)
            entry["digest"] = hashlib.sha256(content).hexdigest()
            entries.setdefault(metadata["name"], []).append(entry)
        for versions in entries.values():
            versions.sort(key=lambda e: version_key(e["version"]), reverse=True)
        return entries

    def tenants(self):
        """Every directory holding .tgz files, as tenant paths relative to the root."""
        found = {}
        for dirpath, _, filenames in os.walk(self.root):
            if any(f.endswith(".tgz") for f in filenames):
                rel = os.path.relpath(dirpath, self.root)
                found["" if rel == "." else rel.replace(os.sep, "/")] = True
        return sorted(found)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--storage-local-rootdir", default="")
    ap.add_argument("--depth", type=int, default=0)
    ap.add_argument("--basic-auth", default="", help="user:pass")
    ap.add_argument("--bearer-token", default="")
    ap.add_argument("--auth-anonymous-get", action="store_true")
    ap.add_argument("--allow-overwrite", action="store_true")
    ap.add_argument("--disable-force-overwrite", action="store_true")
    ap.add_argument("--disable-delete", action="store_true")
    ap.add_argument("--disable-api", action="store_true")
    ap.add_argument("--chart-url", default="")
    ap.add_argument("--max-upload-size", type=int, default=20971520)
    ap.add_argument("--max-storage-objects", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args()

    owned_root = None
    root = args.storage_local_rootdir
    if not root:
        owned_root = root = tempfile.mkdtemp(prefix="fake-chartmuseum-")
    os.makedirs(root, exist_ok=True)
    storage = Storage(root)
    # Reentrant: answers (which log the request under it) are sent from inside it.
    lock = threading.RLock()
    faults = {"fail_next": 0, "status": 500, "body": None, "delay_ms": 0, "stall_uploads_after": -1,
              "delete_error": None, "truncate_next_upload": False}
    # Uploads admitted so far and uploads held by the stall fault; guarded by `lock`,
    # waited on through `stall_changed` (which shares it).
    uploads = {"admitted": 0, "stalled": 0}
    stall_changed = threading.Condition(lock)
    counters = {}
    request_log = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ChartMuseum/" + VERSION

        def log_message(self, fmt, *a):
            if args.verbose:
                sys.stderr.write("fake-chartmuseum: " + (fmt % a) + "\n")

        # --- plumbing -------------------------------------------------------
        def _read_body(self, limit=None):
            """The request body, or None when it is longer than `limit` (then
            limit + 1 bytes have been read and the rest is left unread)."""
            self.body_pending = False
            cap = None if limit is None else limit + 1
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks, total = [], 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    if cap is not None and total + size >= cap:
                        self.rfile.read(cap - total)
                        return None
                    chunks.append(self.rfile.read(size))
                    total += size
                    self.rfile.readline()
                body = b"".join(chunks)
            else:
                length = int(self.headers.get("Content-Length") or 0)
                if cap is not None and length >= cap:
                    self.rfile.read(cap)
                    return None
                body = self.rfile.read(length) if length else b""
            self.pending_upload = body
            return body

        def _send(self, status, body=b"", content_type="application/json; charset=utf-8", headers=None):
            self.status_sent = status
            self._log_request()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if body or self.command != "HEAD":
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status, obj, headers=None):
            self._send(status, json.dumps(obj).encode(), headers=headers)

        def _authorized(self, path):
            if not args.basic_auth and not args.bearer_token:
                return True
            # /health and /info carry no auth action in ChartMuseum's routes: they
            # answer anyone, whatever credentials come along.
            if self._parse(path)[0] in ("health", "info"):
                return True
            if args.auth_anonymous_get and self.command in ("GET", "HEAD"):
                return True
            header = self.headers.get("Authorization", "")
            if args.bearer_token and header == "Bearer " + args.bearer_token:
                return True
            if args.basic_auth and header == "Basic " + base64.b64encode(args.basic_auth.encode()).decode():
                return True
            return False

        def _unauthorized(self):
            if args.bearer_token:
                challenge = 'Bearer realm="fake-chartmuseum",service="chartmuseum"'
            else:
                challenge = 'Basic realm="ChartMuseum"'
            self._json(401, {"error": "unauthorized"}, headers={"WWW-Authenticate": challenge})

        # --- dispatch -------------------------------------------------------
        def _is_upload(self, path):
            return self.command == "POST" and path.startswith("/api/") and \
                path.rstrip("/").rsplit("/", 1)[-1] in ("charts", "prov")

        def _handle(self):
            self.status_sent = 0
            self.body_pending = self.command in ("POST", "PUT", "DELETE", "PATCH")
            parsed = urllib.parse.urlsplit(self.path)
            path, query = parsed.path, urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
            self.logged = None
            if path.startswith("/__"):
                return self._control(path, self._read_body())
            self.logged = (path, parsed.query)
            with lock:
                delay = faults["delay_ms"]
            if delay:
                time.sleep(delay / 1000.0)
            try:
                with lock:
                    inject = faults["fail_next"] > 0
                    if inject:
                        faults["fail_next"] -= 1
                        status, fault_body = faults["status"], faults["body"]
                if inject:
                    payload = fault_body if fault_body is not None else json.dumps({"error": "injected fault"})
                    return self._send(status, payload.encode())
                # As ChartMuseum's router: route, then auth, then the handler reads the body.
                if not self._route_exists(path):
                    return self._json(404, {"error": "not found"})
                if not self._authorized(path):
                    return self._unauthorized()
                if self._is_upload(path):
                    body = self._read_body(limit=args.max_upload_size)
                    if body is None:
                        return self._too_large()
                    if not self._admit_upload(self._parse(path)[1]):
                        return  # the connection was dropped mid-write (torn upload)
                else:
                    body = self._read_body() if self.body_pending else b""
                self._route(path, query, body)
            finally:
                if self.body_pending:
                    self._discard_body()
                self._log_request()  # one that got no answer at all (a torn upload)

        def _log_request(self):
            """Counts the API request and logs it, once, before its answer goes out:
            a client that has its answer and then reads /__state finds it there."""
            if self.logged is None:
                return
            path, query = self.logged
            self.logged = None
            with lock:
                key = "%s %s" % (self.command, path)
                counters[key] = counters.get(key, 0) + 1
                request_log.append({"method": self.command, "path": path, "query": query,
                                    "status": self.status_sent,
                                    "content_type": self.headers.get("Content-Type", ""),
                                    "authorization": self.headers.get("Authorization", "")})

        def _admit_upload(self, tenant):
            """The stall and torn-write faults, applied once an upload's body is read
            and before anything is stored. False: the upload was torn and its
            connection dropped without an answer (ChartMuseum died mid-write)."""
            with stall_changed:
                limit = faults["stall_uploads_after"]
                if limit >= 0 and uploads["admitted"] >= limit:
                    uploads["stalled"] += 1
                    stall_changed.notify_all()
                    stall_changed.wait_for(lambda: faults["stall_uploads_after"] < 0 or
                                           uploads["admitted"] < faults["stall_uploads_after"])
                    uploads["stalled"] -= 1
                uploads["admitted"] += 1
                torn = faults["truncate_next_upload"]
                faults["truncate_next_upload"] = False
            if not torn:
                return True
            try:
                metadata = chart_metadata_from_tgz(self.pending_upload)
                filename = "%s-%s.tgz" % (metadata["name"], metadata["version"])
                with lock:
                    storage.put_torn(tenant, filename,
                                     self.pending_upload[:len(self.pending_upload) // 2])
            except PackageError:
                pass
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return False

        def _too_large(self):
            """gin-contrib/size as ChartMuseum's router uses it: having read
            --max-upload-size + 1 bytes it answers 413 as text/plain with
            Connection: close and leaves the rest unread; Go's server then closes
            its side, and closes for good (RST, as bytes are still unread) after
            its 500 ms lingering delay."""
            self.close_connection = True
            self._send(413, b"request too large", "text/plain; charset=utf-8", headers={"Connection": "close"})
            self.body_pending = False
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                return
            time.sleep(0.5)

        def _discard_body(self):
            """A body the handler did not read: up to 256 KiB is drained so the
            connection can carry the next request (as Go's server does); beyond
            that the connection is closed."""
            self.body_pending = False
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self.close_connection = True
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > (256 << 10):
                self.close_connection = True
            elif length:
                self.rfile.read(length)

        do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = _handle

        def _split_tenant(self, segments):
            if len(segments) < args.depth:
                return None, None
            return "/".join(segments[:args.depth]), segments[args.depth:]

        def _parse(self, path):
            """(kind, tenant, rest) for a routed path, or None."""
            segments = [urllib.parse.unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
            if path in ("/", ""):
                return ("welcome", "", [])
            if segments == ["health"]:
                return ("health", "", [])
            if segments == ["info"]:
                return ("info", "", [])
            if segments and segments[0] == "api" and not args.disable_api:
                tenant, rest = self._split_tenant(segments[1:])
                if tenant is not None and rest == ["prov"]:
                    return ("prov", tenant, [])
                if tenant is None or not rest or rest[0] != "charts" or len(rest) > 3:
                    return None
                return ("api", tenant, rest[1:])
            tenant, rest = self._split_tenant(segments)
            if tenant is None:
                return None
            if rest == ["index.yaml"]:
                return ("index", tenant, [])
            if len(rest) == 2 and rest[0] == "charts":
                return ("object", tenant, rest[1:])
            return None

        def _route_exists(self, path):
            route = self._parse(path)
            if route is None:
                return False
            kind, _, rest = route
            method = self.command
            if kind == "prov":
                return method == "POST"
            if kind in ("welcome", "health", "info", "index", "object"):
                return method in ("GET", "HEAD") if kind != "object" else method == "GET"
            if len(rest) == 0:
                return method in ("GET", "POST")
            if len(rest) == 1:
                return method in ("GET", "HEAD")
            if method == "DELETE":
                return not args.disable_delete
            return method in ("GET", "HEAD")

        def _route(self, path, query, body):
            kind, tenant, rest = self._parse(path)
            if kind == "welcome":
                return self._send(200, b"<!DOCTYPE html><html><body><h1>Welcome to ChartMuseum!</h1></body></html>",
                                  "text/html")
            if kind == "health":
                return self._json(200, {"healthy": True})
            if kind == "info":
                return self._json(200, {"version": VERSION})
            if kind == "index":
                return self._send(200, self._index_yaml(tenant), "application/x-yaml")
            if kind == "object":
                return self._get_object(tenant, rest[0])
            if kind == "prov":
                return self._upload(tenant, query, body, field="prov")
            if self.command == "POST":
                return self._upload(tenant, query, body)
            if self.command == "DELETE":
                return self._delete(tenant, rest[0], rest[1])
            with lock:
                entries = storage.chart_versions(tenant, self._base_url(tenant))
            if not rest:
                return self._list(entries, query)
            versions = entries.get(rest[0])
            if len(rest) == 1:
                if not versions:
                    return self._json(404, {"error": "chart not found"})
                return self._json(200, versions)
            name, version = rest
            found = None
            if versions:
                if version == "latest":
                    found = versions[0]
                else:
                    found = next((v for v in versions if v["version"] == version), None)
            if found is None:
                return self._json(404, {"error": "no chart version found for %s-%s" % (name, version)})
            return self._json(200, found)

        # --- handlers -------------------------------------------------------
        def _base_url(self, tenant):
            if not args.chart_url:
                return ""
            return args.chart_url.rstrip("/") + ("/" + tenant if tenant else "")

        def _index_yaml(self, tenant):
            with lock:
                entries = storage.chart_versions(tenant, self._base_url(tenant))
            index = {"apiVersion": "v1", "entries": entries,
                     "generated": rfc3339(time.time()), "serverInfo": {}}
            return yaml.safe_dump(index, default_flow_style=False, sort_keys=True).encode()

        def _get_object(self, tenant, filename):
            if "/" in filename or filename in (".", ".."):
                return self._json(404, {"error": "object not found"})
            try:
                with lock:
                    content = storage.get(tenant, filename)
            except OSError:
                return self._json(404, {"error": "object not found"})
            if filename.endswith(".tgz"):
                return self._send(200, content, "application/x-tar")
            if filename.endswith(".prov"):
                return self._send(200, content, "application/pgp-signature")
            return self._json(500, {"error": "unsupported file extension"})

        def _list(self, entries, query):
            offset, limit = 0, -1
            if "offset" in query:
                try:
                    offset = int(query["offset"][0])
                except ValueError:
                    offset = -1
                if offset < 0:
                    return self._json(400, {"error": "offset is not a valid non-negative integer"})
            if "limit" in query:
                try:
                    limit = int(query["limit"][0])
                except ValueError:
                    limit = 0
                if limit <= 0:
                    return self._json(400, {"error": "limit is not a valid positive integer"})
            if offset == 0 and limit == -1:
                return self._json(200, entries)
            keys = sorted(entries)
            end = len(keys) if limit == -1 else min(len(keys), offset + limit)
            return self._json(200, {k: entries[k] for k in keys[offset:end]})

        def _upload(self, tenant, query, body, field="chart"):
            force = "force" in query
            multipart = self.headers.get("Content-Type", "").split(";")[0].strip().lower() == "multipart/form-data"
            prov = None
            if multipart:
                content = self._form_file(body, "chart") if field == "chart" else None
                prov = self._form_file(body, "prov")
                if content is None and prov is None:
                    return self._json(400, {"error": "no package or provenance file found in form fields chart and prov"})
            elif field == "prov":
                content, prov = None, body
            else:
                content = body
            may_overwrite = args.allow_overwrite or (force and not args.disable_force_overwrite)
            prov_filename = None
            if prov is not None:
                text = prov.decode("utf-8", "replace")
                name = re.search(r"\nname:[ *](.+)", text)
                version = re.search(r"\nversion:[ *](.+)", text)
                if not text.startswith("-----BEGIN PGP SIGNED MESSAGE-----") or not name or not version:
                    return self._json(400, {"error": "could not extract name and version from provenance file"})
                prov_filename = "%s-%s.tgz.prov" % (name.group(1), version.group(1))
                with lock:
                    if os.path.isfile(storage.path(tenant, prov_filename)) and not may_overwrite:
                        return self._json(409, {"error": "%s already exists" % prov_filename})
            if content is None:
                with lock:
                    try:
                        storage.put(tenant, prov_filename, prov)
                    except OSError as err:
                        return self._json(500, {"error": str(err)})
                return self._json(201, {"saved": True})
            # v0.16 answers 400 for a package Helm's loader refuses, raw body or
            # form alike (v0.13 and earlier answered 500 for a raw body).
            try:
                metadata = chart_metadata_from_tgz(content)
            except PackageError as err:
                return self._json(400, {"error": str(err)})
            filename = "%s-%s.tgz" % (metadata["name"], metadata["version"])
            if os.path.basename(filename) != filename or filename.startswith("."):
                return self._json(400, {"error": "%s is improperly formatted" % filename})
            with lock:
                exists = os.path.isfile(storage.path(tenant, filename))
                if exists and not may_overwrite:
                    message = "chart already exists" if multipart else "file already exists"
                    return self._json(409, {"error": message})
                # --max-storage-objects counts every object of the tenant; an
                # overwrite of an existing one is still allowed at the limit.
                if args.max_storage_objects > 0 and storage.object_count(tenant) >= args.max_storage_objects and \
                        not (exists and may_overwrite):
                    return self._json(507, {"error": "repo has reached storage limit"})
                try:
                    storage.put(tenant, filename, content)
                    if prov_filename is not None:
                        storage.put(tenant, prov_filename, prov)
                except OSError as err:
                    return self._json(500, {"error": str(err)})
            return self._json(201, {"saved": True})

        def _form_file(self, body, field):
            head = ("Content-Type: %s\r\nMIME-Version: 1.0\r\n\r\n" % self.headers.get("Content-Type")).encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            if not message.is_multipart():
                return None
            for part in message.iter_parts():
                if part.get_param("name", header="content-disposition") == field and \
                        part.get_param("filename", header="content-disposition") is not None:
                    return part.get_payload(decode=True)
            return None

        def _delete(self, tenant, name, version):
            """ChartMuseum turns every storage error of a delete into 404 with the
            backend's text, a missing object ("no such file or directory") and a
            failing volume ("permission denied", "read-only file system") alike."""
            filename = "%s-%s.tgz" % (name, version)
            full = storage.path(tenant, filename)
            with lock:
                failure = faults["delete_error"]
                try:
                    if os.path.basename(filename) != filename:
                        raise FileNotFoundError(2, "no such file or directory", full)
                    if failure and os.path.exists(full):
                        raise OSError(0, failure, full)
                    storage.delete(tenant, filename)
                except OSError as err:
                    return self._json(404, {"error": "remove %s: %s" % (full, (err.strerror or str(err)).lower())})
                try:
                    storage.delete(tenant, filename + ".prov")
                except OSError:
                    pass
            return self._json(200, {"deleted": True})

        # --- test control -----------------------------------------------------
        def _control(self, path, body):
            if path == "/__faults" and self.command == "POST":
                try:
                    spec = json.loads(body or b"{}")
                except ValueError as err:
                    return self._json(400, {"error": "bad fault spec: %s" % err})
                with lock:
                    if "fail_next" in spec:
                        faults["fail_next"] = int(spec["fail_next"])
                        faults["status"] = int(spec.get("status", 500))
                        faults["body"] = spec.get("body")
                    if "delay_ms" in spec:
                        faults["delay_ms"] = int(spec["delay_ms"])
                    if "stall_uploads_after" in spec:
                        faults["stall_uploads_after"] = int(spec["stall_uploads_after"])
                        stall_changed.notify_all()
                    if "delete_error" in spec:
                        faults["delete_error"] = spec["delete_error"] or None
                    if "truncate_next_upload" in spec:
                        faults["truncate_next_upload"] = bool(spec["truncate_next_upload"])
                    if "index_lag_ms" in spec:
                        storage.index_lag = int(spec["index_lag_ms"]) / 1000.0
                        if storage.index_lag <= 0:
                            storage.hidden_until.clear()
                    return self._json(200, dict(faults, index_lag_ms=int(storage.index_lag * 1000)))
            if path == "/__state" and self.command == "GET":
                with lock:
                    tenants = {}
                    for tenant in set(storage.tenants()) | {""}:
                        charts = {}
                        for name, versions in storage.chart_versions(tenant, "", include_lagging=True).items():
                            charts[name] = {v["version"]: v["digest"] for v in versions}
                        tenants[tenant] = charts
                    state = {"charts": tenants[""], "tenants": tenants, "requests": dict(counters),
                             "stalled": uploads["stalled"],
                             "log": list(request_log)}
                return self._json(200, state)
            return self._json(404, {"error": "not found"})

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    # Process (test/support) stops peers with SIGTERM; exit through `finally` so an
    # owned temp storage dir is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        Server(("127.0.0.1", args.port), Handler).serve_forever()
    finally:
        if owned_root:
            shutil.rmtree(owned_root, ignore_errors=True)


if __name__ == "__main__":
    main()
