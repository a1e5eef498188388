{{/* The chart's name, or nameOverride. */}}
{{- define "mysqlgw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: RELEASE-NAME, or RELEASE when it holds NAME. */}}
{{- define "mysqlgw.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The labels that select the release's pods. */}}
{{- define "mysqlgw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mysqlgw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Every object's labels: the selector's and Helm's own. */}}
{{- define "mysqlgw.labels" -}}
{{ include "mysqlgw.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The file the server reads its table from. */}}
{{- define "mysqlgw.table" -}}
{{- if .Values.fetch.enabled }}/var/lib/mysqlgw/regions{{ else }}/etc/coredns/regions{{ end }}
{{- end }}

{{/* Values that cannot work together stop the render with a reason. */}}
{{- define "mysqlgw.validate" -}}
{{- if and .Values.transfer.health (not .Values.transfer.to) }}
{{- fail "transfer.health needs transfer.to: the secondaries' addresses, which the transfer plugin serves and notifies" }}
{{- end }}
{{- if and .Values.transfer.health (ne (int .Values.replicaCount) 1) }}
{{- fail (printf "transfer.health needs replicaCount 1, not %v: every replica with transfer_health numbers its own serials, so a zone's secondaries must have one such primary (docs/zone-transfer.md, \"Health-aware secondaries\"); run the replicas that answer clients as another release without it" .Values.replicaCount) }}
{{- end }}
{{- if lt (int .Values.replicaCount) 1 }}
{{- fail "replicaCount must be at least 1" }}
{{- end }}
{{- end }}
