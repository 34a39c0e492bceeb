{{- define "writer.env" -}}
- name: KAFKA_BROKERS
  value: {{ include "bf.kafka.bootstrap" . | quote }}
- name: KAFKA_TOPIC
  value: {{ include "bf.kafka.topic" . | quote }}
{{ include "bf.kafka.clientEnv" (dict "ctx" . "service" "writer") }}
{{- end -}}
