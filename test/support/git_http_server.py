#!/usr/bin/env python3
"""Serves bare git repos over smart HTTP by running the real `git http-backend`
as a CGI program (RFC 3875 environment), optionally behind HTTP basic auth and
optionally over TLS (--tls-cert/--tls-key, PEM).

Fault injection: with --stall-after-bytes N, every answer to a POST of
git-upload-pack (the pack a clone or fetch downloads) announces its full length,
sends only its first N bytes, creates the file --stall-marker (when given), then
hangs until the process is killed; a test waits for the marker and kills the
server mid-fetch without racing it."""
import argparse
import base64
import http.server
import os
import socketserver
import ssl
import subprocess
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--basic-auth", default="")
    ap.add_argument("--tls-cert", default="")
    ap.add_argument("--tls-key", default="")
    ap.add_argument("--stall-after-bytes", type=int, default=-1)
    ap.add_argument("--stall-marker", default="")
    args = ap.parse_args()
    backend = subprocess.run(["git", "--exec-path"], capture_output=True, text=True).stdout.strip()
    backend = os.path.join(backend, "git-http-backend")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            sys.stderr.write("git-http: " + (fmt % a) + "\n")

        def _handle(self):
            # The body is consumed before any answer (even a 401), otherwise its
            # bytes would be parsed as the next request on a keep-alive connection.
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = self._read_chunked()
            if args.basic_auth:
                want = "Basic " + base64.b64encode(args.basic_auth.encode()).decode()
                if self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": args.root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "REMOTE_USER": args.basic_auth.split(":")[0] if args.basic_auth else "",
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_CONFIG_NOSYSTEM": "1",
                "HOME": "/nonexistent",
            }
            proto = self.headers.get("Git-Protocol")
            if proto:
                env["GIT_PROTOCOL"] = proto
            out = subprocess.run([backend], input=body, capture_output=True, env=env).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = out.partition(b"\n\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").splitlines():
                if not line:
                    continue
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                elif k.lower() != "content-length":  # recomputed below from the payload
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if args.stall_after_bytes >= 0 and self.command == "POST" and path.endswith("/git-upload-pack"):
                self.wfile.write(payload[:args.stall_after_bytes])
                self.wfile.flush()
                if args.stall_marker:
                    with open(args.stall_marker, "w") as marker:
                        marker.write("%d of %d bytes sent\n" % (min(args.stall_after_bytes, len(payload)), len(payload)))
                threading.Event().wait()  # until SIGKILL
            self.wfile.write(payload)

        def _read_chunked(self):
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()

        do_GET = _handle
        do_POST = _handle

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key or None)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
