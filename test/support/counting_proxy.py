#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that counts the connections it accepts.

Forwards every connection on --port to --target (host:port) byte for byte, and
keeps the number accepted so far in --count-file (rewritten whole after each
accept), so a test can tell how many connections a client opened to a server it
cannot instrument itself (the real docker-registry).
"""
import argparse
import os
import socket
import threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--count-file", required=True)
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    count = 0
    while True:
        client, _ = listener.accept()
        count += 1
        tmp = args.count_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(count))
        os.replace(tmp, args.count_file)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
