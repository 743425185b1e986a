"""A small JSON Schema (draft-07 subset) validator for the chart tests.

Real Helm validates the chart's values against values.schema.json, but nothing
offline validates a custom resource against the CRD's openAPIV3Schema (that is
the API server's job), and Debian's python3 has no jsonschema module without
extra packages: so the CRD tests (the CRD's own cases and the example
Chartmuseum of manifests/) validate with this. It covers the keywords the CRD's
openAPIV3Schema uses: type, properties, additionalProperties, required, enum,
minimum/maximum, minLength/maxLength, pattern, items, anyOf/oneOf/allOf,
propertyNames. Kubernetes extensions (x-kubernetes-*), format, default and
description are annotations and are ignored. An unknown validation keyword is
an error, so a schema never silently claims more than is checked here.
"""

import re

_ANNOTATIONS = {
    "$schema", "$id", "title", "description", "default", "format", "examples",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource", "nullable",
}
_CHECKED = {
    "type", "properties", "additionalProperties", "required", "enum", "minimum",
    "maximum", "minLength", "maxLength", "pattern", "items", "anyOf", "oneOf",
    "allOf", "propertyNames", "minItems", "maxItems",
}


def _is_type(value, name):
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise ValueError("unknown JSON Schema type %r" % name)


def validate(value, schema, where="$"):
    """Returns a list of "path: problem" strings; empty when value conforms."""
    unknown = set(schema) - _ANNOTATIONS - _CHECKED
    if unknown:
        raise ValueError("%s: schema keyword(s) not supported by schema_check: %s"
                         % (where, ", ".join(sorted(unknown))))
    errors = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return ["%s: %r is not of type %s" % (where, value, " or ".join(types))]
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %r" % (where, value, schema["enum"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: %r is less than the minimum %r" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append("%s: %r is greater than the maximum %r" % (where, value, schema["maximum"]))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s: %r is shorter than %d" % (where, value, schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: %r is longer than %d" % (where, value, schema["maxLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("%s: %r does not match %r" % (where, value, schema["pattern"]))
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append("%s: required property %r is missing" % (where, name))
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if "propertyNames" in schema:
                errors += validate(key, schema["propertyNames"], "%s[name %r]" % (where, key))
            if key in props:
                errors += validate(item, props[key], "%s.%s" % (where, key))
            elif extra is False:
                errors.append("%s: property %r is not allowed" % (where, key))
            elif isinstance(extra, dict):
                errors += validate(item, extra, "%s.%s" % (where, key))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append("%s: fewer than %d items" % (where, schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append("%s: more than %d items" % (where, schema["maxItems"]))
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], "%s[%d]" % (where, i))
    if "allOf" in schema:
        for sub in schema["allOf"]:
            errors += validate(value, sub, where)
    if "anyOf" in schema:
        if all(validate(value, sub, where) for sub in schema["anyOf"]):
            errors.append("%s: %r matches none of anyOf" % (where, value))
    if "oneOf" in schema:
        matching = sum(1 for sub in schema["oneOf"] if not validate(value, sub, where))
        if matching != 1:
            errors.append("%s: %r matches %d of oneOf (needs exactly 1)" % (where, value, matching))
    return errors
