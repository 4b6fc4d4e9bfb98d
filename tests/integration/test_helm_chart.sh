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
