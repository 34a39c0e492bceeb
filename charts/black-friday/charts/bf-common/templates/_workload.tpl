{{/*
A service of the pipeline from its values alone: ConfigMap (its settings), Deployment, Service, HPA,
PodDisruptionBudget, ServiceAccount, NetworkPolicy. A subchart is its values plus one line:

  {{ include "bf.service" (dict "ctx" . "env" (include "api.env" .)) }}

where "env" is extra container env (YAML list items) wiring the service to its neighbours.
*/}}
{{- define "bf.service" -}}
{{- $ctx := include "bf.withDefaults" .ctx | fromYaml -}}
{{- $ctx = merge (dict "Values" $ctx) (omit .ctx "Values") -}}
{{- include "bf.validate.autoscaling" $ctx -}}
{{- include "bf.configmap" $ctx }}
---
{{ include "bf.deployment" (dict "ctx" $ctx "env" .env) }}
---
{{ include "bf.svc" $ctx }}
{{- if $ctx.Values.headlessService }}
---
{{ include "bf.svc.headless" $ctx }}
{{- end }}
{{- if $ctx.Values.autoscaling.enabled }}
---
{{ include "bf.hpa" $ctx }}
{{- end }}
{{- if $ctx.Values.pdb.enabled }}
---
{{ include "bf.pdb" $ctx }}
{{- end }}
{{- if $ctx.Values.serviceAccount.create }}
---
{{ include "bf.serviceaccount" $ctx }}
{{- end }}
{{- if include "bf.networkPolicyEnabled" $ctx }}
---
{{ include "bf.networkpolicy" $ctx }}
{{- end }}
{{- end -}}

{{/*
A service's values over global.serviceDefaults (the umbrella's shared defaults): the subchart's own
values win, key by key.
*/}}
{{- define "bf.withDefaults" -}}
{{- $defaults := deepCopy ((.Values.global).serviceDefaults | default dict) -}}
{{- toYaml (mergeOverwrite $defaults (deepCopy .Values)) -}}
{{- end -}}

{{/* NetworkPolicies are one switch for the whole release: global.networkPolicy.enabled (default true). */}}
{{- define "bf.networkPolicyEnabled" -}}
{{- $np := (.Values.global).networkPolicy | default dict -}}
{{- if or (not (hasKey $np "enabled")) $np.enabled -}}true{{- end -}}
{{- end -}}

{{- define "bf.validate.autoscaling" -}}
{{- with .Values.autoscaling -}}
{{- if and .enabled (gt (int .minReplicas) (int .maxReplicas)) -}}
{{- fail (printf "%s.autoscaling: minReplicas (%d) must not exceed maxReplicas (%d)" $.Chart.Name (int .minReplicas) (int .maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "bf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "bf.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "bf.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "bf.fullname" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
data:
  LOG_LEVEL: {{ .Values.logLevel | quote }}
  {{- range $key, $value := .Values.config }}
  {{ $key }}: {{ $value | toString | quote }}
  {{- end }}
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

{{- define "bf.deployment" -}}
{{- $ctx := .ctx -}}
{{- $values := $ctx.Values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "bf.fullname" $ctx }}
  namespace: {{ include "bf.namespace" $ctx }}
  labels:
    {{- include "bf.labels" $ctx | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
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
        checksum/config: {{ dict "config" $values.config "logLevel" $values.logLevel | toJson | sha256sum }}
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
      containers:
        - name: {{ $ctx.Chart.Name }}
          image: {{ include "bf.image" (dict "image" $values.image "ctx" $ctx) | quote }}
          imagePullPolicy: {{ $values.image.pullPolicy }}
          command:
            {{- toYaml $values.command | nindent 12 }}
          ports:
            {{- range $values.ports }}
            - name: {{ .name }}
              containerPort: {{ .containerPort }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "bf.fullname" $ctx }}
          env:
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- range $name, $value := $values.extraEnv }}
            - name: {{ $name }}
              value: {{ $value | toString | quote }}
            {{- end }}
          {{- with $values.livenessProbe }}
          livenessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $values.readinessProbe }}
          readinessProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $values.startupProbe }}
          startupProbe:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $values.lifecycle }}
          lifecycle:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "bf.containerSecurityContext" $ctx | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
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

{{- define "bf.svc" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bf.fullname" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "bf.selectorLabels" . | nindent 4 }}
  ports:
    {{- range .Values.ports }}
    - name: {{ .name }}
      port: {{ .servicePort | default .containerPort }}
      targetPort: {{ .name }}
      protocol: TCP
      {{- with .appProtocol }}
      appProtocol: {{ . }}
      {{- end }}
    {{- end }}
{{- end -}}

{{/* Headless: one DNS record per ready pod, so that gRPC clients can balance over every replica. */}}
{{- define "bf.svc.headless" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bf.fullname" . }}-headless
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  clusterIP: None
  selector:
    {{- include "bf.selectorLabels" . | nindent 4 }}
  ports:
    {{- range .Values.ports }}
    - name: {{ .name }}
      port: {{ .servicePort | default .containerPort }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end -}}

{{- define "bf.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "bf.fullname" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "bf.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
  {{- with .Values.autoscaling.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "bf.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "bf.fullname" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  {{- if hasKey .Values.pdb "minAvailable" }}
  minAvailable: {{ .Values.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .Values.pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "bf.selectorLabels" . | nindent 6 }}
{{- end -}}

{{- define "bf.serviceaccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "bf.serviceAccountName" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}

{{/*
Ingress allow-list for one component (the release's deny-all policy blocks everything else):
  networkPolicy.from: component names of this release that may connect (e.g. [api])
  networkPolicy.fromAnywhere: true for public entry points (api, Grafana)
  networkPolicy.extraFrom: raw NetworkPolicyPeer entries (e.g. the monitoring namespace, for /metrics)
Helm test pods of the release (component "test") may always connect.
*/}}
{{- define "bf.networkpolicy" -}}
{{- $ctx := . -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "bf.fullname" . }}
  namespace: {{ include "bf.namespace" . }}
  labels:
    {{- include "bf.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bf.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    {{- if .Values.networkPolicy.fromAnywhere }}
    - {}
    {{- else }}
    - from:
        {{- range .Values.networkPolicy.from }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ . }}
              app.kubernetes.io/instance: {{ $ctx.Release.Name }}
        {{- end }}
        - podSelector:
            matchLabels:
              app.kubernetes.io/component: test
              app.kubernetes.io/instance: {{ $ctx.Release.Name }}
        {{- with .Values.networkPolicy.extraFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- end }}
{{- end -}}
