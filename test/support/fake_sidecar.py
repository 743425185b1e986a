#!/usr/bin/env python3
"""A stand-in for `cmop serve` speaking docs/sidecar-api.md, for operator tests.

Only for what the real sidecar cannot be made to show (it is down, it forgot its
state, a sync running); sync results are tested with the real `cmop serve`. The
shapes of its answers are compared with the real one's by the operate test "the
fake sidecar answers what the operator reads with the real cmop serve's shapes".

Repos are kept in memory (a restart, or POST /__forget, loses them, as an empty state
dir would). A repo whose git URL contains "unreachable" fails its sync with 502, the
way a clone failure does. Each repo "publishes" one chart named after the repo.

Hooks: GET /__requests -> [{"method", "path", "body"}], POST /__forget (drop all repos),
POST /__scheduled_sync {"name", "error"} records the outcome of a sync the operator did
not ask for (a CronJob's),
POST /__down {"status": 503} makes every API request answer that status ({"status": 0}
restores service),
POST /__sync_running {"name"} shows a sync someone else started as running (until
/__scheduled_sync ends it),
POST /__first_sync_running {"name"} shows the repo as the real sidecar does when it is
registered and nothing synced yet (empty lastSyncTime and lastCommit, no charts), and no
sync runs (as after an accepted apply that was refused when it ran).

As the real one: POST /repo/new?async=true answers 202 and finishes the "sync" right
after; GET /syncs is the long poll of started and finished syncs; error answers carry
"code" (the Errc name, "SyncFailed" for a failed sync, "Unavailable" for 503).
"""
import argparse
import datetime
import hashlib
import http.server
import json
import os
import re
import time
import socketserver
import threading
import urllib.parse

