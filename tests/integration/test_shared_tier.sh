#!/bin/bash
# Three replicas sharing one cache directory on a local file system: cross-replica hits,
# eviction under the lease, writers killed mid-object (tests/support/shared_tier_check.py).
# test_shared_tier_nfs.sh runs the same check on an NFS v4.2 mount where the kernel allows it.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
export MODEL="$S/models/tiny-f32.gguf"
[ -f "$MODEL" ] || { echo "SKIP: $MODEL not found (KVSPILL_SHARED_DIR)"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export TMP
mkdir "$TMP/shared"
python3 "$KVSPILL_SOURCE_DIR/tests/support/shared_tier_check.py" "$TMP/shared"
