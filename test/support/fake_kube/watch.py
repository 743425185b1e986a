"""A watch stream as the watch cache serves it: the events after a resourceVersion
(synthetic ADDED for "" and "0"), 410 Expired for one older than the compaction point,
injected ERROR events, and BOOKMARKs every bookmark interval plus one 2 s before the
timeout, each sent only when the resource's version advanced past where the watch
started (a quiet watch gets none)."""
import bisect
import copy
import time


def expired(rv, compacted):
    return {"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version: %d (%d)" % (rv, compacted), "reason": "Expired", "code": 410}}


def opening(fake, rt, ns, rv_text):
    """(first events, resourceVersion the watch starts after, whether it ends at once).
    Called with the store lock held."""
    store = fake.store
    if fake.watch_error_count != 0:  # the server fails every new watch (/__watch_error count)
        fake.watch_error_count -= 1 if fake.watch_error_count > 0 else 0
        return [{"type": "ERROR", "object": fake.watch_error[1]}], store.rv, True
    if rv_text in ("", "0"):
        added = [{"type": "ADDED", "object": copy.deepcopy(o)}
                 for k, o in sorted(store.objects.items(), key=lambda kv: str(kv[0]))
                 if k[0] == rt.prefix and k[1] == rt.plural and (ns is None or k[2] == ns)]
        return added, store.rv, False
    rv = int(rv_text)
    if rv < store.compacted_rv:
        return [expired(rv, store.compacted_rv)], rv, True
    return [], rv, False


def stream(fake, rt, ns, query, send):
    """Sends the watch's events with send(event) until timeoutSeconds, an injected
    ERROR, or /__close_watches."""
    store = fake.store
    bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
    timeout = float(query.get("timeoutSeconds") or 1800)
    started = time.monotonic()
    deadline = started + timeout
    pre_timeout = deadline - 2 if timeout > 2 else None
    with store.cond:
        epoch, error_serial = fake.watch_epoch, fake.watch_error[0]
        first_events, pos_rv, ends_now = opening(fake, rt, ns, query.get("resourceVersion") or "")
    for event in first_events:
        send(event)
    if ends_now:
        return
    start_rv = pos_rv

    def next_bookmark(now):
        t = now + fake.args.bookmark_interval
        if pre_timeout is not None and now < pre_timeout:
            t = min(t, pre_timeout)
        return t if t < deadline else None

    bookmark_at = next_bookmark(started)
    error = None
    while error is None and time.monotonic() < deadline:
        wake = min(deadline, bookmark_at or deadline)
        with store.cond:
            store.cond.wait(timeout=max(0.0, min(0.2, wake - time.monotonic())))
            if fake.watch_epoch != epoch:
                return
            if fake.watch_error[0] != error_serial:
                error = fake.watch_error[1]
                continue
            # Events are in rv order: start after pos_rv instead of scanning the whole
            # history on every wake-up (quadratic with many writes).
            first = bisect.bisect_right(store.event_rvs, pos_rv)
            batch = [e for e in store.events[first:]
                     if e[1] == rt.prefix and e[2] == rt.plural and (ns is None or e[3] == ns)]
            progress = store.progress.get((rt.prefix, rt.plural), 0)
        for e in batch:
            send({"type": e[4], "object": e[5]})
            pos_rv = e[0]
        now = time.monotonic()
        if bookmarks and bookmark_at is not None and now >= bookmark_at:
            if progress > start_rv:
                pos_rv = max(pos_rv, progress)
                send({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version,
                                                     "metadata": {"resourceVersion": str(pos_rv)}}})
            bookmark_at = next_bookmark(now)
    if error is not None:
        send({"type": "ERROR", "object": error})
