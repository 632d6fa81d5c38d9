{{/* The chart's resource names. */}}
{{- define "hafiz.fullname" -}}
{{- if eq .Release.Name .Chart.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hafiz.headless" -}}
{{- printf "%s-peers" (include "hafiz.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hafiz.secretName" -}}
{{- if .Values.auth.existingSecret -}}
{{- .Values.auth.existingSecret -}}
{{- else -}}
{{- include "hafiz.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "hafiz.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hafiz.labels" -}}
{{ include "hafiz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
