{{/*
Ingress allow-list for one component (the release's deny-all policy blocks everything else):
  networkPolicy.from: component names of this release that may connect (e.g. [api])
  networkPolicy.fromAnywhere: true for public entry points (api, Grafana)
  networkPolicy.extraFrom: raw NetworkPolicyPeer entries (e.g. the monitoring namespace, for /metrics)
Helm test pods of the release (component "test") may always connect.
*/}}
{{- define "bf.networkpolicy" -}}
{{- $ctx := . -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "bf.fullname" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bf.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    {{- if .Values.networkPolicy.fromAnywhere }}
    - {}
    {{- else }}
    - from:
        {{- range .Values.networkPolicy.from }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ . }}
              app.kubernetes.io/instance: {{ $ctx.Release.Name }}
        {{- end }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/component: test
              app.kubernetes.io/instance: {{ $ctx.Release.Name }}
        {{- with .Values.networkPolicy.extraFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- end }}
{{- end -}}

{{/* NetworkPolicies are one switch for the whole release: global.networkPolicy.enabled (default true). */}}
{{- define "bf.networkPolicyEnabled" -}}
{{- $np := (.Values.global).networkPolicy | default dict -}}
{{- if or (not (hasKey $np "enabled")) $np.enabled -}}true{{- end -}}
{{- end -}}

{{- define "bf.service.networkpolicy" -}}
{{- $ctx := merge (dict "Values" (include "bf.service.values" . | fromYaml)) (omit . "Values") -}}
{{- if include "bf.networkPolicyEnabled" $ctx -}}
{{ include "bf.networkpolicy" $ctx }}
{{- end -}}
{{- end -}}
