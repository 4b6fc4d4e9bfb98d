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

{{/* The HF_TOKEN env entry of one modelSpec entry (dict "root" $ "spec" $modelSpec), when
     it has an hf_token: a string (in the release's Secret) or {secretName, secretKey}. */}}
{{- define "kvspill.hfTokenEnv" -}}
{{- $m := .spec -}}
{{- if $m.hf_token -}}
- name: HF_TOKEN
  valueFrom:
    secretKeyRef:
      {{- if kindIs "map" $m.hf_token }}
      name: {{ $m.hf_token.secretName }}
      key: {{ $m.hf_token.secretKey }}
      {{- else }}
      name: {{ .root.Release.Name }}-secrets
      key: hf_token_{{ $m.name }}
      {{- end }}
{{- end }}
{{- end }}

{{/* How the router reads the model for prefixaware's chunk keys: "fetch" (a URL or
     org/repo:file.gguf, downloaded into the router's own cache), "mount:NAME" (a path on
     the modelSpec's extraVolumeMount NAME, mounted read-only in the router too), or
     nothing: the router then hashes the prompt's characters and NOTES.txt says why. Only
     for prefixaware with routerSpec.chunkKeys and one model (one router reads one
     tokenizer). */}}
{{- define "kvspill.routerModel" -}}
{{- $r := .Values.routerSpec -}}
{{- $models := .Values.servingEngineSpec.modelSpec | default list -}}
{{- if and (eq $r.routingLogic "prefixaware") $r.chunkKeys (eq (len $models) 1) -}}
{{- $m := index $models 0 -}}
{{- $bare := regexReplaceAll "#.*$" $m.modelURL "" -}}
{{- if include "kvspill.modelIsUrl" $m -}}
{{- if or (regexMatch "^https?://" $bare) (contains ":" $bare) -}}fetch{{- end -}}
{{- else -}}
{{- $found := "" -}}
{{- range $vm := $m.extraVolumeMounts | default list -}}
{{- if and (not $found) (hasPrefix (printf "%s/" (trimSuffix "/" $vm.mountPath)) $m.modelURL) -}}
{{- $found = $vm.name -}}
{{- end -}}
{{- end -}}
{{- if $found -}}mount:{{ $found }}{{- end -}}
{{- end -}}
{{- end -}}
{{- end }}
