{{/* A PodDisruptionBudget of the component (pdb.maxUnavailable, or pdb.minAvailable when set). */}}
{{- define "bf.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "bf.fullname" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  {{- if hasKey .Values.pdb "minAvailable" }}
  minAvailable: {{ .Values.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .Values.pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "bf.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "bf.service.pdb" -}}
{{- $ctx := merge (dict "Values" (include "bf.service.values" . | fromYaml)) (omit . "Values") -}}
{{- if $ctx.Values.pdb.enabled -}}
{{ include "bf.pdb" $ctx }}
{{- end -}}
{{- end -}}
