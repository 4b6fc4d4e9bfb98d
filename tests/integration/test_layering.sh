#!/usr/bin/env bash
# The include graph between the folders of src/ points down the layers only
# (scripts/check-layering.sh, docs/ARCHITECTURE.md "Layers").
set -u
ROOT=${KVSPILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
exec bash "$ROOT/scripts/check-layering.sh" "$ROOT"
