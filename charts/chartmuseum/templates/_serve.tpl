{{/*
Helpers of `cmop serve` in its two placements (operator.serve.mode):
  sidecar     a container in the ChartMuseum pod, publishing to ChartMuseum on
              localhost (the default);
  deployment  its own single-replica Deployment and Service, publishing through
              the ChartMuseum Service or into an OCI registry
              (operator.serve.oci.registry), so ChartMuseum can scale or be
              left out (chartmuseum.enabled=false).
*/}}

{{/* "sidecar" or "deployment" (an empty mode is the default, sidecar). */}}
{{- define "chartmuseum.serveMode" -}}
{{- default "sidecar" .Values.operator.serve.mode -}}
{{- end -}}

{{/* "true" when the cmop sidecar runs in the ChartMuseum pod. */}}
{{- define "chartmuseum.serveSidecar" -}}
{{- if and .Values.operator.enabled (eq (include "chartmuseum.serveMode" .) "sidecar") -}}true{{- end -}}
{{- end -}}

{{/* "true" when `cmop serve` runs as its own Deployment. */}}
{{- define "chartmuseum.serveDeployment" -}}
{{- if and .Values.operator.enabled (eq (include "chartmuseum.serveMode" .) "deployment") -}}true{{- end -}}
{{- end -}}

{{/* "true" when cmop publishes into ChartMuseum (not into an OCI registry). */}}
{{- define "chartmuseum.servePublishesToChartmuseum" -}}
{{- if and .Values.operator.enabled (not .Values.operator.serve.oci.registry) -}}true{{- end -}}
{{- end -}}

{{- define "chartmuseum.serveFullname" -}}
{{- printf "%s-serve" (include "chartmuseum.fullname" .) -}}
{{- end -}}

