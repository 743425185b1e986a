#!/usr/bin/env python3
"""An HTTP peer that answers requests from a script and records what it got.

POST /__script  body: [{"status": 200, "body": "...", "headers": {...}, "delay_ms": 0}, ...]
    replaces the queue of canned answers (the last one repeats when the queue runs dry).
GET  /__requests  -> [{"method", "path", "headers", "body"}, ...] of every other request.
Every other request is answered with the next canned answer."""
import argparse
import http.server
import json
import socketserver
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    lock = threading.Lock()
    state = {"script": [{"status": 404, "body": "{\"error\":\"no script\"}"}], "requests": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _reply(self, status, body, headers=None):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            for k, v in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            if self.path == "/__script":
                with lock:
                    state["script"] = json.loads(body)
                return self._reply(200, "{}")
            if self.path == "/__requests":
                with lock:
                    return self._reply(200, json.dumps(state["requests"]))
            with lock:
                state["requests"].append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers.items()), "body": body})
                answer = state["script"][0] if len(state["script"]) == 1 else state["script"].pop(0)
            if answer.get("delay_ms"):
                time.sleep(answer["delay_ms"] / 1000.0)
            self._reply(answer.get("status", 200), answer.get("body", ""), answer.get("headers"))

        do_GET = do_POST = do_DELETE = do_PUT = _handle

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
