"""The resource types the fake serves and their own rules: how a body decodes (400),
which defaults the server fills in, what it validates on create and update (422)."""
import os
import re

from . import errors
from .schema import CustomResource

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SUBDOMAIN_TEXT = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_TEXT = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
              "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
              "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MICRO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(.*)$")
MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"


def name_causes(name, label=False, max_len=None):
    """metadata.name checks of ValidateObjectMeta (DNS-1123 subdomain, or label for namespaces)."""
    causes = []
    limit = 63 if label else 253
    if len(name) > limit:
        causes.append(errors.invalid_value("metadata.name", name, "must be no more than %d characters" % limit))
    if not (DNS1123_LABEL if label else DNS1123_SUBDOMAIN).match(name):
        causes.append(errors.invalid_value("metadata.name", name, LABEL_TEXT if label else SUBDOMAIN_TEXT))
    if max_len is not None and len(name) > max_len and len(name) <= limit:
        causes.append(errors.invalid_value("metadata.name", name, "must be no more than %d characters" % max_len))
    return causes


def micro_time_error(text):
    """Go's time.Parse(RFC3339Micro) error for a MicroTime field, or None when it parses."""
    m = MICRO_TIME.match(text) if isinstance(text, str) else None
    if not m:
        return 'parsing time "%s" as "%s": cannot parse "%s" as "2006"' % (text, MICRO_LAYOUT, text)
    rest = m.group(2)
    if not re.match(r"^\.\d{6}", rest):
        return 'parsing time "%s" as "%s": cannot parse "%s" as ".000000"' % (text, MICRO_LAYOUT, rest)
    if not re.match(r"^(Z|[+-]\d{2}:\d{2})$", rest[7:]):
        return 'parsing time "%s" as "%s": cannot parse "%s" as "Z07:00"' % (text, MICRO_LAYOUT, rest[7:])
    return None


class ResourceType:
    """One served resource. generation: metadata.generation is kept (bumped by spec
    changes); status: has a status subresource; unconditional: PUT without a
    resourceVersion is allowed (false for custom resources and Leases)."""
    name_max = None

    def __init__(self, prefix, group, version, kind, plural, generation=False, status=False, unconditional=True,
                 namespaced=True):
        self.prefix, self.group, self.version, self.kind, self.plural = prefix, group, version, kind, plural
        self.api_version = group + "/" + version if group else version
        self.generation, self.status, self.unconditional, self.namespaced = generation, status, unconditional, \
            namespaced
        self.custom = False

    @property
    def kind_subject(self):
        return self.kind + ("." + self.group if self.group else "")

    def invalid(self, name, causes):
        return errors.invalid(self.kind_subject, name, self.group, self.kind, causes)

    def decode(self, body):
        """Raises the 400 of a body the server cannot decode into this kind."""

    def admit(self, obj, old):
        """Fills in the server's defaults (in place); returns the validation causes."""
        return []


class Chartmuseums(ResourceType):
    def __init__(self, crd_path):
        self.crd = CustomResource(crd_path)
        super().__init__("/apis/%s/%s" % (self.crd.group, self.crd.version), self.crd.group, self.crd.version,
                         self.crd.kind, self.crd.plural, generation=True, status=True, unconditional=False)
        self.custom = True

    def admit(self, obj, old):
        return self.crd.admit(obj)


# The fields of the built-in types the fake checks (batch/v1 CronJob down to its
# containers, as of v1.32): decoding into Go structs drops every other field, so an
# unknown one the operator wrote would never be stored. ANY keeps a value whole; a
# one-element list is "a list of this".
ANY = True
KEYS = lambda *names: {n: ANY for n in names}  # noqa: E731
CONTAINER = dict(
    KEYS("name", "image", "command", "args", "workingDir", "ports", "envFrom", "volumeMounts", "volumeDevices",
         "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
         "terminationMessagePolicy", "imagePullPolicy", "stdin", "stdinOnce", "tty", "restartPolicy",
         "resizePolicy"),
    env=[KEYS("name", "value", "valueFrom")],
    resources=KEYS("limits", "requests", "claims"),
    securityContext=KEYS("capabilities", "privileged", "seLinuxOptions", "windowsOptions", "runAsUser",
                         "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation",
                         "procMount", "seccompProfile", "appArmorProfile"))
POD_SPEC = dict(
    KEYS("volumes", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds",
         "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount",
         "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace",
         "imagePullSecrets", "hostname", "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases",
         "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName", "enableServiceLinks",
         "preemptionPolicy", "overhead", "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers",
         "schedulingGates", "resourceClaims", "resources"),
    containers=[CONTAINER], initContainers=[CONTAINER],
    securityContext=KEYS("seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot",
                         "supplementalGroups", "supplementalGroupsPolicy", "fsGroup", "sysctls",
                         "fsGroupChangePolicy", "seccompProfile", "appArmorProfile", "seLinuxChangePolicy"))
JOB_SPEC = dict(
    KEYS("parallelism", "completions", "activeDeadlineSeconds", "podFailurePolicy", "successPolicy", "backoffLimit",
         "backoffLimitPerIndex", "maxFailedIndexes", "selector", "manualSelector", "ttlSecondsAfterFinished",
         "completionMode", "suspend", "podReplacementPolicy", "managedBy"),
    template={"metadata": ANY, "spec": POD_SPEC})
