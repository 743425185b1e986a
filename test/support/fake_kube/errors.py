"""Status objects as kube-apiserver v1.32 writes them (message wording, reason, details)."""


class ApiError(Exception):
    """A failure answered as a Status object. `details` is the Status's details or None;
    `content_type`/`text` make a non-JSON answer (priority-and-fairness 429s);
    `headers` are extra response headers (Retry-After)."""

    def __init__(self, code, reason, message, details=None, headers=None, text=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers, self.text = details, dict(headers or {}), text

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            st["details"] = self.details
        return st


def qualified(resource, group):
    """chartmuseums.cm.bitnami.com, cronjobs.batch, events (the core group has no suffix)."""
    return resource + ("." + group if group else "")


def details(name, group, kind, **extra):
    d = {"name": name}
    if group:
        d["group"] = group
    d["kind"] = kind
    d.update(extra)
    return d


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(rt.plural, rt.group), name),
                    details(name, rt.group, rt.plural))


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(rt.plural, rt.group), name),
                    details(name, rt.group, rt.plural))


def conflict(rt, name, why="the object has been modified; please apply your changes to the latest version "
                           "and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (qualified(rt.plural, rt.group), name, why), details(name, rt.group, rt.plural))


def forbidden(rt, name, message, causes=None):
    subject = qualified(rt.plural, rt.group) + (' "%s"' % name if name else "")
    d = details(name, rt.group, rt.plural)
    if causes:
        d["causes"] = causes
    return ApiError(403, "Forbidden", "%s is forbidden: %s" % (subject, message), d)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


class Cause:
    """One field error; `text` is what follows the field in the message, as Go's
    field.Error prints it ("Invalid value: 0: must be greater than 0")."""

    def __init__(self, reason, field, text):
        self.reason, self.field, self.text = reason, field, text

    def as_dict(self):
        return {"reason": self.reason, "message": self.text, "field": self.field}


def go_value(v):
    """A value as field.Error prints it: strings quoted, numbers and booleans bare."""
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return '"null"'
    return str(v)


def invalid_value(field, value, detail):
    return Cause("FieldValueInvalid", field, "Invalid value: %s: %s" % (go_value(value), detail))


def type_invalid(field, value, detail):
    return Cause("FieldValueTypeInvalid", field, "Invalid value: %s: %s" % (go_value(value), detail))


def required(field, detail=""):
    return Cause("FieldValueRequired", field, "Required value" + (": " + detail if detail else ""))


def not_supported(field, value, allowed):
    return Cause("FieldValueNotSupported", field, "Unsupported value: %s: supported values: %s"
                 % (go_value(value), ", ".join(go_value(a) for a in allowed)))


def duplicate(field, text):
    return Cause("FieldValueDuplicate", field, "Duplicate value: " + text)


def forbidden_field(field, detail):
    return Cause("FieldValueForbidden", field, "Forbidden: " + detail)


def too_long(field, limit):
    return Cause("FieldValueTooLong", field, "Too long: may not be more than %d bytes" % limit)


def invalid(subject, name, group, kind, causes):
    """422 Invalid. subject is "Kind.group" (strategy validation) or "resource.group"
    (the storage layer); the message lists each distinct cause once, as an aggregate does."""
    texts = []
    for c in causes:
        t = "%s: %s" % (c.field, c.text) if c.field else c.text
        if t not in texts:
            texts.append(t)
    listed = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (subject, name, listed),
                    dict(details(name, group, kind), causes=[c.as_dict() for c in causes]))
