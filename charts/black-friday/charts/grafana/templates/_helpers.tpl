{{- define "grafana.secretName" -}}
{{- .Values.admin.existingSecret | default (include "bf.fullname" .) -}}
{{- end -}}

{{/*
A dashboard file with the chart's choices applied: the focus category and label (the dashboard's
"categoria" and "carnet" variables) and the refresh interval.
*/}}
{{- define "grafana.dashboard" -}}
{{- $ctx := .ctx -}}
{{- $dashboard := .content | fromJson -}}
{{- $_ := set $dashboard "refresh" $ctx.Values.dashboards.refresh -}}
{{- $category := include "bf.focusCategory" $ctx -}}
{{- $label := (($ctx.Values.global).focusLabel | default "" | toString) -}}
{{- range ($dashboard.templating).list -}}
{{- if eq .name "categoria" -}}
{{- $_ := set . "current" (dict "selected" true "text" $category "value" $category) -}}
{{- range .options -}}
{{- $_ := set . "selected" (eq .value $category) -}}
{{- end -}}
{{- else if eq .name "carnet" -}}
{{- $_ := set . "query" $label -}}
{{- $_ := set . "current" (dict "selected" false "text" $label "value" $label) -}}
{{- $_ := set . "options" (list (dict "selected" true "text" $label "value" $label)) -}}
{{- end -}}
{{- end -}}
{{- toPrettyJson $dashboard -}}
{{- end -}}

{{/*
A bound PersistentVolumeClaim cannot shrink, change class or access modes, and grows only where its
StorageClass allows volume expansion. Stop the render instead, naming the value and the way out, when the
live claim of this release cannot become what the values ask. (lookup answers only against a live cluster.)
*/}}
{{- define "grafana.validate.persistence" -}}
{{- $live := lookup "v1" "PersistentVolumeClaim" .Release.Namespace (include "bf.fullname" .) -}}
{{- if and $live .Values.persistence.enabled -}}
{{- $size := $live.spec.resources.requests.storage | toString -}}
{{- $wanted := .Values.persistence.size | toString -}}
{{- $className := $live.spec.storageClassName | default "" -}}
{{- if ne $size $wanted -}}
{{- $class := lookup "storage.k8s.io/v1" "StorageClass" "" $className -}}
{{- $grows := and $class $class.allowVolumeExpansion -}}
{{- $how := ternary (printf "resize the claim %s with its StorageClass %q (it allows expansion), by a larger size only" (include "bf.fullname" .) $className) (printf "its StorageClass %q does not allow expansion: keep the size, or uninstall, delete the PVC %s (the dashboards' state goes with it) and install again" $className (include "bf.fullname" .)) $grows -}}
{{- if not $grows -}}
{{- fail (printf "\n\ngrafana.persistence.size: the Grafana volume was created with %s and cannot become %s: %s.\nKeep --set grafana.persistence.size=%s." $size $wanted $how $size) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.persistence.storageClass (ne $className .Values.persistence.storageClass) -}}
{{- fail (printf "\n\ngrafana.persistence.storageClass: the Grafana volume uses the StorageClass %q and a claim cannot change class (you asked for %q). Keep it, or uninstall, delete the PVC %s and install again." $className .Values.persistence.storageClass (include "bf.fullname" .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
