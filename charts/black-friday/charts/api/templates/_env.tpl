{{- define "api.env" -}}
- name: BRIDGE_URL
  value: {{ printf "http://%s:%v" (include "bf.componentName" (dict "ctx" . "component" "bridge")) .Values.bridgePort | quote }}
{{- end -}}