REPO_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", default="")
    args = ap.parse_args()
    lock = threading.Lock()
    changed = threading.Condition(lock)
    repos, deps, requests = {}, {}, []
    down = {"status": 0}
    feed = {"epoch": os.urandom(8).hex(), "generation": 0, "repos": {}}
    codes = {400: "InvalidArgument", 401: "Unauthorized", 404: "NotFound", 409: "Conflict",
             502: "SyncFailed", 503: "Unavailable"}

    def announce(name, syncing):
        """A sync of `name` started or finished (caller holds lock)."""
        feed["generation"] += 1
        owner = repos.get(name, {}).get("spec", {}).get("owner", "")
        feed["repos"][name] = {"name": name, "owner": owner, "generation": feed["generation"], "syncing": syncing}
        changed.notify_all()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            if code >= 400 and isinstance(obj, dict) and "error" in obj and "code" not in obj:
                obj = dict(obj, code=codes.get(code, "InternalError"))
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def change_repo(self, raw, change):
            """A hook's change(state, body) to the repo its body names."""
            b = json.loads(raw or b"{}")
            with lock:
                state = repos.get(b.get("name", ""))
                if state is None:
                    return self.reply(404, {"error": "no such repo"})
                change(state, b)
            return self.reply(200, {})

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            if path == "/__requests":
                with lock:
                    return self.reply(200, list(requests))
            if path == "/__forget":
                with lock:
                    repos.clear()
                return self.reply(200, {})
            if path == "/__scheduled_sync":
                # What a CronJob-triggered sync leaves behind: {"name", "error"} ("" = success).
                def scheduled(state, b):
                    state["lastError"] = b.get("error", "")
                    state["lastSyncTime"] = now()
                    state["syncing"] = False
                    announce(state["name"], False)
                return self.change_repo(raw, scheduled)
            if path == "/__sync_running":
                # A sync the operator did not ask for (a CronJob's, a webhook's) has started.
                def started(state, b):
                    state["syncing"] = True
                    announce(state["name"], True)
                return self.change_repo(raw, started)
            if path == "/__first_sync_running":
                def never_synced(state, b):
                    state.update(lastSyncTime="", lastSuccessTime="", lastCommit="", lastError="", charts=[],
                                 syncing=False)
                    announce(state["name"], False)
                return self.change_repo(raw, never_synced)
            if path == "/syncs" and self.command == "GET":
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                after = int(q.get("after", ["0"])[0] or 0)
                if q.get("epoch", [""])[0] != feed["epoch"]:
                    after = 0
                deadline = time.monotonic() + min(60, int(q.get("waitSeconds", ["0"])[0] or 0))
                with lock:
                    while feed["generation"] <= after and time.monotonic() < deadline:
                        changed.wait(deadline - time.monotonic())
                    return self.reply(200, {"epoch": feed["epoch"], "generation": feed["generation"],
                                            "repos": [r for r in feed["repos"].values() if r["generation"] > after]})
            if path == "/__down":
                down["status"] = json.loads(raw or b"{}").get("status", 0)
                return self.reply(200, {})
            with lock:
                requests.append({"method": self.command, "path": path, "body": raw.decode("utf-8", "replace")})
            if down["status"]:
                return self.reply(down["status"], {"error": "sidecar is down"})
            mutating = self.command in ("POST", "DELETE")
            if args.token and mutating and self.headers.get("Authorization") != "Bearer " + args.token:
                return self.reply(401, {"error": "missing or wrong bearer token"})
            body = json.loads(raw) if raw else {}
            if path == "/repo/dependency" and self.command == "POST":
                with lock:
                    deps[body["name"]] = body["url"]
                return self.reply(200, {"name": body["name"], "url": body["url"]})
            asynchronous = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("async") == ["true"]
            update = re.fullmatch(r"/repo/([^/]+)/update", path)
            if update and self.command == "POST" and asynchronous:
                with lock:
                    state = repos.get(update[1])
                    if state is None:
                        return self.reply(404, {"error": "repo %s: not found" % update[1]})
                    state["syncing"] = True
                    announce(update[1], True)

                def finish_update(name=update[1]):
                    with lock:
                        if name in repos:
                            repos[name].update(syncing=False, lastSyncTime=now())
                            announce(name, False)
                threading.Thread(target=finish_update, daemon=True).start()
                return self.reply(202, {"repo": update[1], "status": "queued", "joined": False})
            if path == "/repo/new" and self.command == "POST":
                name = body.get("name", "")
                if not REPO_NAME.fullmatch(name) or not body.get("git"):
                    return self.reply(400, {"error": "repo: name and git are required"})
                commit = hashlib.sha1((body["git"] + body.get("ref", "")).encode()).hexdigest()
                failed = "unreachable" in body["git"]
                chart = {"path": (body.get("path") or ".") + "/" + name, "name": name, "version": "1.0.0",
                         "digest": hashlib.sha256(commit.encode()).hexdigest(), "status": "published"}
                report = {"repo": name, "commit": "" if failed else commit, "changed": not failed,
                          "ok": not failed, "seconds": 0.01, "charts": [] if failed else [chart],
                          "error": "git clone failed: connection refused" if failed else ""}
                spec = {k: body.get(k, "") for k in ("git", "ref", "path", "owner")}
                spec["versioning"] = body.get("versioning") or "immutable"
                spec["webhook"] = bool(body.get("webhookSecret"))  # as the real one: armed or not, never the secret
                spec["dependencies"] = body.get("dependencies", [])
                synced = {"name": name, "spec": spec, "lastCommit": report["commit"],
                          "lastSyncTime": now(), "lastSuccessTime": "" if failed else now(),
                          # The real state keeps only the last sync's charts (no "ok").
                          "lastError": report["error"], "lastSync": {"charts": report["charts"]},
                          # Each published chart says where it came from, as the real one does.
                          "charts": [] if failed else [dict({k: chart[k] for k in ("name", "version", "digest", "path")},
                                                            source={"git": body["git"], "commit": commit,
                                                                    "path": chart["path"], "cmopVersion": "0.1.0"})],
                          "auth": body.get("auth"), "syncing": False}
                with lock:
                    held = repos.get(name, {}).get("spec", {}).get("owner", "")
                    if held and held != spec["owner"]:
                        return self.reply(409, {"error": "repo %s is managed by %s" % (name, held)})
                    if asynchronous:
                        # Accepted: shown (with its spec) as syncing until the sync is done.
                        previous = repos.get(name, {"lastCommit": "", "lastSyncTime": "", "lastSuccessTime": "",
                                                    "lastError": "", "lastSync": {"charts": []}, "charts": []})
                        repos[name] = dict(previous, name=name, spec=spec, auth=body.get("auth"), syncing=True)
                        announce(name, True)
                    else:
                        repos[name] = synced
                        announce(name, False)
                if asynchronous:
                    def finish():
                        with lock:
                            if name in repos and repos[name]["spec"] == spec:
                                repos[name] = synced
                                announce(name, False)
                    threading.Thread(target=finish, daemon=True).start()
                    return self.reply(202, {"repo": name, "status": "queued", "joined": False})
                if failed:
                    return self.reply(502, {"error": report["error"], "report": report})
                return self.reply(200, report)
            m = re.fullmatch(r"/repo/([^/]+)", path)
            if m and self.command in ("GET", "DELETE") and not REPO_NAME.fullmatch(m[1]):
                return self.reply(400, {"error": "repo name %r: must be a DNS-1123 label" % m[1]})
            if m and self.command == "GET":
                with lock:
                    state = repos.get(m[1])
                    if state is None:
                        return self.reply(404, {"error": "repo %s: not found" % m[1]})
                    # The fake echoes whether credentials arrived (never their values), for the tests.
                    visible = {k: v for k, v in state.items() if k != "auth"}
                    visible["hadAuth"] = sorted((state.get("auth") or {}).keys())
                    return self.reply(200, visible)
            if m and self.command == "DELETE":
                owner = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("owner", [""])[0]
                with lock:
                    held = repos.get(m[1], {}).get("spec", {}).get("owner", "")
                    if owner and held and held != owner:
                        return self.reply(409, {"error": "repo %s is managed by %s" % (m[1], held)})
                    state = repos.pop(m[1], None)
                    feed["repos"].pop(m[1], None)
                if state is None:
                    return self.reply(404, {"error": "repo %s: not found" % m[1]})
                return self.reply(200, {"removed": m[1], "charts": [{"name": c["name"], "version": c["version"]}
                                                                    for c in state["charts"]]})
            if path == "/repo" and self.command == "GET":
                with lock:
                    return self.reply(200, {"repos": [{k: v for k, v in s.items() if k != "auth"}
                                                      for s in repos.values()]})
            return self.reply(404, {"error": "%s %s: no such endpoint" % (self.command, path)})

        do_GET = do_POST = do_DELETE = handle_any

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
