{{/*
Ports and addresses of every component: the one place they are defined. The services' containers, their
Services and probes, Valkey, Grafana, and the umbrella's tests and notes all read them here.

  bf.ports                            the table: component -> port name -> {port, env, appProtocol}
                                      (env: the variable the service reads its listening port from)
  bf.port (list "writer" "grpc")      one port number
  bf.address.api / .bridge            http://<release>-<component>:<port>
  bf.address.writer                   dns:///<release>-writer-headless.<ns>.svc.<domain>:<port>: the bridge's
                                      gRPC channel balances over every writer pod
  bf.address.valkey / .valkeyRead     <Service>:<port> of the Valkey primary / of every Valkey pod; with
                                      Sentinel (global.valkey.sentinel.enabled) both are
                                      sentinel://<Sentinels' Service>:<port>/<primary name>: the clients ask
                                      the Sentinels which server is the primary
  bf.address.sentinels                <Sentinels' Service>:<port>
*/}}
{{- define "bf.ports" -}}
api:
  http: {port: 8080, env: LISTEN_PORT, appProtocol: http}
bridge:
  http: {port: 8081, env: LISTEN_PORT, appProtocol: http}
writer:
  grpc: {port: 50051, env: LISTEN_PORT, appProtocol: grpc}
  metrics: {port: 9464, env: METRICS_PORT, appProtocol: http}
consumer:
  metrics: {port: 9465, env: METRICS_PORT, appProtocol: http}
valkey:
  valkey: {port: 6379}
  sentinel: {port: 26379}
grafana:
  http: {port: 3000, appProtocol: http}
{{- end -}}

{{/* The port a component is reached on (what bf.service.waitFor connects to): (include "bf.mainPort" "writer") */}}
{{- define "bf.mainPort" -}}
{{- $names := dict "api" "http" "bridge" "http" "writer" "grpc" "valkey" "valkey" -}}
{{- if not (hasKey $names .) -}}
{{- fail (printf "bf.mainPort: no main port for %q" .) -}}
{{- end -}}
{{- include "bf.port" (list . (index $names .)) -}}
{{- end -}}

{{/* The ports of one component: (include "bf.componentPorts" "writer" | fromYaml) */}}
{{- define "bf.componentPorts" -}}
{{- $ports := index (include "bf.ports" . | fromYaml) . -}}
{{- if not $ports -}}
{{- fail (printf "bf.ports has no component %q" .) -}}
{{- end -}}
{{- toYaml $ports -}}
{{- end -}}

{{- define "bf.port" -}}
{{- $component := index . 0 -}}
{{- $name := index . 1 -}}
{{- $port := index (include "bf.componentPorts" $component | fromYaml) $name -}}
{{- if not $port -}}
{{- fail (printf "bf.ports has no port %q for %q" $name $component) -}}
{{- end -}}
{{- $port.port | int -}}
{{- end -}}

{{/*
The gRPC health service name the writer reports its readiness under (SERVING while it can produce to
Kafka): the service of protos/blackfriday/pb/product_sale.proto, as blackfriday.grpcwire.SERVICE_NAME
derives it (a chart test checks they agree).
*/}}
{{- define "bf.writer.healthService" -}}
blackfriday.ProductSaleService
{{- end -}}

{{- define "bf.address.api" -}}
{{- printf "http://%s:%s" (include "bf.componentName" (dict "ctx" . "component" "api")) (include "bf.port" (list "api" "http")) -}}
{{- end -}}

{{- define "bf.address.bridge" -}}
{{- printf "http://%s:%s" (include "bf.componentName" (dict "ctx" . "component" "bridge")) (include "bf.port" (list "bridge" "http")) -}}
{{- end -}}

{{- define "bf.address.writer" -}}
{{- printf "dns:///%s-headless.%s.svc.%s:%s" (include "bf.componentName" (dict "ctx" . "component" "writer")) .Release.Namespace (include "bf.clusterDomain" .) (include "bf.port" (list "writer" "grpc")) -}}
{{- end -}}

{{- define "bf.valkey.primary" -}}
{{- printf "%s-primary" (include "bf.componentName" (dict "ctx" . "component" "valkey")) -}}
{{- end -}}

{{- define "bf.valkey.read" -}}
{{- printf "%s-read" (include "bf.componentName" (dict "ctx" . "component" "valkey")) -}}
{{- end -}}

{{- define "bf.valkey.sentinelService" -}}
{{- printf "%s-sentinel" (include "bf.componentName" (dict "ctx" . "component" "valkey")) -}}
{{- end -}}

{{/* Whether Valkey runs with Sentinel: the clients then find the primary through it. */}}
{{- define "bf.valkey.sentinel" -}}
{{- if ((((.Values.global).valkey).sentinel).enabled) -}}true{{- end -}}
{{- end -}}

{{- define "bf.valkey.primaryName" -}}
{{- (((.Values.global).valkey).sentinel).primaryName | default "bf" -}}
{{- end -}}

{{- define "bf.address.sentinels" -}}
{{- printf "%s:%s" (include "bf.valkey.sentinelService" .) (include "bf.port" (list "valkey" "sentinel")) -}}
{{- end -}}

{{- define "bf.address.valkey" -}}
{{- if include "bf.valkey.sentinel" . -}}
{{- printf "sentinel://%s/%s" (include "bf.address.sentinels" .) (include "bf.valkey.primaryName" .) -}}
{{- else -}}
{{- printf "%s:%s" (include "bf.valkey.primary" .) (include "bf.port" (list "valkey" "valkey")) -}}
{{- end -}}
{{- end -}}

{{- define "bf.address.valkeyRead" -}}
{{- if include "bf.valkey.sentinel" . -}}
{{- include "bf.address.valkey" . -}}
{{- else -}}
{{- printf "%s:%s" (include "bf.valkey.read" .) (include "bf.port" (list "valkey" "valkey")) -}}
{{- end -}}
{{- end -}}
