{{/* Labels of the helm test pods: component "test", which every NetworkPolicy of the release lets in. */}}
{{- define "black-friday.testLabels" -}}
helm.sh/chart: {{ include "bf.chart" .ctx }}
app.kubernetes.io/name: {{ printf "%s-test" .name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/component: test
app.kubernetes.io/part-of: black-friday
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/* Labels of the umbrella's own objects: (dict "ctx" . "name" "valkey-exporter"). */}}
{{- define "black-friday.componentLabels" -}}
helm.sh/chart: {{ include "bf.chart" .ctx }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/part-of: black-friday
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{- define "black-friday.testAnnotations" -}}
helm.sh/hook: test
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}

{{/* The project's own image, as the services use it (global.imageRegistry, global.imageTag). */}}
{{- define "black-friday.appImage" -}}
{{- include "bf.image" (dict "image" .Values.global.serviceDefaults.image "ctx" .) -}}
{{- end -}}

{{- define "black-friday.testPodSpec" -}}
restartPolicy: Never
automountServiceAccountToken: false
{{- include "bf.imagePullSecrets" . }}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "black-friday.testContainerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}
