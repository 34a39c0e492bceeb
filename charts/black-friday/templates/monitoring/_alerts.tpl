{{/*
The alert rules of docs/alerts.md (a Prometheus rule file's groups), with the thresholds of
monitoring.prometheusRule. Jobs are the pods' app.kubernetes.io/name (the PodMonitors' jobLabel): api,
bridge, writer, consumer, valkey-exporter. tests/chart/alerts.test.yaml runs promtool's unit tests on them.
*/}}
{{- define "black-friday.alertGroups" -}}
{{- $r := .Values.monitoring.prometheusRule -}}
{{- $w := $r.window -}}
- name: black-friday
  rules:
    - alert: BlackFridayPurchaseErrors
      expr: |
        sum(rate(bf_http_requests_total{job="api",route="/purchase",code=~"5.."}[{{ $w }}]))
          / sum(rate(bf_http_requests_total{job="api",route="/purchase"}[{{ $w }}])) > {{ $r.errorRatio }}
      for: {{ $r.for }}
      labels: {severity: critical}
      annotations:
        summary: "{{`{{ $value | humanizePercentage }}`}} of the purchases are answered 5xx"
        runbook: docs/alerts.md#blackfridaypurchaseerrors
    - alert: BlackFridayPurchaseSlow
      expr: |
        histogram_quantile(0.99, sum by (le) (rate(bf_http_request_seconds_bucket{job="api",route="/purchase"}[{{ $w }}])))
          > {{ $r.p99Seconds }}
      for: {{ $r.for }}
      labels: {severity: warning}
      annotations:
        summary: "p99 of /purchase is {{`{{ $value | humanizeDuration }}`}}"
        runbook: docs/alerts.md#blackfridaypurchaseslow
    - alert: BlackFridayApiNotReady
      expr: (sum(bf_ready{job="api"}) or vector(0)) == 0
      for: {{ $r.for }}
      labels: {severity: critical}
      annotations:
        summary: no api pod is ready to take sales
        runbook: docs/alerts.md#blackfridayapinotready
    - alert: BlackFridayWriterAcksSlow
      expr: |
        histogram_quantile(0.99, sum by (le) (rate(bf_writer_ack_seconds_bucket{job="writer"}[{{ $w }}])))
          > {{ $r.writerAckP99Seconds }}
      for: {{ $r.for }}
      labels: {severity: warning}
      annotations:
        summary: "Kafka takes {{`{{ $value | humanizeDuration }}`}} (p99) to acknowledge the writers' sales"
        runbook: docs/alerts.md#blackfridaywriteracksslow
    - alert: BlackFridayWriterNotAcking
      expr: |
        sum(rate(bf_http_requests_total{job="api",route="/purchase"}[{{ $w }}])) > 0
          and (sum(rate(bf_writer_sales_total{job="writer",outcome="acked"}[{{ $w }}])) or vector(0)) == 0
      for: {{ $r.for }}
      labels: {severity: critical}
      annotations:
        summary: sales come in, and Kafka acknowledges none of them
        runbook: docs/alerts.md#blackfridaywriternotacking
    - alert: BlackFridayConsumerLagGrowing
      expr: |
        sum(bf_consumer_lag{job="consumer"}) > {{ $r.consumerLag }}
          and sum(delta(bf_consumer_lag{job="consumer"}[{{ $w }}])) > 0
      for: {{ $r.for }}
      labels: {severity: warning}
      annotations:
        summary: "{{`{{ $value }}`}} sales wait to be counted, and the backlog grows"
        runbook: docs/alerts.md#blackfridayconsumerlaggrowing
    - alert: BlackFridayDeadLetters
      expr: sum(increase(bf_consumer_dead_letters_total{job="consumer"}[{{ $w }}])) > 0
      labels: {severity: warning}
      annotations:
        summary: records that are not sales went to the dead-letter topic
        runbook: docs/alerts.md#blackfridaydeadletters
    - alert: BlackFridayStoreFull
      expr: max(bf_consumer_store_full{job="consumer"}) == 1
      labels: {severity: critical}
      annotations:
        summary: Valkey is at its maxmemory and refuses the consumer's writes (the sales wait in Kafka)
        runbook: docs/alerts.md#blackfridaystorefull
    - alert: BlackFridayValkeyDown
      expr: valkey_up{job="valkey-exporter"} == 0
      for: {{ $r.for }}
      labels: {severity: critical}
      annotations:
        summary: "Valkey {{`{{ $labels.instance }}`}} does not answer"
        runbook: docs/alerts.md#blackfridayvalkeydown
    - alert: BlackFridayValkeyNearMaxmemory
      expr: |
        valkey_used_memory_bytes{job="valkey-exporter"} / (valkey_maxmemory_bytes{job="valkey-exporter"} > 0)
          > {{ $r.valkeyMemoryRatio }}
      for: {{ $r.for }}
      labels: {severity: warning}
      annotations:
        summary: "Valkey {{`{{ $labels.instance }}`}} uses {{`{{ $value | humanizePercentage }}`}} of its maxmemory"
        runbook: docs/alerts.md#blackfridayvalkeynearmaxmemory
    - alert: BlackFridayValkeyReplicaLinkDown
      expr: valkey_primary_link_up{job="valkey-exporter"} == 0
      for: {{ $r.for }}
      labels: {severity: warning}
      annotations:
        summary: "the replica {{`{{ $labels.instance }}`}} has lost its primary"
        runbook: docs/alerts.md#blackfridayvalkeyreplicalinkdown
    {{- if include "black-friday.strimziMetrics" . }}
    - alert: BlackFridayKafkaUnderReplicated
      expr: sum(kafka_server_replicamanager_underreplicatedpartitions) > 0
      for: {{ $r.for }}
      labels: {severity: warning}
      annotations:
        summary: "{{`{{ $value }}`}} partitions have fewer in-sync replicas than they should"
        runbook: docs/alerts.md#blackfridaykafkaunderreplicated
    {{- end }}
    {{- if $r.hpaAtMaximum }}
    - alert: BlackFridayHpaAtMaximum
      expr: |
        kube_horizontalpodautoscaler_status_current_replicas{namespace="{{ .Release.Namespace }}"}
          >= kube_horizontalpodautoscaler_spec_max_replicas{namespace="{{ .Release.Namespace }}"}
      for: 10m
      labels: {severity: warning}
      annotations:
        summary: "the HPA {{`{{ $labels.horizontalpodautoscaler }}`}} has run at its maximum for 10 minutes"
        runbook: docs/alerts.md#blackfridayhpaatmaximum
    {{- end }}
{{- end -}}

{{/* Strimzi mode with Kafka's metrics on: the JMX exporter's and the Kafka exporter's series exist. */}}
{{- define "black-friday.strimziMetrics" -}}
{{- if and .Values.kafka.enabled (not .Values.global.kafka.external.bootstrapServers) (.Subcharts.kafka.Values.metrics).enabled -}}true{{- end -}}
{{- end -}}
