{{/* A service's own ServiceAccount (no API token mounted: the services never call the API server). */}}
{{- define "bf.service.serviceaccount" -}}
{{- $ctx := merge (dict "Values" (include "bf.service.values" . | fromYaml)) (omit . "Values") -}}
{{- if $ctx.Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "bf.serviceAccountName" $ctx }}
  namespace: {{ include "bf.namespace" $ctx }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}
{{- end -}}
