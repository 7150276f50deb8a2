{{- define "nce-ood.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nce-ood.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
A part's name: the full name and the part ("api", "worker", "redis" ...), within the 63 characters
of a Service or label. Cut only where the whole would pass 63, which Kubernetes refused anyway, so
the names of installed releases do not change (a renamed volume claim would lose Redis's data).
Called with (list $ "part").
*/}}
{{- define "nce-ood.part" -}}
{{- $root := index . 0 -}}
{{- $full := include "nce-ood.fullname" $root -}}
{{- $part := index . 1 -}}
{{- printf "%s-%s" ($full | trunc (int (sub 62 (len $part))) | trimSuffix "-") $part -}}
{{- end -}}

{{- define "nce-ood.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "nce-ood.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "nce-ood.selector" -}}
app.kubernetes.io/name: {{ include "nce-ood.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nce-ood.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "nce-ood.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "nce-ood.fullname" .) -}}
{{- end -}}

{{/* The Redis URL: external, or the in-chart Redis. */}}
{{- define "nce-ood.redisUrl" -}}
{{- if .Values.redis.externalUrl -}}
{{- .Values.redis.externalUrl -}}
{{- else if .Values.redis.enabled -}}
{{- printf "redis://%s:6379/0" (include "nce-ood.part" (list . "redis")) -}}
{{- else -}}
{{- fail "redis: set redis.externalUrl or redis.enabled=true (API replicas and workers share one Redis)" -}}
{{- end -}}
{{- end -}}

{{/* host:port of the Redis, for KEDA's redis scaler. */}}
{{- define "nce-ood.redisAddress" -}}
{{- $u := urlParse (include "nce-ood.redisUrl" .) -}}
{{- if contains ":" $u.host -}}{{ $u.host }}{{- else -}}{{ printf "%s:6379" $u.host }}{{- end -}}
{{- end -}}

{{/* Environment shared by the API and the workers. */}}
{{- define "nce-ood.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "nce-ood.fullname" . }}
env:
  - name: REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "nce-ood.secretName" . }}
        key: REDIS_URL
  - name: API_KEYS
    valueFrom:
      secretKeyRef:
        name: {{ include "nce-ood.secretName" . }}
        key: API_KEYS
        {{- /* The chart's own Secret leaves the key out for an open API; yours must hold it (empty for an open API): a key misspelt there stops the pods rather than opening the API. */}}
        {{- if not .Values.secrets.existingSecret }}
        optional: true
        {{- end }}
{{- end -}}