{{/* Selector labels of the standalone serve pod (immutable once deployed). */}}
{{- define "chartmuseum.serveSelectorLabels" -}}
app.kubernetes.io/name: {{ include "chartmuseum.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: serve
{{- end -}}

{{/*
The Service and port through which the operator and the CronJobs reach
`cmop serve`: the ChartMuseum Service's cmop port for the sidecar, the serve
Service otherwise.
*/}}
{{- define "chartmuseum.serveServiceName" -}}
{{- if eq (include "chartmuseum.serveDeployment" .) "true" -}}
{{- include "chartmuseum.serveFullname" . -}}
{{- else -}}
{{- include "chartmuseum.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "chartmuseum.serveServicePort" -}}
{{- if eq (include "chartmuseum.serveDeployment" .) "true" -}}
{{- .Values.operator.serve.service.port | int -}}
{{- else -}}
8081
{{- end -}}
{{- end -}}

{{/* The Secret holding inline OCI registry credentials, when the chart makes one. */}}
{{- define "chartmuseum.ociSecretName" -}}
{{- $oci := .Values.operator.serve.oci -}}
{{- if $oci.existingSecret -}}
{{- $oci.existingSecret -}}
{{- else -}}
{{- printf "%s-oci" (include "chartmuseum.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* "true" when the chart creates the OCI credentials Secret. */}}
{{- define "chartmuseum.createsOciSecret" -}}
{{- $oci := .Values.operator.serve.oci -}}
{{- if and (eq (include "chartmuseum.serveDeployment" .) "true") $oci.registry (not $oci.existingSecret) (or $oci.username $oci.password) -}}true{{- end -}}
{{- end -}}

{{/*
"true" when the OCI registry is one of operator.serve.oci.plainHTTP (its
host[:port] listed there, as cmop serve matches it): Helm then needs --plain-http.
*/}}
{{- define "chartmuseum.ociPlainHTTP" -}}
{{- $oci := .Values.operator.serve.oci -}}
{{- $host := first (splitList "/" (trimPrefix "oci://" (toString $oci.registry))) -}}
{{- if and $host (has $host (default list $oci.plainHTTP)) -}}true{{- end -}}
{{- end -}}

{{/* Where the extra CA bundle is mounted in the serve container. */}}
{{- define "chartmuseum.serveCADir" -}}
/etc/cmop/ca
{{- end -}}

{{/*
Arguments both placements pass to `cmop serve` beyond the basics: the extra CA
bundle and the registries reached over plain HTTP. YAML list items, unindented;
empty when neither is set.
*/}}
{{- define "chartmuseum.serveCommonArgs" -}}
{{- $serve := .Values.operator.serve -}}
{{- if or $serve.caSecret $serve.caConfigMap }}
- --ca-file
- {{ printf "%s/%s" (include "chartmuseum.serveCADir" .) (default "ca.crt" $serve.caKey) | quote }}
{{- end }}
{{- with $serve.oci.plainHTTP }}
- --plain-http-registries
- {{ join "," . | quote }}
{{- end }}
{{- if $serve.signingKey.secret }}
- --signing-key
- {{ printf "%s/%s" (include "chartmuseum.serveSigningKeyDir" .) (default "signing.asc" $serve.signingKey.key) | quote }}
{{- end }}
{{- end -}}

{{/* Where the signing key's Secret is mounted in the serve container. */}}
{{- define "chartmuseum.serveSigningKeyDir" -}}
/etc/cmop/signing
{{- end -}}

{{/* The CA bundle's volume mount and volume (list items), empty without one. */}}
{{- define "chartmuseum.serveCAVolumeMount" -}}
{{- if or .Values.operator.serve.caSecret .Values.operator.serve.caConfigMap }}
- name: cmop-ca
  mountPath: {{ include "chartmuseum.serveCADir" . }}
  readOnly: true
{{- end }}
{{- if .Values.operator.serve.signingKey.secret }}
- name: cmop-signing-key
  mountPath: {{ include "chartmuseum.serveSigningKeyDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "chartmuseum.serveCAVolume" -}}
{{- $serve := .Values.operator.serve -}}
{{- $item := list (dict "key" (default "ca.crt" $serve.caKey) "path" (default "ca.crt" $serve.caKey)) -}}
{{- if $serve.caSecret }}
- name: cmop-ca
  secret:
    secretName: {{ $serve.caSecret }}
    items:
      {{- toYaml $item | nindent 6 }}
{{- else if $serve.caConfigMap }}
- name: cmop-ca
  configMap:
    name: {{ $serve.caConfigMap }}
    items:
      {{- toYaml $item | nindent 6 }}
{{- end }}
{{- with $serve.signingKey.secret }}
{{- $key := default "signing.asc" $serve.signingKey.key }}
- name: cmop-signing-key
  secret:
    secretName: {{ . }}
    items:
      - key: {{ $key }}
        path: {{ $key }}
{{- end }}
{{- end -}}

{{/*
ChartMuseum's credentials for `cmop serve` (env list items, unindented): the
same secretKeyRefs ChartMuseum's own BASIC_AUTH_USER/PASS come from, so both
always agree. Used by the serve Deployment; the sidecar in deployment.yaml
wires the same variables (test/helm-chart checks the two stay equal).
*/}}
{{- define "chartmuseum.serveChartmuseumAuthEnv" -}}
{{- range $pair := list (list "CMOP_CHARTMUSEUM_USERNAME" "BASIC_AUTH_USER") (list "CMOP_CHARTMUSEUM_PASSWORD" "BASIC_AUTH_PASS") }}
{{- $ref := include "chartmuseum.secretEnvRef" (list $ (index $pair 1)) | fromJson }}
{{- if $ref.name }}
- name: {{ index $pair 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The OCI target of `cmop serve` (env list items, unindented). */}}
{{- define "chartmuseum.serveOciEnv" -}}
{{- $oci := .Values.operator.serve.oci -}}
- name: CMOP_OCI_REGISTRY
  value: {{ $oci.registry | quote }}
{{- if or $oci.existingSecret $oci.username $oci.password }}
{{- $secret := include "chartmuseum.ociSecretName" . }}
{{- if or $oci.existingSecret $oci.username }}
- name: CMOP_OCI_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: username
{{- end }}
{{- if or $oci.existingSecret $oci.password }}
- name: CMOP_OCI_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: password
{{- end }}
{{- end }}
{{- end -}}

{{/*
Refuses combinations of chartmuseum.enabled and operator.serve.* that cannot
work. Called from chartmuseum.validate.
*/}}
{{- define "chartmuseum.validateServe" -}}
{{- $serve := .Values.operator.serve -}}
{{- $oci := $serve.oci -}}
{{- $mode := include "chartmuseum.serveMode" . -}}
{{- $cmOn := .Values.chartmuseum.enabled -}}
{{- if not (has $mode (list "sidecar" "deployment")) -}}
{{- fail (printf "operator.serve.mode must be sidecar or deployment, not %q" $mode) -}}
{{- end -}}
{{- if $oci.registry -}}
{{- if not .Values.operator.enabled -}}
{{- fail "operator.serve.oci.registry is set but operator.enabled=false: nothing would publish to the registry. Set operator.enabled=true and operator.serve.mode=deployment." -}}
{{- end -}}
{{- if ne $mode "deployment" -}}
{{- fail "operator.serve.oci.registry needs operator.serve.mode=deployment: the sidecar publishes only into its own ChartMuseum." -}}
{{- end -}}
{{- $registry := toString $oci.registry -}}
{{- if not (hasPrefix "oci://" $registry) -}}
{{- fail (printf "operator.serve.oci.registry must be oci://host[:port]/path, as helm push takes it (e.g. oci://registry.example.com/charts), not %q" $registry) -}}
{{- end -}}
{{- if contains "@" $registry -}}
{{- /* the value is not repeated: it may hold a password */ -}}
{{- fail "operator.serve.oci.registry must not carry credentials (user@ or user:password@): set operator.serve.oci.username and password, or operator.serve.oci.existingSecret" -}}
{{- end -}}
{{- if not (regexMatch `^oci://[^/?#\s]+(/[^?#\s]*)?$` $registry) -}}
{{- fail (printf "operator.serve.oci.registry %q is not oci://host[:port]/path: it needs a host, and no query (?), fragment (#) or spaces" $registry) -}}
{{- end -}}
{{- if and $oci.existingSecret (or $oci.username $oci.password) -}}
{{- fail "set either operator.serve.oci.existingSecret or operator.serve.oci.username/password, not both" -}}
{{- end -}}
{{- if and (not $oci.existingSecret) (or $oci.username $oci.password) (not (and $oci.username $oci.password)) -}}
{{- fail "operator.serve.oci.username and operator.serve.oci.password go together: set both, or neither for anonymous access" -}}
{{- end -}}
{{- if include "chartmuseum.serveTenant" . -}}
{{- fail "operator.serve.tenant is a ChartMuseum tenant and means nothing with operator.serve.oci.registry: put the path in the registry URL instead" -}}
{{- end -}}
{{- else if or $oci.existingSecret $oci.username $oci.password -}}
{{- fail "operator.serve.oci credentials are set without operator.serve.oci.registry" -}}
{{- end -}}
{{- if not $cmOn -}}
{{- if not (and .Values.operator.enabled (eq $mode "deployment") $oci.registry) -}}
{{- fail "chartmuseum.enabled=false leaves nothing to serve charts: it needs operator.enabled=true, operator.serve.mode=deployment and operator.serve.oci.registry (cmop then publishes into that registry)." -}}
{{- end -}}
{{- if .Values.ingress.enabled -}}
{{- fail "ingress.enabled=true routes to ChartMuseum, which chartmuseum.enabled=false leaves out: disable the ingress (charts are served by the OCI registry)." -}}
{{- end -}}
{{- if .Values.persistence.enabled -}}
{{- fail "persistence.* is ChartMuseum's storage, which chartmuseum.enabled=false leaves out: use operator.serve.persistence for cmop's state." -}}
{{- end -}}
{{- end -}}
{{- if and $serve.caSecret $serve.caConfigMap -}}
{{- fail "set either operator.serve.caSecret or operator.serve.caConfigMap, not both" -}}
{{- end -}}
{{- if eq (include "chartmuseum.serveDeployment" .) "true" -}}
{{- if and $cmOn (not $oci.registry) (gt (int .Values.replicaCount) 1) (eq (toString .Values.env.open.STORAGE) "local") -}}
{{- if not (and .Values.persistence.enabled (eq .Values.persistence.accessMode "ReadWriteMany")) -}}
{{- fail (printf "replicaCount=%d with env.open.STORAGE=local: every ChartMuseum pod must see the charts cmop uploads to any one of them, so they need shared storage. Use an object store (env.open.STORAGE=amazon, google, microsoft, alibaba, openstack or oracle with its STORAGE_* settings), or a ReadWriteMany volume (persistence.enabled=true, persistence.accessMode=ReadWriteMany)." (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
