{{/* dns:/// + the writer's headless Service: the channel balances calls over every writer pod. */}}
{{- define "bridge.env" -}}
- name: GRPC_HOST
  value: {{ printf "dns:///%s-headless.%s.svc.%s:%v" (include "bf.componentName" (dict "ctx" . "component" "writer")) .Release.Namespace (include "bf.clusterDomain" .) .Values.writerPort | quote }}
{{- end -}}