CRONJOB = {"apiVersion": ANY, "kind": ANY, "metadata": ANY, "status": ANY,
           "spec": dict(KEYS("schedule", "timeZone", "startingDeadlineSeconds", "concurrencyPolicy", "suspend",
                             "successfulJobsHistoryLimit", "failedJobsHistoryLimit"),
                        jobTemplate={"metadata": ANY, "spec": JOB_SPEC})}


def drop_unknown(value, known):
    """Removes (in place) the fields `known` does not name, as decoding into a struct does."""
    if known is ANY:
        return
    if isinstance(known, list):
        for item in value if isinstance(value, list) else []:
            drop_unknown(item, known[0])
    elif isinstance(value, dict):
        for key in list(value):
            if key not in known:
                del value[key]
            else:
                drop_unknown(value[key], known[key])


class CronJobs(ResourceType):
    name_max = 52  # a Job's name is the CronJob's plus an 11-character suffix, within 63

    def admit(self, obj, old):
        drop_unknown(obj, CRONJOB)
        spec = obj.setdefault("spec", {})
        for key, value in (("concurrencyPolicy", "Allow"), ("suspend", False), ("successfulJobsHistoryLimit", 3),
                           ("failedJobsHistoryLimit", 1)):
            spec.setdefault(key, value)
        job = spec.setdefault("jobTemplate", {})
        job.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        template = job.setdefault("spec", {}).setdefault("template", {})
        template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        pod = template.setdefault("spec", {})
        for key, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                           ("dnsPolicy", "ClusterFirst"), ("securityContext", {}),
                           ("schedulerName", "default-scheduler")):
            pod.setdefault(key, value)
        for c in pod.get("containers") or []:
            image = c.get("image", "")
            tag = image.rsplit("/", 1)[-1]
            latest = ":" not in tag or tag.endswith(":latest")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("imagePullPolicy", "Always" if latest and "@" not in image else "IfNotPresent")
        obj.setdefault("status", {})
        causes = []
        if not spec.get("schedule"):
            causes.append(errors.required("spec.schedule"))
        if spec["concurrencyPolicy"] not in ("Allow", "Forbid", "Replace"):
            causes.append(errors.not_supported("spec.concurrencyPolicy", spec["concurrencyPolicy"],
                                               ["Allow", "Forbid", "Replace"]))
        if pod["restartPolicy"] not in ("OnFailure", "Never"):
            causes.append(errors.not_supported("spec.jobTemplate.spec.template.spec.restartPolicy",
                                               pod["restartPolicy"], ["OnFailure", "Never"]))
        if not pod.get("containers"):
            causes.append(errors.required("spec.jobTemplate.spec.template.spec.containers"))
        return causes


class Leases(ResourceType):
    def decode(self, body):
        for field in ("acquireTime", "renewTime"):
            value = (body.get("spec") or {}).get(field)
            if value is not None:
                problem = micro_time_error(value)
                if problem:
                    raise errors.bad_request('Lease in version "v1" cannot be handled as a Lease: ' + problem)

    def admit(self, obj, old):
        spec = obj.get("spec") or {}
        causes = []
        d = spec.get("leaseDurationSeconds")
        if d is not None and d <= 0:
            causes.append(errors.invalid_value("spec.leaseDurationSeconds", d, "must be greater than 0"))
        t = spec.get("leaseTransitions")
        if t is not None and t < 0:
            causes.append(errors.invalid_value("spec.leaseTransitions", t, "must be greater than or equal to 0"))
        return causes


class Events(ResourceType):
    def decode(self, body):
        value = body.get("eventTime")
        if value is not None:
            problem = micro_time_error(value)
            if problem:
                raise errors.bad_request('Event in version "v1" cannot be handled as an Event: ' + problem)

    def admit(self, obj, old):
        for key, value in (("eventTime", None), ("reportingComponent", ""), ("reportingInstance", ""),
                           ("firstTimestamp", None), ("lastTimestamp", None), ("source", {}),
                           ("involvedObject", {})):
            obj.setdefault(key, value)
        causes = []
        ns = obj["involvedObject"].get("namespace")
        if ns and ns != obj["metadata"].get("namespace"):
            causes.append(errors.invalid_value("involvedObject.namespace", ns, "does not match event.namespace"))
        return causes


class Secrets(ResourceType):
    def admit(self, obj, old):
        obj.setdefault("type", "Opaque")
        return []


def default_crd_path():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "manifests", "crd.yaml")


def resource_types(crd_path):
    """{(prefix, plural): ResourceType} of everything served."""
    types = [
        Chartmuseums(crd_path),
        CronJobs("/apis/batch/v1", "batch", "v1", "CronJob", "cronjobs", generation=True, status=True),
        Leases("/apis/coordination.k8s.io/v1", "coordination.k8s.io", "v1", "Lease", "leases",
               unconditional=False),
        Events("/api/v1", "", "v1", "Event", "events"),
        Secrets("/api/v1", "", "v1", "Secret", "secrets"),
        ResourceType("/api/v1", "", "v1", "Namespace", "namespaces", namespaced=False),
    ]
    return {(t.prefix, t.plural): t for t in types}
