{{- define "api.env" -}}
- name: BRIDGE_URL
  value: {{ include "bf.address.bridge" . | quote }}
{{- end -}}
