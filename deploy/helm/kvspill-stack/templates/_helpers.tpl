{{/* Labels every object of the release carries; the selectors use release + component. */}}
{{- define "kvspill.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kvspill-stack
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
release: {{ .Release.Name }}
{{- end }}

{{/* The engine image of one modelSpec entry (dict "root" $ "spec" $modelSpec). */}}
{{- define "kvspill.engineImage" -}}
{{- $k := .root.Values.kvspill.image -}}
{{- $repo := .spec.repository | default "" -}}
{{- if or (eq $repo "") (and .root.Values.kvspill.replaceVllmImages (contains "vllm" $repo)) -}}
{{ $k.repository }}:{{ $k.tag }}
{{- else -}}
{{ $repo }}:{{ .spec.tag | default "latest" }}
{{- end -}}
{{- end }}

{{/* The router image: routerSpec.repository when set, else kvspill's. */}}
{{- define "kvspill.routerImage" -}}
{{- $r := .Values.routerSpec -}}
{{- if $r.repository -}}
{{ $r.repository }}:{{ $r.tag | default "latest" }}
{{- else -}}
{{ .Values.kvspill.image.repository }}:{{ .Values.kvspill.image.tag }}
{{- end -}}
{{- end }}

{{/* Whether the release has an API key (a string or a Secret reference). */}}
{{- define "kvspill.hasApiKey" -}}
{{- $k := .Values.servingEngineSpec.vllmApiKey -}}
{{- if kindIs "map" $k -}}{{- if $k.secretName -}}true{{- end -}}
{{- else if $k -}}true{{- end -}}
{{- end }}

{{/* The VLLM_API_KEY env entry, from the release's Secret or the one named. */}}
{{- define "kvspill.apiKeyEnv" -}}
{{- $k := .Values.servingEngineSpec.vllmApiKey -}}
- name: VLLM_API_KEY
  valueFrom:
    secretKeyRef:
{{- if kindIs "map" $k }}
      name: {{ $k.secretName }}
      key: {{ $k.secretKey | default "vllmApiKey" }}
{{- else }}
      name: {{ .Release.Name }}-secrets
      key: vllmApiKey
{{- end }}
{{- end }}

{{/* Whether modelURL is a local path the replica already has (else it is fetched). */}}
{{- define "kvspill.modelIsUrl" -}}
{{- $u := .modelURL | default "" -}}
{{- if not (hasPrefix "/" $u) -}}true{{- end -}}
{{- end }}

{{/* Problems with one modelSpec entry that stop the install, with the reason. */}}
{{- define "kvspill.checkModel" -}}
{{- $m := .spec -}}
{{- if not $m.name -}}{{- fail "servingEngineSpec.modelSpec[]: every entry needs a name" -}}{{- end -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $m.name) -}}
{{- fail (printf "servingEngineSpec.modelSpec[].name %q: must be a DNS label (lower case letters, digits, '-'), it names the Deployment and Service" $m.name) -}}
{{- end -}}
{{- if not $m.modelURL -}}{{- fail (printf "servingEngineSpec.modelSpec %q: modelURL is required (a GGUF path, an http(s) URL or a Hugging Face org/repo[:file.gguf])" $m.name) -}}{{- end -}}
{{- end }}
