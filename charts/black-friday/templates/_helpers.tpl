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


{{/* How the edge limits the rate (rateLimit.controller, else from ingress.className): traefik or nginx; the
     render stops for a class it cannot tell. Empty when rateLimit.enabled is false. */}}
{{- define "black-friday.rateLimitController" -}}
{{- with .Values.rateLimit -}}
{{- if .enabled -}}
{{- $controller := .controller | default (get (dict "traefik" "traefik" "nginx" "nginx" "public" "nginx") $.Values.ingress.className) -}}
{{- if not $controller -}}
{{- fail (printf "\n\nrateLimit: the chart cannot tell how the ingress class %q limits requests. Set rateLimit.controller (traefik or nginx), or rateLimit.enabled=false and put your controller's own rate limit in ingress.annotations." $.Values.ingress.className) -}}
{{- end -}}
{{- $controller -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Traefik Middleware that limits the rate: its name. */}}
{{- define "black-friday.rateLimitMiddleware" -}}
{{- printf "%s-rate-limit" .Release.Name -}}
{{- end -}}
