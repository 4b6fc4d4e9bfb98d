#!/usr/bin/env bash
# Installs the Debian packages kvspill builds and tests with, when any is missing
# (chromium: the web page's browser test, tests/integration/test_web_browser.sh; nodejs and
# npm when there is no npm yet), then the npm packages of tests/npm (the official OpenAI
# client, tests/integration/test_openai_npm.sh) with `npm ci` from its package-lock.json.
# nfs-kernel-server: the shared tier over an NFS v4.2 loopback mount
# (tests/integration/test_shared_tier_nfs.sh; it skips where the kernel has no NFS).
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail

packages=(
  cmake ninja-build pkg-config gcc clang make
  libcmocka-dev libssl-dev libxxhash-dev liburing-dev libmicrohttpd-dev libjansson-dev
  libhiredis-dev libyaml-dev libutf8proc-dev libcurl4-openssl-dev
  redis-server curl python3 python3-jinja2 python3-numpy python3-yaml python3-jsonschema
  libfaketime nfs-kernel-server
  chromium
)

# A node from elsewhere (NodeSource's nodejs carries npm) is used as it is.
command -v npm >/dev/null || packages+=(nodejs npm)

npm_packages() {
  (cd "$(dirname "$0")/../tests/npm" && npm ci --no-audit --no-fund --loglevel=error)
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  npm_packages
  exec "$(dirname "$0")/install-helm.sh"
fi

echo "kvspill: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "kvspill: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_packages
"$(dirname "$0")/install-helm.sh"
