{{/*
How KEDA logs in to Kafka to read the lag: as the consumer (its user name and password, the brokers' CA),
all by reference. Strimzi mode: the user name from the consumer container's environment (a plain value:
the KafkaUser's name), the password from the KafkaUser's Secret, the CA from the cluster CA's Secret.
External mode: the user name, password and CA from global.kafka.external.existingSecret.
*/}}
{{- define "consumer.kedaAuth" -}}
{{- $protocol := include "bf.kafka.securityProtocol" . -}}
{{- if ne $protocol "PLAINTEXT" -}}
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: {{ include "bf.fullname" . }}-kafka
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  {{- if and (eq $protocol "SASL_SSL") (not (include "bf.kafka.isExternal" .)) }}
  env:
    - parameter: username
      name: KAFKA_USERNAME
      containerName: {{ .Chart.Name }}
  {{- end }}
  secretTargetRef:
    {{- if eq $protocol "SASL_SSL" }}
    {{- if include "bf.kafka.isExternal" . }}
    - parameter: username
      name: {{ .Values.global.kafka.external.existingSecret }}
      key: consumer-username
    - parameter: password
      name: {{ .Values.global.kafka.external.existingSecret }}
      key: consumer-password
    {{- else }}
    - parameter: password
      name: {{ include "bf.kafka.userName" (dict "ctx" . "service" "consumer") }}
      key: password
    {{- end }}
    {{- end }}
    {{- with include "bf.kafka.caSource" . }}
    {{- $source := splitList "/" . }}
    - parameter: ca
      name: {{ index $source 0 }}
      key: {{ index $source 1 }}
    {{- end }}
{{- end -}}
{{- end -}}
