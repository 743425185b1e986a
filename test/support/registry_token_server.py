#!/usr/bin/env python3
"""The token endpoint of a registry's bearer-token auth, for the real CNCF
Distribution registry configured with `auth.token` (realm = this server).

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...]
  -> {"token": JWT, "access_token": JWT, "expires_in": N}
The JWT is ES256-signed with --key; its header carries the certificate (--cert,
the registry's rootcertbundle) as x5c, which is how Distribution verifies it.
With --basic-auth user:pass, a request without those credentials gets only what
an anonymous user gets: nothing (401); otherwise every scope asked for is granted.
GET /__requests -> {"token": count} of the token requests answered.
"""
import argparse
import base64
import http.server
import json
import socketserver
import threading
import time
import urllib.parse
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--issuer", default="cmop-test-issuer")
    ap.add_argument("--basic-auth", default="")
    ap.add_argument("--expires-in", type=int, default=300)
    args = ap.parse_args()

    with open(args.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(args.cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    expected = ("Basic " + base64.b64encode(args.basic_auth.encode()).decode()) if args.basic_auth else ""
    lock = threading.Lock()
    counts = {"token": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/__requests":
                with lock:
                    return self.answer(200, dict(counts))
            if url.path != "/token":
                return self.answer(404, {"error": "not found"})
            if expected and self.headers.get("Authorization", "") != expected:
                return self.answer(401, {"error": "unauthorized"})
            query = urllib.parse.parse_qs(url.query)
            access = []
            for scope in query.get("scope", []):
                parts = scope.split(":")
                if len(parts) >= 3 and parts[0] == "repository":
                    access.append({"type": "repository", "name": ":".join(parts[1:-1]),
                                   "actions": parts[-1].split(",")})
            now = int(time.time())
            claims = {"iss": args.issuer, "sub": args.basic_auth.split(":")[0] if args.basic_auth else "",
                      "aud": query.get("service", [""])[0], "exp": now + args.expires_in,
                      "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
            token = jwt.encode(claims, key, algorithm="ES256", headers={"x5c": x5c})
            with lock:
                counts["token"] += 1
            self.answer(200, {"token": token, "access_token": token, "expires_in": args.expires_in})

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
