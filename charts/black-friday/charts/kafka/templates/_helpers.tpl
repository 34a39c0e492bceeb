{{/*
The names of the node pools and topics in the Kafka namespace start with the cluster's name: several
releases may share one Kafka namespace (values/dev.yaml and values/prod.yaml both use "kafka"), and two
KafkaTopics "sales-topic" or two pools "dual-role" there would collide. Kafka topic names may hold
characters a Kubernetes name may not ("_", capitals): the Kafka name itself is spec.topicName.
*/}}
{{- define "kafka.objectName" -}}
{{- printf "%s-%s" (include "bf.kafka.clusterName" .ctx) (.name | lower | replace "_" "-") | trunc 253 | trimSuffix "-" | trimSuffix "." -}}
{{- end -}}

{{- define "kafka.poolName" -}}
{{- include "kafka.objectName" (dict "ctx" .ctx "name" .pool) -}}
{{- end -}}

{{- define "kafka.brokers" -}}
{{- $brokers := 0 -}}
{{- range .Values.nodePools -}}
{{- if has "broker" .roles -}}{{- $brokers = add $brokers .replicas -}}{{- end -}}
{{- end -}}
{{- $brokers -}}
{{- end -}}

{{/* Replication: 3 copies (min ISR 2) where there are 3 brokers or more, else one per broker. */}}
{{- define "kafka.replicas" -}}
{{- min 3 (int (include "kafka.brokers" .)) -}}
{{- end -}}

{{- define "kafka.minIsr" -}}
{{- max 1 (sub (int (include "kafka.replicas" .)) 1) -}}
{{- end -}}

{{/* Strimzi mode: this chart makes the Kafka cluster. With global.kafka.external.bootstrapServers set, the
     services use an existing Kafka and this chart renders nothing. */}}
{{- define "kafka.strimzi" -}}
{{- if not (((.Values.global).kafka).external).bootstrapServers -}}true{{- end -}}
{{- end -}}

