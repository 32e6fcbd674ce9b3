{{/* Names and labels */}}
{{- define "condense.name" -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "condense.labels" -}}
app.kubernetes.io/name: condense
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "condense.selector" -}}
app.kubernetes.io/name: condense
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "condense.blobsClaim" -}}
{{- .Values.blobs.existingClaim | default (printf "%s-blobs" (include "condense.name" .)) -}}
{{- end -}}

{{/* The arguments of `condense serve` that API and workers share (no --instance-id: every pod names itself). */}}
{{- define "condense.commonArgs" -}}
- --host
- 0.0.0.0
- --grpc-port
- {{ .Values.grpcPort | quote }}
- --metrics-port
- {{ .Values.metricsPort | quote }}
- --kafka-bootstrap
- {{ required "kafka.bootstrap: the bootstrap servers of your Kafka cluster (HOST:PORT,...)" .Values.kafka.bootstrap | quote }}
- --replication-factor
- {{ .Values.kafka.replicationFactor | quote }}
- --step-partitions
- {{ .Values.kafka.stepPartitions | quote }}
- --max-blob-bytes
- {{ .Values.maxBlobBytes | int64 | quote }}
- --data
- /var/lib/condense
- --plugins
- /opt/condense/plugins
{{- if .Values.kafka.clientConfigSecret }}
- --kafka-config
- /etc/condense/kafka/client.properties
{{- end }}
- --blob-retention
- {{ .Values.blobs.retention | quote }}
{{- with .Values.blobs.s3.url }}
- --blob-store
- {{ . | quote }}
{{- end }}
{{- with .Values.blobs.s3.endpoint }}
- --s3-endpoint
- {{ . | quote }}
{{- end }}
{{- with .Values.blobs.s3.region }}
- --s3-region
- {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "condense.s3Credentials" -}}
{{- with .Values.blobs.s3.credentialsSecret }}
envFrom:
  - secretRef: {name: {{ . | quote }}}
{{- end }}
{{- end -}}

{{- define "condense.podAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metricsPort | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* GET /health on the metrics port: 200 SERVING, 503 NOT_SERVING and why */}}
{{- define "condense.healthGet" -}}
httpGet: {path: /health, port: metrics}
{{- end -}}

{{- define "condense.httpProbes" -}}
startupProbe:
  {{- include "condense.healthGet" . | nindent 2 }}
  {{- toYaml .Values.probes.startup | nindent 2 }}
readinessProbe:
  {{- include "condense.healthGet" . | nindent 2 }}
  {{- toYaml .Values.probes.readiness | nindent 2 }}
livenessProbe:
  {{- include "condense.healthGet" . | nindent 2 }}
  {{- toYaml .Values.probes.liveness | nindent 2 }}
{{- end -}}

{{- define "condense.blobsVolume" -}}
- name: blobs
  persistentVolumeClaim: {claimName: {{ include "condense.blobsClaim" . }}}
{{- end -}}

{{/* --kafka-config: used where kafka.clientConfigSecret is set */}}
{{- define "condense.kafkaVolume" -}}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.clientConfigSecret }}
    items: [{key: client.properties, path: client.properties}]
{{- end -}}

{{- define "condense.kafkaMount" -}}
- {name: kafka-client, mountPath: /etc/condense/kafka, readOnly: true}
{{- end -}}

{{/* Where a role's pods go: include with (dict "role" .Values.api "image" .Values.image) */}}
{{- define "condense.scheduling" -}}
{{- with .image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with .role.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .role.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .role.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
