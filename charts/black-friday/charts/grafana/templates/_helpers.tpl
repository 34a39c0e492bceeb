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
{{- $liveBytes := include "bf.quantityBytes" $size | float64 -}}
{{- $wantedBytes := include "bf.quantityBytes" $wanted | float64 -}}
{{- if ne $liveBytes $wantedBytes -}}
{{- $class := lookup "storage.k8s.io/v1" "StorageClass" "" $className -}}
{{- /* allowVolumeExpansion is absent (nil) on most classes: compare its text, so the result is a bool */ -}}
{{- $grows := false -}}
{{- if $class -}}
{{- $grows = eq (toString (index $class "allowVolumeExpansion")) "true" -}}
{{- end -}}
{{- $undo := printf "uninstall (helm deletes the claim %s, and Grafana's state with it; the dashboards are provisioned again) and install again" (include "bf.fullname" .) -}}
{{- if lt $wantedBytes $liveBytes -}}
{{- fail (printf "\n\ngrafana.persistence.size: the Grafana volume was created with %s and a claim cannot shrink to %s.\nKeep --set grafana.persistence.size=%s, or %s." $size $wanted $size $undo) -}}
{{- end -}}
{{- if not $grows -}}
{{- fail (printf "\n\ngrafana.persistence.size: the Grafana volume was created with %s and cannot become %s: its StorageClass %q does not allow volume expansion.\nKeep --set grafana.persistence.size=%s, or %s." $size $wanted $className $size $undo) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.persistence.storageClass (ne $className .Values.persistence.storageClass) -}}
{{- fail (printf "\n\ngrafana.persistence.storageClass: the Grafana volume uses the StorageClass %q and a claim cannot change class (you asked for %q). Keep it, or uninstall (helm deletes the claim %s with Grafana's state) and install again." $className .Values.persistence.storageClass (include "bf.fullname" .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
