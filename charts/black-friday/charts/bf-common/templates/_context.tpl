{{/*
A service of the pipeline (api, bridge, writer, consumer) is a subchart of values plus one template per
kind of object, each one line:

  configmap.yaml       {{ include "bf.service.configmap" . }}       its settings (config:, ports, log level)
  deployment.yaml      {{ include "bf.service.deployment" . }}
  service.yaml         {{ include "bf.service.service" . }}         ClusterIP (and headless if asked)
  hpa.yaml / pdb.yaml / serviceaccount.yaml / networkpolicy.yaml    when enabled

and a "<chart name>.env" template: the container env that wires it to its neighbours.
Its ports come from bf.ports (_addresses.tpl).
*/}}

{{/*
The service's values: global.serviceDefaults overlaid with the subchart's own (its own win, key by key),
checked. Each kind's template starts from them:
  {{- $ctx := merge (dict "Values" (include "bf.service.values" . | fromYaml)) (omit . "Values") -}}
*/}}
{{- define "bf.service.values" -}}
{{- $values := mergeOverwrite (deepCopy ((.Values.global).serviceDefaults | default dict)) (deepCopy .Values) -}}
{{- with $values.autoscaling -}}
{{- if and .enabled (gt (int .minReplicas) (int .maxReplicas)) -}}
{{- fail (printf "%s.autoscaling: minReplicas (%d) must not exceed maxReplicas (%d)" $.Chart.Name (int .minReplicas) (int .maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- toYaml $values -}}
{{- end -}}

{{- define "bf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "bf.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Restrictive defaults; values can only add to them (merge keeps the values' keys first). */}}
{{- define "bf.podSecurityContext" -}}
{{- $defaults := dict "runAsNonRoot" true "runAsUser" 10001 "runAsGroup" 10001 "fsGroup" 10001 "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (merge (deepCopy (.Values.podSecurityContext | default dict)) $defaults) -}}
{{- end -}}

{{- define "bf.containerSecurityContext" -}}
{{- $defaults := dict "allowPrivilegeEscalation" false "readOnlyRootFilesystem" true "runAsNonRoot" true "capabilities" (dict "drop" (list "ALL")) -}}
{{- toYaml (merge (deepCopy (.Values.securityContext | default dict)) $defaults) -}}
{{- end -}}
