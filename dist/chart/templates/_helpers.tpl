{{/*
Name of the chart, overridable with nameOverride.
*/}}
{{- define "token-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the prefix of every resource name. A release named like the chart (the usual
`helm install token-operator ...`) gives the same names as the kustomize bundle.
*/}}
{{- define "token-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "token-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "token-operator.labels" -}}
helm.sh/chart: {{ include "token-operator.chart" . }}
{{ include "token-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the manager's pods.
*/}}
{{- define "token-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "token-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/*
Name of the manager's ServiceAccount.
*/}}
{{- define "token-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "token-operator.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Names of the Services and certificate Secrets.
*/}}
{{- define "token-operator.webhookServiceName" -}}
{{- printf "%s-webhook-service" (include "token-operator.fullname" .) }}
{{- end }}
{{- define "token-operator.metricsServiceName" -}}
{{- printf "%s-metrics-service" (include "token-operator.fullname" .) }}
{{- end }}
{{- define "token-operator.webhookCertSecretName" -}}
{{- printf "%s-webhook-server-cert" (include "token-operator.fullname" .) }}
{{- end }}
{{- define "token-operator.metricsCertSecretName" -}}
{{- printf "%s-metrics-server-cert" (include "token-operator.fullname" .) }}
{{- end }}

{{/*
True when the operator makes its own webhook certificate and CA (webhooks on, cert-manager
off): it keeps them in this Secret, which the chart never renders (no certificate is made at
render time, so `helm template` gives the same output every time), and injects the CA into the
webhook configurations at run time.
*/}}
{{- define "token-operator.operatorCerts" -}}
{{- if and .Values.webhook.enabled (not .Values.webhook.certManager.enabled) }}true{{ end }}
{{- end }}
{{- define "token-operator.operatorCertSecretName" -}}
{{- printf "%s-webhook-certs" (include "token-operator.fullname" .) }}
{{- end }}

{{/*
Name of the chart's webhook configuration of a kind (MutatingWebhookConfiguration or
ValidatingWebhookConfiguration), from files/webhook-manifests.yaml; empty when it has none.
*/}}
{{- define "token-operator.webhookConfigName" -}}
{{- $ctx := index . 0 }}
{{- $kind := index . 1 }}
{{- range $text := regexSplit "(?m)^---[ \t]*$" ($ctx.Files.Get "files/webhook-manifests.yaml") -1 }}
{{- $doc := fromYaml $text }}
{{- if and $doc (eq (toString $doc.kind) $kind) }}
{{- printf "%s-%s" (include "token-operator.fullname" $ctx) $doc.metadata.name }}
{{- end }}
{{- end }}
{{- end }}

{{/*
True when cert-manager issues the metrics certificate.
*/}}
{{- define "token-operator.metricsCertManager" -}}
{{- if and .Values.metrics.enabled .Values.metrics.secure .Values.webhook.certManager.enabled }}true{{ end }}
{{- end }}

{{/*
The issuerRef of the chart's Certificates: the configured one, or the chart's self-signed Issuer.
*/}}
{{- define "token-operator.issuerRef" -}}
{{- if .Values.webhook.certManager.issuerRef }}
{{- toYaml .Values.webhook.certManager.issuerRef }}
{{- else }}
kind: Issuer
name: {{ include "token-operator.fullname" . }}-selfsigned-issuer
{{- end }}
{{- end }}

{{/*
Image reference of the manager: by digest when image.digest is set, else by tag.
*/}}
{{- define "token-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}