{{/*
The checks of Strimzi mode, at render time, so that a bad install stops before anything is applied:
- the cluster serves kafka.strimzi.io/v1 (checked on install and upgrade and by helm template; helm lint
  renders without a cluster; kafka.crdCheck=false renders offline),
- the node pools have both KRaft roles,
- the namespace the Kafka goes to exists (global.kafka.namespace), when a cluster answers lookups.
*/}}
{{- define "kafka.validate" -}}
{{- $installing := or .Release.IsInstall .Release.IsUpgrade -}}
{{- if and .Values.crdCheck $installing (not (and (.Capabilities.APIVersions.Has "kafka.strimzi.io/v1/Kafka") (.Capabilities.APIVersions.Has "kafka.strimzi.io/v1/KafkaUser"))) -}}
{{- fail "\n\nThe cluster does not serve kafka.strimzi.io/v1 (Kafka, KafkaNodePool, KafkaTopic, KafkaUser): install the Strimzi operator 1.2 first:\n  helm install strimzi oci://quay.io/strimzi-helm/strimzi-kafka-operator --version 1.2.0 \\\n    --namespace kafka --create-namespace --set watchAnyNamespace=true\nthen install this chart again. To use a Kafka you already have, set global.kafka.external.bootstrapServers=HOST:PORT. To render without a cluster, pass --set kafka.crdCheck=false (or --api-versions kafka.strimzi.io/v1/Kafka --api-versions kafka.strimzi.io/v1/KafkaUser)." -}}
{{- end -}}
{{- if lt (int (include "kafka.brokers" .)) 1 -}}
{{- fail "kafka.nodePools: at least one pool needs the broker role" -}}
{{- end -}}
{{- $controllers := 0 -}}
{{- range .Values.nodePools }}{{- if has "controller" .roles }}{{- $controllers = add $controllers .replicas }}{{- end }}{{- end -}}
{{- if lt (int $controllers) 1 -}}
{{- fail "kafka.nodePools: at least one pool needs the controller role (KRaft)" -}}
{{- end -}}
{{- if not .Values.entityOperator.userOperator -}}
{{- fail "\n\nkafka.entityOperator.userOperator: must be true: Strimzi's user operator makes the writer's and consumer's KafkaUsers (their SCRAM-SHA-512 logins and ACLs) and the Secrets with their passwords, which the services read." -}}
{{- end -}}
{{- $namespace := include "bf.kafka.namespace" . -}}
{{- /* lookup answers only against a live cluster (never in helm template or --dry-run=client): kube-system is in every cluster. */ -}}
{{- $live := lookup "v1" "Namespace" "" "kube-system" -}}
{{- if and $live (ne $namespace .Release.Namespace) (not (lookup "v1" "Namespace" "" $namespace)) -}}
{{- fail (printf "\n\nglobal.kafka.namespace is %q, but the cluster has no namespace %q for the Kafka resources: create it with the Strimzi operator there (see the README: helm install strimzi ... --namespace %s --create-namespace), or with kubectl create namespace %s; or leave global.kafka.namespace empty to put Kafka in the release's namespace." $namespace $namespace $namespace $namespace) -}}
{{- end -}}
{{- /* Another release's Kafka (or one not made by helm) of the same name in that namespace: helm would refuse
       it as "invalid ownership metadata"; say which value to change. */ -}}
{{- $name := include "bf.kafka.clusterName" . -}}
{{- $other := lookup "kafka.strimzi.io/v1" "Kafka" $namespace $name -}}
{{- if $other -}}
{{- $annotations := $other.metadata.annotations | default dict -}}
{{- $ownerName := index $annotations "meta.helm.sh/release-name" | default "" -}}
{{- $ownerNamespace := index $annotations "meta.helm.sh/release-namespace" | default "" -}}
{{- if or (ne $ownerName .Release.Name) (ne $ownerNamespace .Release.Namespace) -}}
{{- $owner := ternary (printf "the release %q of namespace %q" $ownerName $ownerNamespace) "not a helm release" (ne $ownerName "") -}}
{{- fail (printf "\n\nglobal.kafka.clusterName: the namespace %q already has a Kafka cluster %q, of %s. Give this release's Kafka another name (--set global.kafka.clusterName=%s-%s), or put it in another namespace (global.kafka.namespace)." $namespace $name $owner $name .Release.Namespace) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kafka.config" -}}
{{- $replicas := int (include "kafka.replicas" .) -}}
{{- $minIsr := int (include "kafka.minIsr" .) -}}
{{- $config := dict
  "offsets.topic.replication.factor" $replicas
  "transaction.state.log.replication.factor" $replicas
  "transaction.state.log.min.isr" $minIsr
  "default.replication.factor" $replicas
  "min.insync.replicas" $minIsr
  "auto.create.topics.enable" false
-}}
{{- toYaml (mergeOverwrite $config (.Values.config | default dict)) -}}
{{- end -}}

{{/*
The smallest volume of a broker pool in bytes (0: ephemeral storage without a size: no bound), and the bytes
each partition replica may hold so that the topic and its dead-letter topic fill at most 85 % of it: each
broker holds (2 topics x partitions x replicas / brokers) partition replicas, and each one its retained
bytes plus its active segment (a quarter of them).
*/}}
{{- define "kafka.brokerVolumeBytes" -}}
{{- $smallest := 0.0 -}}
{{- range .Values.nodePools -}}
{{- if and (has "broker" .roles) .storage.size -}}
{{- $bytes := include "bf.quantityBytes" .storage.size | float64 -}}
{{- if or (eq $smallest 0.0) (lt $bytes $smallest) }}{{ $smallest = $bytes }}{{ end -}}
{{- end -}}
{{- end -}}
{{- $smallest | int64 -}}
{{- end -}}

{{- define "kafka.partitionReplicasPerBroker" -}}
{{- $replicas := int (.Values.topic.replicas | default (include "kafka.replicas" .)) -}}
{{- $brokers := max 1 (int (include "kafka.brokers" .)) -}}
{{- ceil (divf (mul 2 (int .Values.topic.partitions) $replicas) $brokers) | int -}}
{{- end -}}

{{/* retention.bytes of each partition (0: not bounded by size). */}}
{{- define "kafka.retentionBytes" -}}
{{- $volume := include "kafka.brokerVolumeBytes" . | float64 -}}
{{- $perBroker := include "kafka.partitionReplicasPerBroker" . | float64 -}}
{{- if .Values.topic.retentionBytes -}}
{{- $wanted := include "bf.quantityBytes" .Values.topic.retentionBytes | float64 -}}
{{- if and (gt $volume 0.0) (gt (mulf $wanted 1.25 $perBroker) (mulf $volume 0.85)) -}}
{{- fail (printf "\n\nkafka.topic.retentionBytes: %s per partition does not fit the brokers' volumes: each broker holds %d partition replicas (the topic and its dead-letter topic), which with their active segments take %.1f GiB, more than 85 %% of its %.1f GiB volume. Lower it (at most %.0f MiB), or grow the brokers' storage.size." .Values.topic.retentionBytes (int $perBroker) (divf (mulf $wanted 1.25 $perBroker) 1073741824.0) (divf $volume 1073741824.0) (divf (divf (mulf $volume 0.85) (mulf 1.25 $perBroker)) 1048576.0)) -}}
{{- end -}}
{{- $wanted | int64 -}}
{{- else if gt $volume 0.0 -}}
{{- divf (mulf $volume 0.85) (mulf 1.25 $perBroker) | int64 -}}
{{- else -}}0{{- end -}}
{{- end -}}

{{/* A KafkaTopic: (dict "ctx" . "name" "sales-topic") */}}
{{- define "kafka.topic" -}}
{{- $ctx := .ctx -}}
{{- $minIsr := int (include "kafka.minIsr" $ctx) -}}
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata:
  name: {{ include "kafka.objectName" (dict "ctx" $ctx "name" .name) }}
  namespace: {{ include "bf.kafka.namespace" $ctx }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
    strimzi.io/cluster: {{ include "bf.kafka.clusterName" $ctx }}
spec:
  topicName: {{ .name }}
  partitions: {{ $ctx.Values.topic.partitions }}
  replicas: {{ $ctx.Values.topic.replicas | default (int (include "kafka.replicas" $ctx)) }}
  {{- $config := dict "retention.ms" (int64 $ctx.Values.topic.retentionMs) "min.insync.replicas" $minIsr }}
  {{- $retention := include "kafka.retentionBytes" $ctx | int64 }}
  {{- if gt $retention 0 }}
  {{- $_ := set $config "retention.bytes" $retention }}
  {{- $_ := set $config "segment.bytes" (min (max (div $retention 4) 16777216) 1073741824) }}
  {{- end }}
  config:
    {{- toYaml (mergeOverwrite $config ($ctx.Values.topic.config | default dict)) | nindent 4 }}
{{- end -}}

{{/*
A KafkaUser per service that opens Kafka clients: its SCRAM-SHA-512 login (the User Operator makes the
password, in the Secret named after the KafkaUser) and its ACLs, no more than its job needs:
  writer:   Write, Describe on the sales topic; IdempotentWrite on the cluster (its idempotent producer)
  consumer: Read, Describe on the sales topic; Read on its group; Write, Describe on the dead-letter topic
(dict "ctx" . "service" "writer" "acls" (list ...))
*/}}
{{- define "kafka.user" -}}
{{- $ctx := .ctx -}}
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata:
  name: {{ include "bf.kafka.userName" (dict "ctx" $ctx "service" .service) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
    strimzi.io/cluster: {{ include "bf.kafka.clusterName" $ctx }}
spec:
  authentication:
    type: scram-sha-512
  authorization:
    type: simple
    acls:
      {{- range .acls }}
      - type: allow
        resource:
          type: {{ .type }}
          {{- if ne .type "cluster" }}
          name: {{ .name | quote }}
          patternType: literal
          {{- end }}
        operations: {{ .operations | toJson }}
        host: "*"
      {{- end }}
{{- end -}}
