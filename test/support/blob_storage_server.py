#!/usr/bin/env python3
"""Object storage behind a registry that redirects blob downloads: serves the
files under --root for GET and HEAD (what Distribution's `redirect` storage
middleware points at when its baseurl is this server), and records every request.

GET /__requests -> [{"method", "path", "headers"}, ...] of every other request,
so a test proves what reached the storage host (no Authorization header)."""
import argparse
import http.server
import json
import os
import threading
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    root = os.path.realpath(args.root)
    lock = threading.Lock()
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _reply(self, status, data, content_type="application/octet-stream"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _handle(self):
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path == "/__requests":
                with lock:
                    return self._reply(200, json.dumps(seen).encode(), "application/json")
            with lock:
                seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items())})
            full = os.path.realpath(os.path.join(root, path.lstrip("/")))
            if not full.startswith(root + os.sep) or not os.path.isfile(full):
                return self._reply(404, b"not found", "text/plain")
            with open(full, "rb") as f:
                return self._reply(200, f.read())

        do_GET = do_HEAD = _handle

    http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
