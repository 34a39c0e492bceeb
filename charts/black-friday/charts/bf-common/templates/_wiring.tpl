{{/*
How the components find each other and the shared infrastructure, from global values alone, so that
every subchart computes the same names:

  global.kafka.external.bootstrapServers   an existing Kafka (host:port,...): no Strimzi objects are made
  global.kafka.external.securityProtocol / saslMechanism / existingSecret / caKey   how the services log in
  global.kafka.clusterName   the Strimzi Kafka CR (default: the release name)
  global.kafka.clusterCaSecret   the Strimzi cluster CA's Secret in the release's namespace
  global.kafka.namespace     where it lives (default: the release namespace; the seed used "kafka")
  global.kafka.topic / consumerGroup
  global.valkey.auth.existingSecret          the Valkey users' passwords (keys: bf.valkey.users)
*/}}

{{- define "bf.kafka.clusterName" -}}
{{- ((.Values.global).kafka).clusterName | default .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "bf.kafka.namespace" -}}
{{- ((.Values.global).kafka).namespace | default .Release.Namespace -}}
{{- end -}}

{{/* The Kafka the services use: an existing one (global.kafka.external.bootstrapServers), else the
     bootstrap Service of the Strimzi cluster the chart makes. */}}
{{- define "bf.kafka.bootstrap" -}}
{{- with (((.Values.global).kafka).external).bootstrapServers -}}
{{- . -}}
{{- else -}}
{{- printf "%s-kafka-bootstrap.%s.svc.%s:%s" (include "bf.kafka.clusterName" .) (include "bf.kafka.namespace" .) (include "bf.clusterDomain" .) (include "bf.kafka.strimziPort" .) -}}
{{- end -}}
{{- end -}}

{{- define "bf.kafka.topic" -}}
{{- ((.Values.global).kafka).topic | default "sales-topic" -}}
{{- end -}}

{{/* Where the consumer keeps records that are not sales (empty: <topic>-dlq). */}}
{{- define "bf.kafka.deadLetterTopic" -}}
{{- ((.Values.global).kafka).deadLetterTopic | default (printf "%s-dlq" (include "bf.kafka.topic" .)) -}}
{{- end -}}

{{- define "bf.kafka.consumerGroup" -}}
{{- ((.Values.global).kafka).consumerGroup | default "black-friday-group" -}}
{{- end -}}

{{- define "bf.valkey.secretName" -}}
{{- (((.Values.global).valkey).auth).existingSecret | default (include "bf.componentName" (dict "ctx" . "component" "valkey")) -}}
{{- end -}}

{{/*
Valkey's users (charts/valkey/files/users.acl says what each may do). The Secret holds one key per user, its
password, named as the user: the chart makes it (random, kept across upgrades), or
global.valkey.auth.existingSecret must hold every one of these keys.
*/}}
{{- define "bf.valkey.users" -}}
{{- list "consumer" "reader" "monitor" "replica" "sentinel" "admin" | toJson -}}
{{- end -}}

{{/* Container env entry with the password of one Valkey user (dict "ctx" . "user" "reader" ["name" VAR]). */}}
{{- define "bf.valkey.passwordEnv" -}}
{{- if not (has .user (include "bf.valkey.users" .ctx | fromJsonArray)) -}}
{{- fail (printf "bf.valkey.passwordEnv: no Valkey user %q" .user) -}}
{{- end -}}
- name: {{ .name | default "VALKEY_PASSWORD" }}
  valueFrom:
    secretKeyRef:
      name: {{ include "bf.valkey.secretName" .ctx }}
      key: {{ .user }}
{{- end -}}

{{/* VALKEY_USER and VALKEY_PASSWORD of one Valkey user (dict "ctx" . "user" "consumer"): how a client logs in. */}}
{{- define "bf.valkey.userEnv" -}}
- name: VALKEY_USER
  value: {{ .user | quote }}
{{ include "bf.valkey.passwordEnv" . }}
{{- end -}}

{{- define "bf.focusCategory" -}}
{{- (.Values.global).focusCategory | default "Belleza" -}}
{{- end -}}

{{/*
TLS to Valkey (global.valkey.tls): the servers and Sentinels listen with TLS only, on their usual ports, with
the certificate of global.valkey.tls.existingSecret (tls.crt, tls.key, and ca.crt: the CA that signed it,
which every client trusts). Clients keep logging in as their users: TLS adds privacy, not identity.
*/}}
{{- define "bf.valkey.tls" -}}
{{- with (((.Values.global).valkey).tls) -}}
{{- if .enabled -}}
{{- if not .existingSecret -}}
{{- fail "\n\nglobal.valkey.tls.enabled: name the Secret with the Valkey certificate in global.valkey.tls.existingSecret (keys tls.crt, tls.key, ca.crt; e.g. a cert-manager Certificate's)." -}}
{{- end -}}
true
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "bf.valkey.caDir" -}}/etc/black-friday/valkey-tls{{- end -}}

{{/* VALKEY_CA_FILE for a client, with TLS (nothing otherwise). */}}
{{- define "bf.valkey.tlsEnv" -}}
{{- if include "bf.valkey.tls" . -}}
- name: VALKEY_CA_FILE
  value: {{ printf "%s/ca.crt" (include "bf.valkey.caDir" .) | quote }}
{{- end -}}
{{- end -}}

{{/* The pod volume with the CA a client trusts, with TLS (a list item, or nothing). */}}
{{- define "bf.valkey.caVolume" -}}
{{- if include "bf.valkey.tls" . -}}
- name: valkey-ca
  secret:
    secretName: {{ .Values.global.valkey.tls.existingSecret }}
    items:
      - {key: ca.crt, path: ca.crt}
{{- end -}}
{{- end -}}

{{- define "bf.valkey.caVolumeMount" -}}
{{- if include "bf.valkey.tls" . -}}
- name: valkey-ca
  mountPath: {{ include "bf.valkey.caDir" . }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* valkey-cli's flags to reach the servers (TLS, trusting the CA mounted at caDir), or nothing. */}}
{{- define "bf.valkey.cliTls" -}}
{{- if include "bf.valkey.tls" .ctx -}}
--tls --cacert {{ .caDir | default (include "bf.valkey.caDir" .ctx) }}/ca.crt
{{- end -}}
{{- end -}}

{{/* A Valkey password is never a value: extraEnv may not set one (it would sit in the Deployment and in helm get values). */}}
{{- define "bf.valkey.refusePasswordValue" -}}
{{- range $name := list "VALKEY_PASSWORD" "REDISCLI_AUTH" -}}
{{- if hasKey ($.Values.extraEnv | default dict) $name -}}
{{- fail (printf "\n\n%s.extraEnv.%s: a Valkey password comes from a Secret, never from the values: the chart's own Secret (a key per user), or global.valkey.auth.existingSecret." $.Chart.Name $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
