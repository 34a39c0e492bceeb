{{/* dns:/// + the writer's headless Service: the channel balances calls over every writer pod. */}}
{{- define "bridge.env" -}}
- name: GRPC_HOST
  value: {{ include "bf.address.writer" . | quote }}
{{- end -}}
