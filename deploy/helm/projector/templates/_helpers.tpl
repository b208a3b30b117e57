{{/* The name of every object: the release's, with the chart's name. */}}
{{- define "projector.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the pod; they never change for a release. */}}
{{- define "projector.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "projector.labels" -}}
{{ include "projector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
The configuration file: config from the values, with http.listen and
state.dir set to what the chart mounts and exposes.
*/}}
{{- define "projector.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- range $key := list "sources" "sink" "views" -}}
{{- if not (get $cfg $key) -}}
{{- fail (printf "config.%s is not set: put projector's configuration under config in your values (docs/configuration.md lists every key)" $key) -}}
{{- end -}}
{{- end -}}
{{- $http := get $cfg "http" | default dict -}}
{{- $_ := set $http "listen" (printf ":%d" (int .Values.service.port)) -}}
{{- $_ := set $cfg "http" $http -}}
{{- $state := get $cfg "state" | default dict -}}
{{- $_ := set $state "dir" "/var/lib/projector" -}}
{{- $_ := set $cfg "state" $state -}}
{{- $out := toYaml $cfg -}}
{{- if regexMatch "(?m)^[ -]*\"?(true|false)\"?:" $out -}}
{{- fail "config: a key reads as true or false: Helm reads values as YAML 1.1, where an unquoted on, off, yes or no is a boolean. Quote the relation's on key (\"on\": { id: order_id }) and any such column name" -}}
{{- end -}}
{{- $out -}}
{{- end -}}
