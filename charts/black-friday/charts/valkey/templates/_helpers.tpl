{{- define "valkey.headless" -}}
{{- printf "%s-headless" (include "bf.fullname" .) -}}
{{- end -}}

{{/* Pod 0's stable DNS name: the primary every replica follows. */}}
{{- define "valkey.primaryPod" -}}
{{- printf "%s-0.%s.%s.svc.%s" (include "bf.fullname" .) (include "valkey.headless" .) .Release.Namespace (include "bf.clusterDomain" .) -}}
{{- end -}}
