"""Objects, namespaces, resource versions and the watch history, with the semantics of a
kube-apiserver on etcd3: the order of checks of a write (decode 400, namespace 400/404/403,
validation 422, preconditions 409), generation rules, finalizers and deletion
propagation, and a garbage collector and namespace controller that run on their own
(asynchronously, as kube-controller-manager does)."""
import copy
import datetime
import random
import re
import threading
import uuid

from . import errors
from .kinds import name_causes

GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # as apimachinery's utilrand.String
META_OMIT_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences")
NAMESPACES = ("/api/v1", "namespaces")


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def omit_empty(meta):
    """Go's omitempty: empty lists and maps of ObjectMeta are not written."""
    for k in META_OMIT_EMPTY:
        if k in meta and not meta[k]:
            del meta[k]


# What validation ratcheting (on by default since v1.30) forgives on an update: a value
# the schema now refuses but that the update leaves as it was.
RATCHETED = ("FieldValueInvalid", "FieldValueTypeInvalid", "FieldValueNotSupported", "FieldValueTooLong")
MISSING = object()


def value_at_path(obj, path):
    """The value at a cause's field path ("spec.dependencies[1].url"), or MISSING."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            i = int(part[1:-1])
            if not isinstance(obj, list) or i >= len(obj):
                return MISSING
            obj = obj[i]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return MISSING
    return obj


def unchanged(cause, new, old):
    if cause.reason not in RATCHETED or cause.field.startswith("metadata."):
        return False
    value = value_at_path(new, cause.field)
    return value is not MISSING and value == value_at_path(old, cause.field)


def owned_by(obj, uid):
    return any(o.get("uid") == uid for o in obj["metadata"].get("ownerReferences") or [])


class Store:
    def __init__(self, types, namespaces=()):
        self.types = types
        self.kinds = {(t.api_version, t.kind): t for t in types.values()}
        self.cond = threading.Condition()
        self.rv = 100
        # Resource versions before the fake started do not exist: watching from one is 410.
        self.compacted_rv = self.rv
        self.objects = {}   # (prefix, plural, ns, name) -> object; ns is None for namespaces
        self.events = []    # (rv, prefix, plural, ns, type, object), in rv order
        self.event_rvs = []
        self.progress = {}  # (prefix, plural) -> rv of its latest event (what its watch cache knows)
        with self.cond:
            for ns in namespaces:
                self.create(types[NAMESPACES], None, {"metadata": {"name": ns}})

    # --- bookkeeping -------------------------------------------------------------------
    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def record(self, key, etype, obj):
        rv = int(obj["metadata"]["resourceVersion"])
        self.events.append((rv, key[0], key[1], key[2], etype, copy.deepcopy(obj)))
        self.event_rvs.append(rv)
        self.progress[(key[0], key[1])] = rv
        self.cond.notify_all()

    def namespace(self, name):
        return self.objects.get(NAMESPACES + (None, name))

    def get(self, rt, ns, name):
        obj = self.objects.get((rt.prefix, rt.plural, ns, name))
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    def list(self, rt, ns, matches):
        items = [copy.deepcopy(o) for k, o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                 if k[0] == rt.prefix and k[1] == rt.plural and (ns is None or k[2] == ns) and matches(o)]
        meta = {"resourceVersion": str(self.rv)}
        if rt.custom:
            meta["continue"] = ""
        else:  # built-in list items come without kind/apiVersion
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": meta, "items": items}

    # --- create --------------------------------------------------------------------------
    def check_namespace(self, rt, ns, body, creating):
        body_ns = (body.get("metadata") or {}).get("namespace")
        if rt.namespaced and body_ns and body_ns != ns:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        if not rt.namespaced or not creating:
            return
        namespace = self.namespace(ns)
        if namespace is None:
            raise errors.ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                                  errors.details(ns, "", "namespaces"))
        if namespace["metadata"].get("deletionTimestamp"):
            name = (body.get("metadata") or {}).get("name") or ""
            raise errors.forbidden(rt, name, "unable to create new content in namespace %s because it is being "
                                   "terminated" % ns, [{"reason": "NamespaceTerminating", "message": "namespace %s is "
                                                        "being terminated" % ns, "field": "metadata.namespace"}])

    def create(self, rt, ns, body):
        rt.decode(body)
        self.check_namespace(rt, ns, body, creating=True)
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice(GENERATE_ALPHABET) for _ in range(5))
        name = meta.get("name") or ""
        body["kind"], body["apiVersion"] = rt.kind, rt.api_version
        if rt.namespaced:
            meta["namespace"] = ns
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "uid", "creationTimestamp", "generation"):
            meta.pop(k, None)
        if rt.custom and rt.status:
            body.pop("status", None)
        causes = rt.admit(body, None)
        if not name:
            causes.insert(0, errors.required("metadata.name", "name or generateName is required"))
        else:
            names = name_causes(name, label=not rt.namespaced, max_len=rt.name_max)
            causes = names + causes if rt.custom else causes + names
        if causes:
            raise rt.invalid(name, causes)
        if meta.get("resourceVersion"):
            raise errors.ApiError(500, None, "resourceVersion should not be set on objects to be created")
        key = (rt.prefix, rt.plural, ns if rt.namespaced else None, name)
        if key in self.objects:
            raise errors.already_exists(rt, name)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(), resourceVersion=self.next_rv())
        if rt.generation:
            meta["generation"] = 1
        if rt.plural == "namespaces":
            body.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            body["status"] = {"phase": "Active"}
        omit_empty(meta)
        self.objects[key] = body
        self.record(key, "ADDED", body)
        return body

    # --- update --------------------------------------------------------------------------
    def update(self, rt, ns, name, body, subresource):
        rt.decode(body)
        key = (rt.prefix, rt.plural, ns, name)
        current = self.get(rt, ns, name)
        self.check_namespace(rt, ns, body, creating=False)
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, "", name):
            raise errors.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                     % (meta.get("name"), name))
        sent_rv = meta.get("resourceVersion")
        if not sent_rv and not rt.unconditional:
            raise errors.invalid(errors.qualified(rt.plural, rt.group), name, rt.group, rt.plural, [
                errors.Cause("FieldValueInvalid", "metadata.resourceVersion",
                             "Invalid value: 0x0: must be specified for an update")])
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rt, name)
        if meta.get("uid") and meta["uid"] != current["metadata"]["uid"]:
            raise errors.conflict(rt, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                  % (meta["uid"], current["metadata"]["uid"]))
        if subresource == "status":
            new = copy.deepcopy(current)
            new["status"] = copy.deepcopy(body.get("status"))
            if new["status"] is None:
                new.pop("status")
        else:
            new = copy.deepcopy(body)
            new_meta = new.setdefault("metadata", {})
            for immutable in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                              "deletionGracePeriodSeconds", "generation", "resourceVersion"):
                if immutable in current["metadata"]:
                    new_meta[immutable] = current["metadata"][immutable]
                else:
                    new_meta.pop(immutable, None)
            new["kind"], new["apiVersion"] = rt.kind, rt.api_version
            if rt.status:
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
        causes = rt.admit(new, current)
        if rt.custom:
            causes = [c for c in causes if not unchanged(c, new, current)]
        if current["metadata"].get("deletionTimestamp"):
            old_f = set(current["metadata"].get("finalizers") or [])
            added = [f for f in (new["metadata"].get("finalizers") or []) if f not in old_f]
            if added:
                text = "no new finalizers can be added if the object is being deleted, found new finalizers " \
                       "[]string{%s}" % ", ".join('"%s"' % f for f in added)
                # Custom resources run the metadata checks twice (generic and CRD strategy).
                causes += [errors.forbidden_field("metadata.finalizers", text)] * (2 if rt.custom else 1)
        if causes:
            raise rt.invalid(name, causes)
        if rt.generation and subresource != "status" and new.get("spec") != current.get("spec"):
            new["metadata"]["generation"] = current["metadata"].get("generation", 0) + 1
        omit_empty(new["metadata"])
        if new == current:
            return current  # a no-op write does not bump resourceVersion (as etcd3 storage behaves)
        return self.write(key, new)

    def write(self, key, new):
        """Stores a changed object; one being deleted whose last finalizer went is removed
        (the answer then keeps the resourceVersion it had, as the real server's does)."""
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            answer = copy.deepcopy(new)
            self.remove(key, new)
            return answer
        new["metadata"]["resourceVersion"] = self.next_rv()
        self.objects[key] = new
        self.record(key, "MODIFIED", new)
        return new

    def patch(self, rt, ns, name, patch, subresource):
        current = self.get(rt, ns, name)
        merged = merge_patch(current, patch)
        merged.setdefault("metadata", {})["resourceVersion"] = \
            (patch.get("metadata") or {}).get("resourceVersion") or current["metadata"]["resourceVersion"]
        return self.update(rt, ns, name, merged, subresource)

    # --- delete --------------------------------------------------------------------------
    def delete(self, rt, ns, name, options):
        """DELETE with DeleteOptions: Background (default) removes the object now and leaves
        its dependents to the garbage collector; Foreground and Orphan add their finalizer."""
        current = self.get(rt, ns, name)
        policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
        if policy not in ("Background", "Foreground", "Orphan"):
            raise rt.invalid(name, [errors.not_supported("propagationPolicy", policy,
                                                         ["Foreground", "Background", "Orphan"])])
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != current["metadata"]["uid"]:
            raise errors.conflict(rt, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                  % (pre["uid"], current["metadata"]["uid"]))
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rt, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                  "ResourceVersion in object meta: %s"
                                  % (pre["resourceVersion"], current["metadata"]["resourceVersion"]))
        key = (rt.prefix, rt.plural, ns, name)
        if current["metadata"].get("deletionTimestamp"):
            return current
        finalizers = list(current["metadata"].get("finalizers") or [])
        extra = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy)
        if extra and extra not in finalizers:
            finalizers.append(extra)
        if rt.plural == "namespaces" or finalizers:
            new = copy.deepcopy(current)
            new["metadata"].update(deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=0)
            if finalizers:
                new["metadata"]["finalizers"] = finalizers
            if new["metadata"].get("generation", 0) > 0:
                new["metadata"]["generation"] += 1
            if rt.plural == "namespaces":
                new["status"] = {"phase": "Terminating"}
            new["metadata"]["resourceVersion"] = self.next_rv()
            self.objects[key] = new
            self.record(key, "MODIFIED", new)
            return new
        self.remove(key, copy.deepcopy(current))
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": errors.details(name, rt.group, rt.plural, uid=current["metadata"]["uid"])}

    def remove(self, key, final):
        """Deletes the object for good: a DELETED event at a new resourceVersion."""
        del self.objects[key]
        final["metadata"]["resourceVersion"] = self.next_rv()
        self.record(key, "DELETED", final)

    # --- controllers (kube-controller-manager's part) ---------------------------------------
    def owner_alive(self, ref, ns):
        rt = self.kinds.get((ref.get("apiVersion"), ref.get("kind")))
        if rt is None:
            return True  # a kind the fake does not serve: leave its dependents alone
        owner = self.objects.get((rt.prefix, rt.plural, ns if rt.namespaced else None, ref.get("name")))
        return owner is not None and owner["metadata"]["uid"] == ref.get("uid")

    def drop_finalizer(self, key, finalizer):
        new = copy.deepcopy(self.objects[key])
        new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
        omit_empty(new["metadata"])
        self.write(key, new)

    def delete_key(self, key, policy="Background"):
        if key in self.objects and not self.objects[key]["metadata"].get("deletionTimestamp"):
            self.delete(self.types[(key[0], key[1])], key[2], key[3], {"propagationPolicy": policy})

    def collect(self):
        """One pass of the garbage collector and the namespace controller."""
        for key, obj in list(self.objects.items()):
            if key not in self.objects:
                continue
            meta = obj["metadata"]
            uid = meta["uid"]
            if meta.get("deletionTimestamp"):
                dependents = [k for k, o in self.objects.items() if owned_by(o, uid)]
                if "foregroundDeletion" in (meta.get("finalizers") or []):
                    for k in dependents:
                        self.delete_key(k)
                    if not any(k in self.objects and any(o.get("uid") == uid and o.get("blockOwnerDeletion")
                               for o in self.objects[k]["metadata"].get("ownerReferences") or [])
                               for k in dependents):
                        self.drop_finalizer(key, "foregroundDeletion")
                elif "orphan" in (meta.get("finalizers") or []):
                    for k in dependents:
                        dep = copy.deepcopy(self.objects[k])
                        dep["metadata"]["ownerReferences"] = [o for o in dep["metadata"]["ownerReferences"]
                                                              if o.get("uid") != uid]
                        omit_empty(dep["metadata"])
                        self.write(k, dep)
                    self.drop_finalizer(key, "orphan")
                if key[:2] == NAMESPACES:
                    contents = [k for k in self.objects if k[2] == key[3]]
                    for k in contents:
                        self.delete_key(k)
                    if not contents:
                        self.remove(key, copy.deepcopy(obj))
                continue
            refs = meta.get("ownerReferences") or []
            if refs and not any(self.owner_alive(r, key[2]) for r in refs):
                self.delete_key(key)

    def run_controllers(self, interval, stop):
        while not stop.wait(interval):
            with self.cond:
                self.collect()
