{{- define "consumer.env" -}}
- name: KAFKA_BROKERS
  value: {{ include "bf.kafka.bootstrap" . | quote }}
- name: KAFKA_TOPIC
  value: {{ include "bf.kafka.topic" . | quote }}
{{ include "bf.kafka.clientEnv" (dict "ctx" . "service" "consumer") }}
- name: KAFKA_DLQ_TOPIC
  value: {{ include "bf.kafka.deadLetterTopic" . | quote }}
- name: KAFKA_GROUP
  value: {{ include "bf.kafka.consumerGroup" . | quote }}
- name: VALKEY_ADDR
  value: {{ include "bf.address.valkey" . | quote }}
{{ include "bf.valkey.userEnv" (dict "ctx" . "user" "consumer") }}
{{- with include "bf.valkey.tlsEnv" . }}
{{ . }}
{{- end }}
{{- end -}}
