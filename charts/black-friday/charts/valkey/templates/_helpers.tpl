{{- define "valkey.headless" -}}
{{- printf "%s-headless" (include "bf.fullname" .) -}}
{{- end -}}

{{/* The stable DNS name of pod N (dict "ctx" . "index" N); pod 0 is the primary every replica follows. */}}
{{- define "valkey.podAddress" -}}
{{- $ctx := .ctx -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "bf.fullname" $ctx) (int .index) (include "valkey.headless" $ctx) $ctx.Release.Namespace (include "bf.clusterDomain" $ctx) -}}
{{- end -}}

{{- define "valkey.port" -}}
{{- include "bf.port" (list "valkey" "valkey") -}}
{{- end -}}

{{/*
A StatefulSet's volume claim templates cannot change after it is created (the API server refuses the whole
upgrade). Stop the render instead, naming the value and the way out, when a live StatefulSet of this
release asks for other volumes than the values do. (lookup answers only against a live cluster.)
*/}}
{{- define "valkey.validate.persistence" -}}
{{- $live := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "bf.fullname" .) -}}
{{- with $live -}}
{{- $claim := index .spec.volumeClaimTemplates 0 -}}
{{- $size := $claim.spec.resources.requests.storage -}}
{{- $class := $claim.spec.storageClassName | default "" -}}
{{- $values := $.Values.persistence -}}
{{- if ne (include "bf.quantityBytes" $size | float64) (include "bf.quantityBytes" $values.size | float64) -}}
{{- fail (printf "\n\nvalkey.persistence.size: the Valkey volumes were created with %s and a StatefulSet's volume size cannot change (you asked for %s).\nKeep --set valkey.persistence.size=%s, or grow the volumes yourself: resize each PVC data-%s-N (kubectl patch pvc ... if the StorageClass allows expansion), then kubectl delete statefulset %s --cascade=orphan, then upgrade with the new size." $size $values.size $size (include "bf.fullname" $) (include "bf.fullname" $)) -}}
{{- end -}}
{{- if and $values.storageClass (ne $class $values.storageClass) -}}
{{- fail (printf "\n\nvalkey.persistence.storageClass: the Valkey volumes use the StorageClass %q and a StatefulSet's volumes cannot move (you asked for %q). Keep it, or uninstall, delete the PVCs data-%s-N and install again." $class $values.storageClass (include "bf.fullname" $)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
