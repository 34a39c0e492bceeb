{{- define "valkey.headless" -}}
{{- printf "%s-headless" (include "bf.fullname" .) -}}
{{- end -}}

{{/* The stable DNS name of pod N (dict "ctx" . "index" N); without Sentinel pod 0 is the primary. */}}
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

{{/* Valkey's maxmemory in bytes: the value, or maxmemoryPercent of the container's memory limit. */}}
{{- define "valkey.maxmemory" -}}
{{- if .Values.maxmemory -}}
{{- include "bf.quantityBytes" .Values.maxmemory | float64 | int64 -}}
{{- else -}}
{{- $limit := ((.Values.resources).limits).memory -}}
{{- if not $limit -}}
{{- fail "\n\nvalkey.maxmemory: set it, or a memory limit (valkey.resources.limits.memory) to derive it from: without one, a full Valkey is killed for its memory instead of refusing writes." -}}
{{- end -}}
{{- divf (mulf (include "bf.quantityBytes" $limit | float64) (float64 .Values.maxmemoryPercent)) 100.0 | int64 -}}
{{- end -}}
{{- end -}}

{{/* The nodes, as files/node.sh and sentinel.sh read them: host:port:sentinel-port of each pod, pod 0 first. */}}
{{- define "valkey.nodes" -}}
{{- $nodes := list -}}
{{- range $i := until (int (add1 .Values.replicas)) -}}
{{- $nodes = append $nodes (printf "%s:%s:%s" (include "valkey.podAddress" (dict "ctx" $ "index" $i)) (include "valkey.port" $) (include "valkey.sentinelPort" $)) -}}
{{- end -}}
{{- join " " $nodes -}}
{{- end -}}

{{- define "valkey.sentinelPort" -}}
{{- include "bf.port" (list "valkey" "sentinel") -}}
{{- end -}}

{{/* What the two start scripts read (files/node.sh, files/sentinel.sh). */}}
{{- define "valkey.scriptEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: NODES
  value: {{ include "valkey.nodes" . | quote }}
- name: SENTINEL
  value: {{ ternary "1" "0" (eq (include "bf.valkey.sentinel" .) "true") | quote }}
- name: SENTINEL_NAME
  value: {{ include "bf.valkey.primaryName" . | quote }}
{{- if include "bf.valkey.tls" . }}
- name: VALKEY_TLS_DIR
  value: /etc/valkey/tls
{{- end }}
{{- end -}}

{{/*
A probe's command: valkey-cli PING as the "monitor" user (PING, INFO, ROLE and nothing else), its password
read from the mounted Secret into REDISCLI_AUTH (never the command line). (list ctx port pattern)
*/}}
{{- define "valkey.probe" -}}
{{- $ctx := index . 0 -}}
{{- $tls := include "bf.valkey.cliTls" (dict "ctx" $ctx "caDir" "/etc/valkey/tls") -}}
[sh, -c, 'REDISCLI_AUTH="$(cat /etc/valkey/users/monitor)" valkey-cli --no-auth-warning --user monitor {{ with $tls }}{{ . }} {{ end }}-p {{ index . 1 }} ping | grep -qE "{{ index . 2 }}"']
{{- end -}}

{{/* The Secret with the users' passwords, as files (one per user) that only the valkey user's group reads. */}}
{{- define "valkey.usersVolume" -}}
- name: users
  secret:
    secretName: {{ include "bf.valkey.secretName" . }}
    defaultMode: 0440
    items:
      {{- range $user := include "bf.valkey.users" . | fromJsonArray }}
      - {key: {{ $user }}, path: {{ $user }}}
      {{- end }}
{{- if include "bf.valkey.tls" . }}
# The servers' and Sentinels' certificate, its key and the CA (global.valkey.tls.existingSecret).
- name: tls
  secret:
    secretName: {{ .Values.global.valkey.tls.existingSecret }}
    defaultMode: 0440
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
      - {key: ca.crt, path: ca.crt}
{{- end }}
{{- end -}}

{{- define "valkey.mounts" -}}
- name: users
  mountPath: /etc/valkey/users
  readOnly: true
{{- if include "bf.valkey.tls" . }}
- name: tls
  mountPath: /etc/valkey/tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Sentinel needs a quorum it can reach: a render error otherwise. */}}
{{- define "valkey.validate.sentinel" -}}
{{- if include "bf.valkey.sentinel" . -}}
{{- $nodes := int (add1 .Values.replicas) -}}
{{- if lt $nodes 2 -}}
{{- fail "\n\nglobal.valkey.sentinel.enabled: Sentinel needs a replica to promote: set valkey.replicas to 1 or more (2 for three Sentinels)." -}}
{{- end -}}
{{- if gt (int .Values.sentinel.quorum) $nodes -}}
{{- fail (printf "\n\nvalkey.sentinel.quorum: %d Sentinels must agree, but only %d run (one beside each of the %d Valkey pods): lower the quorum or raise valkey.replicas." (int .Values.sentinel.quorum) $nodes $nodes) -}}
{{- end -}}
{{- end -}}
{{- end -}}
