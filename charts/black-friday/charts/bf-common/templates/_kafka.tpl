{{/*
How the writer and the consumer log in to Kafka (blackfriday.kafkaconn reads the KAFKA_* variables):

Strimzi mode: SASL_SSL on the cluster's TLS listener (port bf.kafka.strimziPort), SCRAM-SHA-512 as the
KafkaUser <cluster>-<service> (charts/kafka/templates/kafkauser.yaml), whose password is in the Secret of the
same name that Strimzi's User Operator makes (key password); the brokers' certificates are checked against
the cluster CA (global.kafka.clusterCaSecret, default <cluster>-cluster-ca-cert, key ca.crt), mounted as a file.

External mode (global.kafka.external.bootstrapServers): securityProtocol and saslMechanism from the values,
the user names, passwords and CA from global.kafka.external.existingSecret.

Passwords come only through secretKeyRefs: never a value, a ConfigMap or an env literal.
*/}}

{{/* The Strimzi cluster's TLS listener (the bootstrap Service's port). */}}
{{- define "bf.kafka.strimziPort" -}}9093{{- end -}}

{{- define "bf.kafka.isExternal" -}}
{{- if (((.Values.global).kafka).external).bootstrapServers -}}true{{- end -}}
{{- end -}}

{{- define "bf.kafka.securityProtocol" -}}
{{- if include "bf.kafka.isExternal" . -}}
{{- (((.Values.global).kafka).external).securityProtocol | default "SASL_SSL" -}}
{{- else -}}SASL_SSL{{- end -}}
{{- end -}}

{{- define "bf.kafka.saslMechanism" -}}
{{- if include "bf.kafka.isExternal" . -}}
{{- (((.Values.global).kafka).external).saslMechanism | default "SCRAM-SHA-512" -}}
{{- else -}}SCRAM-SHA-512{{- end -}}
{{- end -}}

{{/* The KafkaUser of a service in Strimzi mode (its SCRAM user name and its Secret's name): (dict "ctx" . "service" "writer") */}}
{{- define "bf.kafka.userName" -}}
{{- printf "%s-%s" (include "bf.kafka.clusterName" .ctx) .service -}}
{{- end -}}

{{- define "bf.kafka.clusterCaSecret" -}}
{{- ((.Values.global).kafka).clusterCaSecret | default (printf "%s-cluster-ca-cert" (include "bf.kafka.clusterName" .)) -}}
{{- end -}}

{{/* Where the CA comes from: "secret/key", or "" (no TLS, or the image's public CAs). */}}
{{- define "bf.kafka.caSource" -}}
{{- $external := ((.Values.global).kafka).external | default dict -}}
{{- if not (include "bf.kafka.isExternal" .) -}}
{{- printf "%s/ca.crt" (include "bf.kafka.clusterCaSecret" .) -}}
{{- else if and (ne (include "bf.kafka.securityProtocol" .) "PLAINTEXT") $external.existingSecret $external.caKey -}}
{{- printf "%s/%s" $external.existingSecret $external.caKey -}}
{{- end -}}
{{- end -}}

{{- define "bf.kafka.caDir" -}}/etc/black-friday/kafka{{- end -}}

{{/* The render stops on external values that do not fit together. */}}
{{- define "bf.kafka.validate" -}}
{{- if include "bf.kafka.isExternal" . -}}
{{- $external := ((.Values.global).kafka).external -}}
{{- $protocol := include "bf.kafka.securityProtocol" . -}}
{{- if and (eq $protocol "SASL_SSL") (not $external.existingSecret) -}}
{{- fail "\n\nglobal.kafka.external.existingSecret: required with securityProtocol SASL_SSL: the name of a Secret in the release's namespace with the keys writer-username, writer-password, consumer-username, consumer-password (and the brokers' CA under global.kafka.external.caKey). For a Kafka without authentication (insecure) set global.kafka.external.securityProtocol=PLAINTEXT." -}}
{{- end -}}
{{- if and (eq $protocol "PLAINTEXT") $external.existingSecret -}}
{{- fail "\n\nglobal.kafka.external.existingSecret is set, but securityProtocol is PLAINTEXT, which sends no login and no TLS: use SASL_SSL (or SSL), or leave existingSecret empty." -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The KAFKA_* security variables of a service's container: (dict "ctx" . "service" "writer") */}}
{{- define "bf.kafka.clientEnv" -}}
{{- $ctx := .ctx -}}
{{- include "bf.kafka.validate" $ctx -}}
{{- $protocol := include "bf.kafka.securityProtocol" $ctx -}}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $protocol | quote }}
{{- if eq $protocol "SASL_SSL" }}
- name: KAFKA_SASL_MECHANISM
  value: {{ include "bf.kafka.saslMechanism" $ctx | quote }}
{{- if include "bf.kafka.isExternal" $ctx }}
{{- $secret := $ctx.Values.global.kafka.external.existingSecret }}
- name: KAFKA_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ printf "%s-username" .service }}
- name: KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ printf "%s-password" .service }}
{{- else }}
- name: KAFKA_USERNAME
  value: {{ include "bf.kafka.userName" . | quote }}
- name: KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "bf.kafka.userName" . }}
      key: password
{{- end }}
{{- end }}
{{- if include "bf.kafka.caSource" $ctx }}
- name: KAFKA_CA_FILE
  value: {{ printf "%s/ca.crt" (include "bf.kafka.caDir" $ctx) | quote }}
{{- end }}
{{- end -}}

{{/* The pod volume with the Kafka CA, when there is one to trust (a list item, or nothing). */}}
{{- define "bf.kafka.caVolume" -}}
{{- with include "bf.kafka.caSource" . -}}
{{- $source := splitList "/" . -}}
- name: kafka-ca
  secret:
    secretName: {{ index $source 0 }}
    items:
      - key: {{ index $source 1 }}
        path: ca.crt
{{- end -}}
{{- end -}}

{{- define "bf.kafka.caVolumeMount" -}}
{{- if include "bf.kafka.caSource" . -}}
- name: kafka-ca
  mountPath: {{ include "bf.kafka.caDir" . }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* Whether a chart's pods open Kafka clients (they get the CA volume). */}}
{{- define "bf.kafka.isClient" -}}
{{- if has .Chart.Name (list "writer" "consumer") -}}true{{- end -}}
{{- end -}}

{{/* A Kafka password is never a value: extraEnv may not set it (it would sit in the Deployment and in helm get values). */}}
{{- define "bf.kafka.refusePasswordValue" -}}
{{- if hasKey (.Values.extraEnv | default dict) "KAFKA_PASSWORD" -}}
{{- fail (printf "\n\n%s.extraEnv.KAFKA_PASSWORD: a Kafka password comes from a Secret, never from the values: global.kafka.external.existingSecret (or, with Strimzi, the KafkaUser's Secret the chart wires in)." .Chart.Name) -}}
{{- end -}}
{{- end -}}
