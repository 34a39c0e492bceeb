{{- define "valkey.headless" -}}
{{- printf "%s-headless" (include "bf.fullname" .) -}}
{{- end -}}

{{/* The stable DNS name of pod N (dict "ctx" . "index" N); pod 0 is the primary every replica follows. */}}
{{- define "valkey.podAddress" -}}
{{- $ctx := .ctx -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "bf.fullname" $ctx) (int .index) (include "valkey.headless" $ctx) $ctx.Release.Namespace (include "bf.clusterDomain" $ctx) -}}
{{- end -}}

{{- define "valkey.port" -}}
{{- include "bf.port" (list "valkey" "valkey") -}}
{{- end -}}
