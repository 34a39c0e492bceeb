{{/*
Names and labels. Every object of a component is named <release>-<component> (63 characters at most), so
that sibling subcharts can find each other's Services from the release name alone.
*/}}

{{/* This component's name; from the umbrella, another component's: include "bf.fullname" .Subcharts.api */}}
{{- define "bf.fullname" -}}
{{- include "bf.componentName" (dict "ctx" . "component" .Chart.Name) -}}
{{- end -}}

{{/* The name of another component of the same release: (dict "ctx" . "component" "bridge") */}}
{{- define "bf.componentName" -}}
{{- printf "%s-%s" .ctx.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bf.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bf.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bf.labels" -}}
helm.sh/chart: {{ include "bf.chart" . }}
{{ include "bf.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | default .Chart.Version | quote }}
app.kubernetes.io/component: {{ .Chart.Name }}
app.kubernetes.io/part-of: black-friday
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "bf.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{- define "bf.clusterDomain" -}}
{{- (.Values.global).clusterDomain | default "cluster.local" -}}
{{- end -}}
