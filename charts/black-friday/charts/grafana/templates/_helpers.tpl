{{- define "grafana.secretName" -}}
{{- .Values.admin.existingSecret | default (include "bf.fullname" .) -}}
{{- end -}}

{{/*
A dashboard file with the chart's choices applied: the focus category and label (the dashboard's
"categoria" and "carnet" variables) and the refresh interval.
*/}}
{{- define "grafana.dashboard" -}}
{{- $ctx := .ctx -}}
{{- $dashboard := .content | fromJson -}}
{{- $_ := set $dashboard "refresh" $ctx.Values.dashboards.refresh -}}
{{- $category := include "bf.focusCategory" $ctx -}}
{{- $label := (($ctx.Values.global).focusLabel | default "" | toString) -}}
{{- range ($dashboard.templating).list -}}
{{- if eq .name "categoria" -}}
{{- $_ := set . "current" (dict "selected" true "text" $category "value" $category) -}}
{{- range .options -}}
{{- $_ := set . "selected" (eq .value $category) -}}
{{- end -}}
{{- else if eq .name "carnet" -}}
{{- $_ := set . "query" $label -}}
{{- $_ := set . "current" (dict "selected" false "text" $label "value" $label) -}}
{{- $_ := set . "options" (list (dict "selected" true "text" $label "value" $label)) -}}
{{- end -}}
{{- end -}}
{{- toPrettyJson $dashboard -}}
{{- end -}}
