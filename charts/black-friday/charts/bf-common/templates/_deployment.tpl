{{/* A service's Deployment: the project's image, its command, its ports from bf.ports, settings from its
     ConfigMap plus the "<chart>.env" wiring, restrictive security contexts. */}}
{{- define "bf.service.deployment" -}}
{{- $ctx := merge (dict "Values" (include "bf.service.values" . | fromYaml)) (omit . "Values") -}}
{{- $values := $ctx.Values -}}
{{- include "bf.service.validateGrace" $ctx -}}
{{- include "bf.kafka.refusePasswordValue" $ctx -}}
{{- include "bf.valkey.refusePasswordValue" $ctx -}}
{{- $ports := include "bf.componentPorts" $ctx.Chart.Name | fromYaml -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "bf.fullname" $ctx }}
  namespace: {{ include "bf.namespace" $ctx }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
spec:
  {{- if not (or $values.autoscaling.enabled ($values.lagScaling).enabled) }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: {{ $values.updateStrategy.maxSurge }}
      maxUnavailable: {{ $values.updateStrategy.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "bf.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "bf.labels" $ctx | nindent 8 }}
        {{- with $values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "bf.service.configmap" . | sha256sum }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "bf.serviceAccountName" $ctx }}
      automountServiceAccountToken: false
      {{- include "bf.imagePullSecrets" $ctx | nindent 6 }}
      securityContext:
        {{- include "bf.podSecurityContext" $ctx | nindent 8 }}
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      {{- with $values.waitFor }}
      initContainers:
        {{- include "bf.service.waitFor" (dict "ctx" $ctx "components" .) | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $ctx.Chart.Name }}
          image: {{ include "bf.image" (dict "image" $values.image "ctx" $ctx) | quote }}
          imagePullPolicy: {{ $values.image.pullPolicy }}
          command:
            {{- toYaml $values.command | nindent 12 }}
          ports:
            {{- range $name, $port := $ports }}
            - name: {{ $name }}
              containerPort: {{ $port.port | int }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "bf.fullname" $ctx }}
          env:
            {{- with include (printf "%s.env" $ctx.Chart.Name) $ctx }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- range $name, $value := $values.extraEnv }}
            - name: {{ $name }}
              value: {{ $value | toString | quote }}
            {{- end }}
          {{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" }}
          {{- with index $values $probe }}
          {{ $probe }}:
            {{- include "bf.service.probe" (dict "probe" . "kind" $probe "ports" $ports) | nindent 12 }}
          {{- end }}
          {{- end }}
          {{- if $values.lifecycle }}
          lifecycle:
            {{- toYaml $values.lifecycle | nindent 12 }}
          {{- else if $values.preStopSleepSeconds }}
          lifecycle:
            preStop:
              exec:
                command: [sleep, {{ $values.preStopSleepSeconds | quote }}]
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "bf.containerSecurityContext" $ctx | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if include "bf.kafka.isClient" $ctx }}
            {{- with include "bf.kafka.caVolumeMount" $ctx }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- if eq $ctx.Chart.Name "consumer" }}
            {{- with include "bf.valkey.caVolumeMount" $ctx }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if include "bf.kafka.isClient" $ctx }}
        {{- with include "bf.kafka.caVolume" $ctx }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- end }}
        {{- if eq $ctx.Chart.Name "consumer" }}
        {{- with include "bf.valkey.caVolume" $ctx }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- end }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- tpl (toYaml .) $ctx | nindent 8 }}
      {{- end }}
{{- end -}}

{{/*
A probe from the values, with what the chart knows filled in: a gRPC probe (which takes a port number,
not a name) gets the component's grpc port, and the writer's readiness probe checks bf.writer.healthService
unless the values name another service ("" is the whole server: liveness).
*/}}
{{- define "bf.service.probe" -}}
{{- $probe := deepCopy .probe -}}
{{- if hasKey $probe "grpc" -}}
{{- $grpc := $probe.grpc | default dict -}}
{{- if not $grpc.port -}}
{{- $_ := set $grpc "port" ((index $.ports "grpc").port | int) -}}
{{- end -}}
{{- if and (eq $.kind "readinessProbe") (not (hasKey $grpc "service")) -}}
{{- $_ := set $grpc "service" (include "bf.writer.healthService" dict) -}}
{{- end -}}
{{- $_ := set $probe "grpc" $grpc -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}

{{/*
An init container that waits until the ClusterIP Service of each component in waitFor accepts a TCP
connection, i.e. until one of its pods is ready (kube-proxy forwards only to ready pods). The bridge waits
for a writer: its gRPC channel resolves the writers' headless Service, which has no address before a writer
is ready; a lookup then gets NXDOMAIN, which CoreDNS caches (30 s), and gRPC's resolver backs off, so on a
fresh install the bridge (and the api, whose readiness follows it) stayed unready ~50 s after the writer was
ready, and their HPAs read <unknown> meanwhile.
*/}}
{{- define "bf.service.waitFor" -}}
{{- $ctx := .ctx -}}
{{- $values := $ctx.Values -}}
- name: wait-for
  image: {{ include "bf.image" (dict "image" $values.image "ctx" $ctx) | quote }}
  imagePullPolicy: {{ $values.image.pullPolicy }}
  command:
    - python
    - -c
    - |
      import socket, sys, time
      for target in sys.argv[1:]:
          host, port = target.rsplit(":", 1)
          said = False
          while True:
              try:
                  socket.create_connection((host, int(port)), timeout=2).close()
                  break
              except OSError as exc:
                  if not said:
                      print(f"waiting for {target} (a ready pod behind it): {exc}", flush=True)
                      said = True
                  time.sleep(1)
          print(f"{target} accepts connections", flush=True)
    {{- range .components }}
    - {{ printf "%s:%s" (include "bf.componentName" (dict "ctx" $ctx "component" .)) (include "bf.mainPort" .) }}
    {{- end }}
  resources:
    requests: {cpu: 10m, memory: 16Mi}
    limits: {cpu: 100m, memory: 64Mi}
  securityContext:
    {{- include "bf.containerSecurityContext" $ctx | nindent 4 }}
{{- end -}}


{{/*
The pod's grace period must hold what a stop takes: the preStop sleep, then the drain of the HTTP services
(GRACEFUL_TIMEOUT_SECONDS for in-flight work, DRAIN_IDLE_SECONDS for idle connections) or the writer's and
consumer's grace; past it the kubelet kills the process and the requests it held fail.
*/}}
{{- define "bf.service.validateGrace" -}}
{{- $values := .Values -}}
{{- $config := $values.config | default dict -}}
{{- $drain := add (float64 (index $config "GRACEFUL_TIMEOUT_SECONDS" | default 10)) (float64 (index $config "DRAIN_IDLE_SECONDS" | default 2)) -}}
{{- $needed := add (int $values.preStopSleepSeconds) $drain -}}
{{- if gt (float64 $needed) (float64 $values.terminationGracePeriodSeconds) -}}
{{- fail (printf "\n\n%s.terminationGracePeriodSeconds (%d) must hold the stop: preStopSleepSeconds (%d) + GRACEFUL_TIMEOUT_SECONDS + DRAIN_IDLE_SECONDS (%g): raise it, or shorten them." .Chart.Name (int $values.terminationGracePeriodSeconds) (int $values.preStopSleepSeconds) (float64 $drain)) -}}
{{- end -}}
{{- end -}}