{{- define "nce-ood.pod" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
volumes:
  - name: tmp
    emptyDir: {}
{{- end -}}

{{/*
A Kubernetes memory quantity ("2Gi", "1536Mi", "2G", "2147483648") in MiB, rounded down; "" when
there is none. Other forms (exponents, milli-bytes) are left unchecked: -1.
*/}}
{{- define "nce-ood.mebibytes" -}}
{{- $q := toString (default "" .) -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- if eq $q "" -}}
{{- else if regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|K|M|G|T)?$" $q -}}
{{- $unit := regexFind "(Ki|Mi|Gi|Ti|k|K|M|G|T)$" $q -}}
{{- $number := trimSuffix $unit $q | float64 -}}
{{- $bytes := mulf $number (default 1 (get $units $unit)) -}}
{{- divf $bytes 1048576 | floor | int -}}
{{- else -}}
-1
{{- end -}}
{{- end -}}

{{/*
A process's V8 heap ceiling against its container's memory limit: the heap must leave a fifth of the
limit to what lives outside it (models' typed arrays, WebAssembly memory, buffers), or the process
grows past the limit and is OOM-killed before it collects garbage. `processes` share the limit.
*/}}
{{- define "nce-ood.checkHeap" -}}
{{- $memory := (default (dict) (default (dict) .resources).limits).memory -}}
{{- $limit := include "nce-ood.mebibytes" $memory -}}
{{- if and (ne $limit "") (ne $limit "-1") -}}
{{- $heap := mul (int .heap) (int .processes) -}}
{{- if gt (mul $heap 5) (mul (int $limit) 4) -}}
{{- fail (printf "%s (%d MiB of V8 heap) is more than 80%% of %s.resources.limits.memory (%s = %s MiB); the rest of the limit holds what lives outside the heap (models' arrays, WebAssembly memory, buffers), so the pod would be OOM-killed before it collects garbage: lower %s.heapMegabytes or raise the limit (the defaults keep the heap at 50-60%% of it)" .what $heap .component (toString $memory) $limit .component) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
What values.schema.json cannot say, since it relates two values: replica bounds in order, an API
PDB that leaves a pod free to be evicted (else node drains block for good), heaps within their
memory limits, and the HTTP timeouts in the order the service requires (else it refuses to start).
*/}}
{{- define "nce-ood.validate" -}}
{{- include "nce-ood.checkHeap" (dict "component" "api" "what" (printf "api.heapMegabytes %d" (int .Values.api.heapMegabytes)) "heap" .Values.api.heapMegabytes "processes" 1 "resources" .Values.api.resources) -}}
{{- $concurrency := int .Values.worker.concurrency -}}
{{- include "nce-ood.checkHeap" (dict "component" "worker" "what" (printf "worker.heapMegabytes %d x worker.concurrency %d (each training process inherits the heap)" (int .Values.worker.heapMegabytes) $concurrency) "heap" .Values.worker.heapMegabytes "processes" $concurrency "resources" .Values.worker.resources) -}}
{{- if gt (int .Values.config.httpHeadersTimeoutMs) (int .Values.config.httpRequestTimeoutMs) -}}
{{- fail (printf "config.httpHeadersTimeoutMs (%d) is above config.httpRequestTimeoutMs (%d): a request's headers come within its whole time, and the service refuses to start so; lower the first or raise the second" (int .Values.config.httpHeadersTimeoutMs) (int .Values.config.httpRequestTimeoutMs)) -}}
{{- end -}}
{{- $as := .Values.api.autoscaling -}}
{{- if and $as.enabled (gt (int $as.minReplicas) (int $as.maxReplicas)) -}}
{{- fail (printf "api.autoscaling: minReplicas (%d) is above maxReplicas (%d)" (int $as.minReplicas) (int $as.maxReplicas)) -}}
{{- end -}}
{{- $keda := .Values.worker.keda -}}
{{- if and $keda.enabled (gt (int $keda.minReplicas) (int $keda.maxReplicas)) -}}
{{- fail (printf "worker.keda: minReplicas (%d) is above maxReplicas (%d)" (int $keda.minReplicas) (int $keda.maxReplicas)) -}}
{{- end -}}
{{- $pdb := .Values.api.pdb -}}
{{- $fewest := ternary (int $as.minReplicas) (int .Values.api.replicas) $as.enabled -}}
{{- if $pdb.enabled -}}
{{- $kept := 0 -}}
{{- if kindIs "string" $pdb.minAvailable -}}
{{- if not (regexMatch "^[0-9]+%$" $pdb.minAvailable) -}}
{{- fail (printf "api.pdb.minAvailable: %q is neither a count nor a percentage" $pdb.minAvailable) -}}
{{- end -}}
{{- /* Kubernetes rounds a percentage of pods to keep up. */ -}}
{{- $kept = div (add (mul (int (trimSuffix "%" $pdb.minAvailable)) $fewest) 99) 100 -}}
{{- else -}}
{{- $kept = int $pdb.minAvailable -}}
{{- end -}}
{{- if ge (int $kept) $fewest -}}
{{- fail (printf "api.pdb.minAvailable (%v) keeps all of the API's fewest replicas (%d) up, so node drains would block: lower it, or set api.pdb.enabled=false" $pdb.minAvailable $fewest) -}}
{{- end -}}
{{- end -}}
{{- end -}}
