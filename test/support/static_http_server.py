#!/usr/bin/env python3
"""A static file server for HTTP client and chart-repository tests.

Serves --root over HTTP/1.1 (or HTTPS with --tls-cert/--tls-key, optionally
requiring client certificates signed by --tls-client-ca) with:
  * ETag (sha256 of the content) + If-None-Match -> 304, and Last-Modified +
    If-Modified-Since -> 304 (--no-etag drops ETag so only dates revalidate);
  * optional basic auth (--basic-auth user:pass) on every file path;
  * GET /__redirect?to=URL[&status=302]  -> a redirect to URL;
  * GET /__slow?ms=N                     -> answers "slow" after N ms;
  * GET /__chunked?count=N[&gated=1]     -> chunked body "chunk-0\\n" .. "chunk-{N-1}\\n";
    with gated=1 each chunk after the first waits for one GET /__release
    (so a test proves a client delivers chunks as they arrive, without timing);
  * GET /__release                       -> lets one gated chunk go;
  * GET /__echo                          -> JSON of the request's method, path, headers;
  * GET /__requests  -> {"<path>": count} of every non-/__ request (path without query);
  * GET /__statuses  -> {"<path>": {"<status>": count}} of the answers given;
  * GET /__connections -> {"accepted": N}: connections accepted so far (keep-alive tests);
  * GET /__drop-next -> answers, then closes this connection when its next request
    arrives, without answering it (a server closing an idle keep-alive connection
    just as the client reuses it).
"""
import argparse
import base64
import email.utils
import hashlib
import http.server
import json
import mimetypes
import os
import socketserver
import ssl
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", default=".")
    ap.add_argument("--basic-auth", default="")
    ap.add_argument("--no-etag", action="store_true")
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    ap.add_argument("--tls-client-ca", default="", help="require client certificates issued by this CA")
    args = ap.parse_args()

    root = os.path.realpath(args.root)
    lock = threading.Lock()
    counts = {}
    statuses = {}
    release = threading.Semaphore(0)
    accepted = [0]
    expected_auth = ("Basic " + base64.b64encode(args.basic_auth.encode()).decode()) if args.basic_auth else ""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY the body
        # waits for the client's delayed ACK (40 ms per kept-alive request), which
        # real servers (Go's net/http, nginx) never make their clients wait.
        disable_nagle_algorithm = True

        drop_next = False

        def log_message(self, *a):
            pass

        def handle_one_request(self):
            if self.drop_next:
                self.rfile.readline()  # the request arrived: close without an answer
                with lock:
                    counts["__dropped"] = counts.get("__dropped", 0) + 1
                self.close_connection = True
                return
            super().handle_one_request()

        def _record(self, path, status):
            with lock:
                per = statuses.setdefault(path, {})
                per[str(status)] = per.get(str(status), 0) + 1

        def _reply(self, status, body=b"", headers=None, path=None):
            data = body.encode() if isinstance(body, str) else body
            # Recorded before the answer goes out: a client that has its answer
            # and then asks /__statuses must find it counted.
            if path is not None:
                self._record(path, status)
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if status not in (204, 304):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and status not in (204, 304):
                self.wfile.write(data)

        def _json(self, obj):
            self._reply(200, json.dumps(obj), {"Content-Type": "application/json"})

        def _control(self, path, query):
            if path == "/__requests":
                with lock:
                    return self._json(dict(counts))
            if path == "/__statuses":
                with lock:
                    return self._json({k: dict(v) for k, v in statuses.items()})
            if path == "/__release":
                release.release()
                return self._reply(200, "released")
            if path == "/__connections":
                with lock:
                    return self._json({"accepted": accepted[0]})
            if path == "/__drop-next":
                self.drop_next = True
                return self._reply(200, "the next request on this connection is dropped")
            if path == "/__echo":
                return self._json({"method": self.command, "path": self.path,
                                   "headers": dict(self.headers.items())})
            if path == "/__redirect":
                status = int(query.get("status", ["302"])[0])
                return self._reply(status, "", {"Location": query["to"][0]})
            if path == "/__slow":
                time.sleep(int(query.get("ms", ["1000"])[0]) / 1000.0)
                return self._reply(200, "slow")
            if path == "/__chunked":
                return self._chunked(int(query.get("count", ["3"])[0]), query.get("gated", ["0"])[0] == "1")
            return self._reply(404, "unknown control path")

        def _chunked(self, count, gated):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(count):
                    if gated and i > 0 and not release.acquire(timeout=30):
                        self.close_connection = True
                        return  # the client never asked for more: drop the connection
                    piece = ("chunk-%d\n" % i).encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _file(self, path):
            if expected_auth and self.headers.get("Authorization", "") != expected_auth:
                return self._reply(401, "unauthorized", {"WWW-Authenticate": 'Basic realm="test"'}, path)
            full = os.path.realpath(os.path.join(root, path.lstrip("/")))
            if full != root and not full.startswith(root + os.sep):
                return self._reply(403, "outside root", path=path)
            if os.path.isdir(full):
                full = os.path.join(full, "index.html")
            if not os.path.isfile(full):
                return self._reply(404, "not found", path=path)
            with open(full, "rb") as f:
                data = f.read()
            mtime = int(os.stat(full).st_mtime)
            headers = {"Content-Type": mimetypes.guess_type(full)[0] or "application/octet-stream",
                       "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}
            etag = '"%s"' % hashlib.sha256(data).hexdigest()[:32]
            if not args.no_etag:
                headers["ETag"] = etag
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if inm is not None and not args.no_etag:
                if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                    return self._reply(304, "", headers, path)
            elif ims is not None:
                try:
                    since = email.utils.parsedate_to_datetime(ims).timestamp()
                    if mtime <= since:
                        return self._reply(304, "", headers, path)
                except (TypeError, ValueError):
                    pass
            return self._reply(200, data, headers, path)

        def _handle(self):
            parsed = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(parsed.path)
            if path.startswith("/__"):
                return self._control(path, urllib.parse.parse_qs(parsed.query))
            with lock:
                counts[path] = counts.get(path, 0) + 1
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.command not in ("GET", "HEAD"):
                return self._reply(405, "read-only", {"Allow": "GET, HEAD"}, path)
            return self._file(path)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def process_request(self, request, client_address):
            with lock:
                accepted[0] += 1
            super().process_request(request, client_address)

    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
