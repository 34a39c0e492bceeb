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
