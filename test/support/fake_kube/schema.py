"""The CRD's structural schema applied as the apiextensions-apiserver applies it to a
write: unknown fields pruned, defaults filled in, then the value validated (types,
formats, enums, patterns, bounds, required, list-map keys), each failure a cause of a
422. Read from manifests/crd.yaml, the one source of truth (also for the chart)."""
import datetime
import json
import re

import yaml

from . import errors

# ObjectMeta fields a client may write; anything else under metadata is dropped.
OBJECT_META = {"name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
               "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
               "finalizers", "managedFields", "selfLink"}


def load_crd(path):
    """(group, version, kind, plural, openAPIV3Schema) of the served storage version."""
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                spec = doc["spec"]
                version = next(v for v in spec["versions"] if v.get("storage"))
                return (spec["group"], version["name"], spec["names"]["kind"], spec["names"]["plural"],
                        version["schema"]["openAPIV3Schema"])
    raise SystemExit("no CustomResourceDefinition in %s" % path)


def child(path, name):
    return name if not path else path + "." + name


def prune(value, schema, root=False):
    """Drops the fields the schema does not name (in place); returns the value."""
    if isinstance(value, dict) and schema.get("type") == "object" and "properties" in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        props = schema["properties"]
        for key in list(value):
            if root and key in ("apiVersion", "kind"):
                continue
            if root and key == "metadata":
                if isinstance(value[key], dict):
                    for m in list(value[key]):
                        if m not in OBJECT_META:
                            del value[key][m]
                continue
            if key not in props:
                del value[key]
            else:
                prune(value[key], props[key])
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            prune(item, schema["items"])
    return value


def apply_defaults(value, schema):
    """Fills absent (or null, when not nullable) properties that have a default, recursively."""
    if isinstance(value, dict) and "properties" in schema:
        for key, sub in schema["properties"].items():
            if "default" in sub and (key not in value or (value[key] is None and not sub.get("nullable"))):
                value[key] = json.loads(json.dumps(sub["default"]))
            if key in value:
                apply_defaults(value[key], sub)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            apply_defaults(item, schema["items"])
    return value


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def is_date_time(s):
    if not DATE_TIME.match(s):
        return False
    try:
        datetime.datetime.strptime(s[:10] + "T" + s[11:19], "%Y-%m-%dT%H:%M:%S")
        return True
    except ValueError:
        return False


def go_map(item, keys):
    """A list-map key as Go prints map[string]interface{} with %#v (keys sorted)."""
    return "map[string]interface {}{%s}" % ", ".join(
        '"%s":%s' % (k, errors.go_value(item.get(k))) for k in sorted(keys))


def validate(value, schema, path, causes):
    """Appends the value's schema violations to causes, in the order kube-openapi finds them."""
    want = schema.get("type")
    have = json_type(value)
    if want and have != want and not (want == "number" and have == "integer") \
            and not (value is None and schema.get("nullable")):
        causes.append(errors.type_invalid(path, have, "%s in body must be of type %s: %s"
                                          % (path, want, errors.go_value(have))))
        return
    if "enum" in schema and value not in schema["enum"]:
        causes.append(errors.not_supported(path, value, schema["enum"]))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            causes.append(errors.too_long(path, schema["maxLength"]))
        if "minLength" in schema and len(value) < schema["minLength"]:
            causes.append(errors.invalid_value(path, value, "%s in body should be at least %d chars long"
                                               % (path, schema["minLength"])))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            causes.append(errors.invalid_value(path, value, "%s in body should match '%s'"
                                               % (path, schema["pattern"])))
        if schema.get("format") == "date-time" and not is_date_time(value):
            causes.append(errors.type_invalid(path, value, "%s in body must be of type date-time: %s"
                                              % (path, errors.go_value(value))))
    if have in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append(errors.invalid_value(path, value, "%s in body should be greater than or equal to %s"
                                               % (path, schema["minimum"])))
        if "maximum" in schema and value > schema["maximum"]:
            causes.append(errors.invalid_value(path, value, "%s in body should be less than or equal to %s"
                                               % (path, schema["maximum"])))
    if "oneOf" in schema:
        matching = 0
        first_failure = None
        for sub in schema["oneOf"]:
            sub_causes = []
            validate(value, sub, path, sub_causes)
            matching += not sub_causes
            if sub_causes and first_failure is None:
                first_failure = sub_causes
        if matching != 1:
            # go-openapi's oneOf failure is a plain error, not a field's: apiextensions
            # turns it into field.Invalid(nil, "", ...), so the cause's field is "<nil>"
            # and the path is quoted in the message. With none valid, the failures of
            # the alternative that came closest follow (go-openapi's bestFailures; on a
            # tie, as with required-only alternatives, the first). Not recorded: see
            # test/operate/fake_apiserver_conformance.py.
            found = "Found none valid" if matching == 0 else "Found %d valid alternatives" % matching
            causes.append(errors.invalid_value("<nil>", "", '"%s" must validate one and only one schema '
                                               "(oneOf). %s" % (path, found)))
            if matching == 0:
                causes.extend(first_failure)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                causes.append(errors.required(child(path, key)))
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                validate(value[key], sub, child(path, key), causes)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], "%s[%d]" % (path, i), causes)


def validate_list_maps(value, schema, path, causes):
    """x-kubernetes-list-type: map: no two items with the same keys (checked after the schema)."""
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        for key, sub in schema["properties"].items():
            if key in value:
                validate_list_maps(value[key], sub, child(path, key), causes)
    elif isinstance(value, list):
        keys = schema.get("x-kubernetes-list-map-keys")
        seen = set()
        for i, item in enumerate(value):
            if keys and schema.get("x-kubernetes-list-type") == "map" and isinstance(item, dict):
                k = tuple(json.dumps(item.get(n)) for n in keys)
                if k in seen:
                    causes.append(errors.duplicate("%s[%d]" % (path, i), go_map(item, keys)))
                seen.add(k)
            if "items" in schema:
                validate_list_maps(item, schema["items"], "%s[%d]" % (path, i), causes)


class CustomResource:
    """The schema of one CRD version: what a create or update of its objects goes through."""

    def __init__(self, crd_path):
        self.group, self.version, self.kind, self.plural, self.schema = load_crd(crd_path)

    def admit(self, obj):
        """Prunes and defaults obj in place; returns the schema's causes (empty = valid)."""
        prune(obj, self.schema, root=True)
        apply_defaults(obj, self.schema)
        causes = []
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        validate(body, dict(self.schema, properties={k: v for k, v in self.schema["properties"].items()
                                                     if k not in ("apiVersion", "kind", "metadata")}), "", causes)
        validate_list_maps(obj, self.schema, "", causes)
        return causes
