#!/usr/bin/env bash
# Downloads (does not install) the Debian packages kvspill builds with into DIR, for a GPU
# machine that has CUDA but neither these libraries nor a package registry: carry DIR there
# and run `KVSPILL_DEPS_DIR=DIR bench/gpu-check.sh`, which unpacks them into a private
# prefix. Run it on a Debian 12 machine that reaches the registry.
# usage: scripts/fetch-gpu-deps.sh DIR
set -euo pipefail
DIR=${1:?usage: scripts/fetch-gpu-deps.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
packages=(
  libcmocka-dev libcmocka0 libssl-dev libssl3 libxxhash-dev libxxhash0 liburing-dev liburing2
  libmicrohttpd-dev libmicrohttpd12 libjansson-dev libjansson4 libhiredis-dev libhiredis0.14
  libyaml-dev libyaml-0-2 libutf8proc-dev libutf8proc2 pkgconf pkgconf-bin libpkgconf3
)
cd "$DIR"
apt-get download "${packages[@]}"
echo "fetch-gpu-deps: $(ls "$DIR"/*.deb | wc -l) packages in $DIR"
