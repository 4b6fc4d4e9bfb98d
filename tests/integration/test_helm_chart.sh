#!/bin/bash
# deploy/helm/kvspill-stack: `helm lint` and `helm template` with the seed's own values
# file and the CPU example, the rendered manifests and NOTES checked by
# tests/support/check_helm_manifests.py; a values file the chart must refuse is refused.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CHART="$ROOT/deploy/helm/kvspill-stack"
EX="$ROOT/deploy/helm/examples"
command -v helm >/dev/null || { echo "SKIP: helm not installed (scripts/install-helm.sh installs it)"; exit 77; }
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: python3-yaml not installed"; exit 77; }
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT

# helm template leaves NOTES.txt out: a copy of the chart renders it as a ConfigMap.
cp -r "$CHART" "$DIR/chart"
{ echo '{{- define "kvspill.notes" }}'; cat "$CHART/templates/NOTES.txt"; echo '{{- end }}'; } \
  > "$DIR/chart/templates/_notes.tpl"
printf 'kind: NotesCheck\nnotes: {{ include "kvspill.notes" . | toJson }}\n' \
  > "$DIR/chart/templates/notes-check.yaml"

for which in seed cpu; do
  values="$EX/$which-values.yaml"
  helm lint --strict "$CHART" -f "$values" > "$DIR/lint.log" || { cat "$DIR/lint.log"; exit 1; }
  helm template vllm "$CHART" -n vllm-stack -f "$values" > "$DIR/$which.yaml"
  helm template vllm "$DIR/chart" -n vllm-stack -f "$values" --show-only templates/notes-check.yaml |
    python3 -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["notes"])' > "$DIR/$which-notes.txt"
  python3 "$ROOT/tests/support/check_helm_manifests.py" "$which" "$DIR/$which.yaml" "$DIR/$which-notes.txt"
done

# prefixaware with a fetched model: the router fetches it too (HF token, its own cache on an
# emptyDir); with two models, or chunkKeys off, it hashes characters, warned unless chosen.
router_of() {  # router_of NOTES-OUT helm-args...: the router Deployment; NOTES into NOTES-OUT
  local out="$1"; shift
  helm template vllm "$DIR/chart" -n vllm-stack -f "$EX/cpu-values.yaml" "$@" --show-only templates/notes-check.yaml |
    python3 -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["notes"])' > "$out"
  helm template vllm "$CHART" -n vllm-stack -f "$EX/cpu-values.yaml" "$@" --show-only templates/deployment-router.yaml
}
router_of "$DIR/n1" --set 'servingEngineSpec.modelSpec[0].modelURL=org/repo:m.gguf' \
  --set 'servingEngineSpec.modelSpec[0].hf_token=t' > "$DIR/r1.yaml"
python3 - "$DIR/r1.yaml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]
r = c["containers"][0]
assert r["args"][r["args"].index("--model") + 1] == "org/repo:m.gguf", r["args"]
env = {e["name"]: e for e in r["env"]}
assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "hf_token_tiny", env
assert env["KVSPILL_MODEL_CACHE"]["value"] == "/cache/models", env
assert r["volumeMounts"] == [{"name": "model-cache", "mountPath": "/cache"}], r["volumeMounts"]
assert c["volumes"] == [{"name": "model-cache", "emptyDir": {}}], c["volumes"]
PY
! grep -q WARNING "$DIR/n1" || { echo "FAIL: fetched model warns:"; cat "$DIR/n1"; exit 1; }
two=(--set 'servingEngineSpec.modelSpec[1].name=other' --set 'servingEngineSpec.modelSpec[1].modelURL=/models/o.gguf')
router_of "$DIR/n2" "${two[@]}" > "$DIR/r2.yaml"
! grep -q -- "- --model" "$DIR/r2.yaml" || { echo "FAIL: router given one of two models"; exit 1; }
grep -q "one router reads one model's tokenizer and this release serves 2" "$DIR/n2" ||
  { echo "FAIL: two models, no warning:"; cat "$DIR/n2"; exit 1; }
router_of "$DIR/n3" "${two[@]}" --set routerSpec.chunkKeys=false > "$DIR/r3.yaml"
! grep -q WARNING "$DIR/n3" || { echo "FAIL: chunkKeys false still warns:"; cat "$DIR/n3"; exit 1; }
router_of "$DIR/n4" --set 'servingEngineSpec.modelSpec[0].modelURL=/elsewhere/m.gguf' > "$DIR/r4.yaml"
! grep -q -- "- --model" "$DIR/r4.yaml" || { echo "FAIL: router given a path it cannot mount"; exit 1; }
grep -q "is on none of the modelSpec's extraVolumeMounts" "$DIR/n4" ||
  { echo "FAIL: unmountable path, no warning:"; cat "$DIR/n4"; exit 1; }

# Values the chart refuses, each with its reason.
refuse() {  # refuse NEEDLE helm-args...
  local needle="$1"; shift
  if helm template vllm "$CHART" -f "$EX/cpu-values.yaml" "$@" > "$DIR/out" 2>&1; then
    echo "FAIL: rendered though it should refuse ($*)"; exit 1
  fi
  grep -q -- "$needle" "$DIR/out" || { echo "FAIL: refusal lacks '$needle':"; cat "$DIR/out"; exit 1; }
}
refuse "sessionKey" --set routerSpec.routingLogic=session
refuse "routingLogic" --set routerSpec.routingLogic=fastest
refuse "serviceType" --set routerSpec.serviceType=Ingress
refuse "name: Does not match pattern" --set 'servingEngineSpec.modelSpec[0].name=Tiny_Model'
echo "ok: helm chart"
