{{/* Chart name, truncated to the 63 characters of a DNS-1123 label. */}}
{{- define "chartmuseum.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name: the release name alone when it already contains the
chart name, else <release>-<chart>. Suffixed names (-operator) stay under 63.
*/}}
{{- define "chartmuseum.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 54 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chartmuseum.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "chartmuseum.labels" -}}
helm.sh/chart: {{ include "chartmuseum.chart" . }}
app.kubernetes.io/name: {{ include "chartmuseum.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chartmuseum
{{- end -}}

{{/* Selector labels of the ChartMuseum pods (immutable once deployed). */}}
{{- define "chartmuseum.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chartmuseum.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{/* Selector labels of the operator pods. */}}
{{- define "chartmuseum.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "chartmuseum.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "chartmuseum.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chartmuseum.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chartmuseum.operatorFullname" -}}
{{- printf "%s-operator" (include "chartmuseum.fullname" .) -}}
{{- end -}}

{{- define "chartmuseum.operatorServiceAccountName" -}}
{{- if .Values.operator.operate.serviceAccount.create -}}
{{- default (include "chartmuseum.operatorFullname" .) .Values.operator.operate.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.operate.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chartmuseum.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString .Values.image.tag) -}}
{{- end -}}

{{- define "chartmuseum.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (toString .Values.operator.image.tag) -}}
{{- end -}}

{{/* The Secret holding the sidecar's bearer token, and its key. */}}
{{- define "chartmuseum.tokenSecretName" -}}
{{- if .Values.operator.existingTokenSecret -}}
{{- .Values.operator.existingTokenSecret -}}
{{- else -}}
{{- printf "%s-cmop-token" (include "chartmuseum.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "chartmuseum.tokenSecretKey" -}}
{{- if .Values.operator.existingTokenSecret -}}
{{- default "token" .Values.operator.existingTokenSecretKey -}}
{{- else -}}
token
{{- end -}}
{{- end -}}

{{/*
operator.token as text ("" when unset). `--set operator.token=123456` hands the
chart a number, which is still the token "123456".
*/}}
{{- define "chartmuseum.operatorToken" -}}
{{- $token := .Values.operator.token -}}
{{- if not (kindIs "invalid" $token) -}}
{{- include "chartmuseum.envValue" $token -}}
{{- end -}}
{{- end -}}

{{/*
operator.serve.tenant without leading and trailing slashes ("/org/team/" is
org/team): what the chart checks against env.open.DEPTH and passes to cmop.
*/}}
{{- define "chartmuseum.serveTenant" -}}
{{- trimAll "/" (toString (default "" .Values.operator.serve.tenant)) -}}
{{- end -}}

{{/* ChartMuseum's context path ("" or "/prefix", no trailing slash). */}}
{{- define "chartmuseum.contextPath" -}}
{{- $path := toString (default "" .Values.env.open.CONTEXT_PATH) | trimSuffix "/" -}}
{{- if and $path (not (hasPrefix "/" $path)) -}}
{{- printf "/%s" $path -}}
{{- else -}}
{{- $path -}}
{{- end -}}
{{- end -}}

{{- define "chartmuseum.storageRoot" -}}
{{- default "/storage" .Values.env.open.STORAGE_LOCAL_ROOTDIR -}}
{{- end -}}

{{/*
Where the variable KEY (BASIC_AUTH_USER, ...) of ChartMuseum comes from, as a
secretKeyRef dict {name, key}, or an empty dict when it is not set. Both
ChartMuseum and the cmop sidecar use it, so they always agree on credentials.
*/}}
{{- define "chartmuseum.secretEnvRef" -}}
{{- $root := index . 0 -}}
{{- $var := index . 1 -}}
{{- $v := $root.Values.env -}}
{{- if $v.existingSecret -}}
{{- $key := index (default dict $v.existingSecretMappings) $var -}}
{{- if $key -}}
{{- dict "name" $v.existingSecret "key" $key | toJson -}}
{{- else -}}
{{- dict | toJson -}}
{{- end -}}
{{- else if index (default dict $v.secret) $var -}}
{{- dict "name" (include "chartmuseum.fullname" $root) "key" $var | toJson -}}
{{- else -}}
{{- dict | toJson -}}
{{- end -}}
{{- end -}}

{{/* True ("true") when the chart creates the env.secret Secret. */}}
{{- define "chartmuseum.createsEnvSecret" -}}
{{- $any := false -}}
{{- if not .Values.env.existingSecret -}}
{{- range $k, $val := .Values.env.secret -}}
{{- if $val -}}{{- $any = true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- if $any -}}true{{- end -}}
{{- end -}}

{{/*
Refuses value combinations that would deploy something broken, before any
object is rendered.
*/}}
{{- define "chartmuseum.validate" -}}
{{- include "chartmuseum.validateServe" . -}}
{{- if .Values.operator.enabled -}}
{{- $open := .Values.env.open -}}
{{- if eq (include "chartmuseum.servePublishesToChartmuseum" .) "true" -}}
{{- if eq (toString $open.DISABLE_API) "true" -}}
{{- fail "operator.enabled=true needs ChartMuseum's API: the cmop sidecar uploads charts through it. Set env.open.DISABLE_API=false." -}}
{{- end -}}
{{- if eq (toString $open.DISABLE_DELETE) "true" -}}
{{- fail "operator.enabled=true needs ChartMuseum's DELETE route: cmop removes the charts of deleted repos and chart folders. Set env.open.DISABLE_DELETE=false." -}}
{{- end -}}
{{- if eq (toString $open.ALLOW_OVERWRITE) "true" -}}
{{- fail "operator.enabled=true refuses env.open.ALLOW_OVERWRITE=true: ChartMuseum would overwrite an existing chart version without a 409, so cmop could not detect two repos publishing the same name+version (cmop replaces its own charts with ?force, which needs no ALLOW_OVERWRITE)." -}}
{{- end -}}
{{- $depth := int (default 0 $open.DEPTH) -}}
{{- $tenant := include "chartmuseum.serveTenant" . -}}
{{- if and (gt $depth 0) (not $tenant) -}}
{{- fail "env.open.DEPTH > 0 makes ChartMuseum multi-tenant: set operator.serve.tenant (org/repo) so cmop knows where to publish." -}}
{{- end -}}
{{- if and (eq $depth 0) $tenant -}}
{{- fail (printf "operator.serve.tenant %q needs a multi-tenant ChartMuseum: set env.open.DEPTH to its number of path segments (%d), or unset the tenant." $tenant (len (splitList "/" $tenant))) -}}
{{- end -}}
{{- if $tenant -}}
{{- $segments := splitList "/" $tenant -}}
{{- if ne (len $segments) $depth -}}
{{- fail (printf "operator.serve.tenant %q has %d path segment(s) but env.open.DEPTH=%d: ChartMuseum routes exactly DEPTH segments, so every upload would be a 404." $tenant (len $segments) $depth) -}}
{{- end -}}
{{- range $segments -}}
{{- if or (eq . "") (eq . ".") (eq . "..") -}}
{{- fail (printf "operator.serve.tenant %q has an empty, \".\" or \"..\" segment" $tenant) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (eq (include "chartmuseum.bearerAuth" .) "true") (not .Values.operator.serve.chartmuseumBearerTokenSecret.name) -}}
{{- fail "ChartMuseum's BEARER_AUTH is on: set operator.serve.chartmuseumBearerTokenSecret.name (and .key) to the Secret holding a token your auth server issued for the cmop sidecar, or it cannot upload." -}}
{{- end -}}
{{- end -}}
{{- if and (eq (include "chartmuseum.serveSidecar" .) "true") (gt (int .Values.replicaCount) 1) -}}
{{- fail "operator.enabled=true with operator.serve.mode=sidecar needs replicaCount=1: every ChartMuseum pod carries its own cmop sidecar and the operator drives only one of them. Set operator.serve.mode=deployment to run cmop serve once, beside a scalable ChartMuseum on shared storage." -}}
{{- end -}}
{{- if and (gt (int .Values.operator.operate.replicaCount) 1) (not .Values.operator.leaderElect) -}}
{{- fail "operator.operate.replicaCount > 1 needs operator.leaderElect=true: two active operators would fight over the same resources." -}}
{{- end -}}
{{- if and .Values.operator.existingTokenSecret (include "chartmuseum.operatorToken" .) -}}
{{- fail "set either operator.token or operator.existingTokenSecret, not both" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.persistence.enabled (eq (toString .Values.env.open.STORAGE) "local") (gt (int .Values.replicaCount) 1) (eq .Values.persistence.accessMode "ReadWriteOnce") -}}
{{- fail "replicaCount > 1 with STORAGE=local needs a ReadWriteMany volume (persistence.accessMode)" -}}
{{- end -}}
{{- end -}}

{{/*
"true" when ChartMuseum runs with bearer auth, whichever way BEARER_AUTH is set:
env.open, env.secret, or a mapping of existingSecret (whose value the chart
cannot see, so a mapping counts as on).
*/}}
{{- define "chartmuseum.bearerAuth" -}}
{{- $v := .Values.env -}}
{{- if eq (toString (index (default dict $v.open) "BEARER_AUTH")) "true" -}}
true
{{- else if and (not $v.existingSecret) (eq (toString (index (default dict $v.secret) "BEARER_AUTH")) "true") -}}
true
{{- else if and $v.existingSecret (index (default dict $v.existingSecretMappings) "BEARER_AUTH") -}}
true
{{- end -}}
{{- end -}}

{{/*
The sidecar's ChartMuseum credentials as container env entries, taken from
wherever ChartMuseum gets its own: BASIC_AUTH_USER/PASS from env.secret or
existingSecret (a secretKeyRef, as ChartMuseum's) or else from env.open (the
plain value); the bearer token from operator.serve.chartmuseumBearerTokenSecret.
*/}}
{{- define "chartmuseum.sidecarCredentialEnv" -}}
{{- $root := . -}}
{{- range $pair := list (list "BASIC_AUTH_USER" "CMOP_CHARTMUSEUM_USERNAME") (list "BASIC_AUTH_PASS" "CMOP_CHARTMUSEUM_PASSWORD") }}
{{- $ref := include "chartmuseum.secretEnvRef" (list $root (index $pair 0)) | fromJson }}
{{- $plain := index (default dict $root.Values.env.open) (index $pair 0) }}
{{- if $ref.name }}
- name: {{ index $pair 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- else if and (not (kindIs "invalid" $plain)) (ne (toString $plain) "") }}
- name: {{ index $pair 1 }}
  value: {{ toString $plain | quote }}
{{- end }}
{{- end }}
{{- with .Values.operator.serve.chartmuseumBearerTokenSecret }}
{{- if .name }}
- name: CMOP_CHARTMUSEUM_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ default "token" .key }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
A value as the text a program reads (env.open and env.secret variables, the
sidecar token). YAML numbers from a values file arrive as floats, which print as
5.24288e+07: whole ones are written as integers (MAX_UPLOAD_SIZE: 52428800 stays
52428800).
*/}}
{{- define "chartmuseum.envValue" -}}
{{- if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . | toString -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}
