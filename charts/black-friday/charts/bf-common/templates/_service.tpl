{{/* A service's Service (ClusterIP), and a headless one when headlessService is set: one DNS record per
     ready pod, so that a gRPC client balances over every replica (the bridge over the writers). */}}
{{- define "bf.service.service" -}}
{{- $ctx := merge (dict "Values" (include "bf.service.values" . | fromYaml)) (omit . "Values") -}}
{{- $ports := include "bf.componentPorts" $ctx.Chart.Name | fromYaml -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bf.fullname" $ctx }}
  namespace: {{ include "bf.namespace" $ctx }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "bf.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- range $name, $port := $ports }}
    - name: {{ $name }}
      port: {{ $port.port | int }}
      targetPort: {{ $name }}
      protocol: TCP
      {{- with $port.appProtocol }}
      appProtocol: {{ . }}
      {{- end }}
    {{- end }}
{{- if $ctx.Values.headlessService }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bf.fullname" $ctx }}-headless
  namespace: {{ include "bf.namespace" $ctx }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  selector:
    {{- include "bf.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- range $name, $port := $ports }}
    - name: {{ $name }}
      port: {{ $port.port | int }}
      targetPort: {{ $name }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- end -}}
