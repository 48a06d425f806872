{{/* Names and labels shared by every template. */}}

{{- define "territory-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name alone when it already contains the chart name. */}}
{{- define "territory-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "territory-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "territory-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "territory-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "territory-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: territory-operator
{{- end }}

{{- define "territory-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "territory-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: a digest wins over the tag; the tag defaults to the chart's appVersion. */}}
{{- define "territory-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The tenant ClusterRoles the operator binds in each Territory namespace: release-specific names, so
two releases (one per shard) on one cluster never fight over them. */}}
{{- define "territory-operator.tenantAdminRole" -}}
{{- dig "tenantRoles" "admin" (printf "%s-tenant-admin" (include "territory-operator.fullname" .)) .Values.config }}
{{- end }}
{{- define "territory-operator.tenantReaderRole" -}}
{{- dig "tenantRoles" "reader" (printf "%s-tenant-reader" (include "territory-operator.fullname" .)) .Values.config }}
{{- end }}

{{/* The image every backup CronJob runs: config.operatorImage, else this chart's image. */}}
{{- define "territory-operator.backupImage" -}}
{{- default (include "territory-operator.image" .) .Values.config.operatorImage }}
{{- end }}

{{/* The PostgreSQL image repository of the databases: config.postgresImage, else the operator's default
(operator/src/config/operator-config.ts; a unit test keeps the two equal). */}}
{{- define "territory-operator.postgresImage" -}}
{{- default "ghcr.io/cloudnative-pg/postgresql" .Values.config.postgresImage }}
{{- end }}

{{/* The operator's own identity, as the API server names it in admission requests. */}}
{{- define "territory-operator.username" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "territory-operator.serviceAccountName" .) }}
{{- end }}

{{/* The operator configuration file: the values' config, with the backup CronJobs running this image and
the tenant ClusterRoles the chart ships. */}}
{{- define "territory-operator.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "operatorImage" (include "territory-operator.backupImage" .) }}
{{- $_ := set $config "tenantRoles" (dict "admin" (include "territory-operator.tenantAdminRole" .) "reader" (include "territory-operator.tenantReaderRole" .)) }}
{{- toYaml $config }}
{{- end }}
