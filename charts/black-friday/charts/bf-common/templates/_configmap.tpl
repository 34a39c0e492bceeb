{{/* A service's settings: its `config:` map (keys checked by the subchart's schema), its listening ports
     (from bf.ports) and its log level. */}}
{{- define "bf.service.configmap" -}}
{{- $ctx := merge (dict "Values" (include "bf.service.values" . | fromYaml)) (omit . "Values") -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "bf.fullname" $ctx }}
  namespace: {{ include "bf.namespace" $ctx }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
data:
  LOG_LEVEL: {{ $ctx.Values.logLevel | quote }}
  {{- range $name, $port := include "bf.componentPorts" $ctx.Chart.Name | fromYaml }}
  {{- with $port.env }}
  {{ . }}: {{ $port.port | int | toString | quote }}
  {{- end }}
  {{- end }}
  {{- range $key, $value := $ctx.Values.config }}
  {{ $key }}: {{ $value | toString | quote }}
  {{- end }}
{{- end -}}
