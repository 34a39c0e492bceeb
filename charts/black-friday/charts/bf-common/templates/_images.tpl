{{/*
The one image helper. Every container of the chart (services, init containers, helm test pods, Valkey,
Grafana) resolves its image here, so a cluster that can only reach a private registry (Zot) works:

  global.imageRegistry   wins over each image's own registry (the Zot address, e.g. 172.31.32.68:5000)
  image.tag              else global.imageTag (for the project's own image), else the chart's appVersion
  image.digest           pins by digest when set

Usage: {{ include "bf.image" (dict "image" .Values.image "ctx" .) }}
*/}}
{{- define "bf.image" -}}
{{- $image := .image -}}
{{- $global := .ctx.Values.global | default dict -}}
{{- $registry := $global.imageRegistry | default $image.registry | default "" -}}
{{- $tag := $image.tag | default "" | toString -}}
{{- if and (not $tag) $image.useGlobalTag -}}
{{- $tag = $global.imageTag | default "" | toString -}}
{{- end -}}
{{- if not $tag -}}
{{- $tag = .ctx.Chart.AppVersion | default .ctx.Chart.Version | toString -}}
{{- end -}}
{{- $ref := $image.repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" (trimSuffix "/" $registry) $image.repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $ref $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref $tag -}}
{{- end -}}
{{- end -}}

{{- define "bf.imagePullSecrets" -}}
{{- $secrets := concat ((.Values.global).imagePullSecrets | default list) (.Values.imagePullSecrets | default list) -}}
{{- if $secrets }}
imagePullSecrets:
{{- range $secrets }}
  - name: {{ if kindIs "map" . }}{{ .name }}{{ else }}{{ . }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}
