#!/bin/bash
# The seed's shared tier is NFS: tests/support/shared_tier_check.py (three replicas,
# cross-replica hits, eviction under the lease, writers killed mid-object) on a directory
# exported by the kernel's NFS server and mounted over loopback as NFS v4.2, with the mount
# options deploy/README.md recommends. Needs root, nfs-kernel-server (installed by
# scripts/install-deps.sh) and a kernel with the NFS server and client; where any is
# missing it says which and skips. An nfsd already running keeps running: only the export
# and the mount this test made are removed.
set -euo pipefail
S="${KVSPILL_SHARED_DIR:-../shared}/testdata"
export MODEL="$S/models/tiny-f32.gguf"
skip() { echo "SKIP: $*"; exit 77; }
[ -f "$MODEL" ] || skip "$MODEL not found (KVSPILL_SHARED_DIR)"
[ "$(id -u)" = 0 ] || skip "not root: exporting and mounting NFS needs root"
for t in exportfs rpc.nfsd rpc.mountd mount.nfs4; do
  command -v "$t" >/dev/null || skip "$t not installed (Debian's nfs-kernel-server, nfs-common)"
done
if ! grep -qw nfsd /proc/filesystems || ! grep -qw nfs4 /proc/filesystems; then
  command -v modprobe >/dev/null && { modprobe nfsd 2>/dev/null || true; modprobe nfsv4 2>/dev/null || true; }
  grep -qw nfsd /proc/filesystems ||
    skip "kernel $(uname -r) has no NFS server: 'nfsd' is not in /proc/filesystems and no module loads"
  grep -qw nfs4 /proc/filesystems ||
    skip "kernel $(uname -r) has no NFS v4 client: 'nfs4' is not in /proc/filesystems and no module loads"
fi

TMP=$(mktemp -d)
export TMP
EXPORT="$TMP/export" MNT="$TMP/mnt"
mkdir -p "$EXPORT" "$MNT"
started_nfsd=0 mountd_pid=""
cleanup() {
  umount -f -l "$MNT" 2>/dev/null || true
  exportfs -u "127.0.0.1:$EXPORT" 2>/dev/null || true
  [ "$started_nfsd" = 1 ] && rpc.nfsd 0 2>/dev/null || true
  [ -n "$mountd_pid" ] && kill "$mountd_pid" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

mountpoint -q /proc/fs/nfsd || mount -t nfsd nfsd /proc/fs/nfsd ||
  skip "cannot mount the nfsd control file system on /proc/fs/nfsd"
# no_root_squash: the test runs as root, as the replicas' shared uid would own the export.
exportfs -i -o "rw,sync,no_subtree_check,no_root_squash,insecure,fsid=$((RANDOM + 1000))" \
  "127.0.0.1:$EXPORT"
if ! pgrep -x rpc.mountd >/dev/null; then
  rpc.mountd -N 2 -N 3 -F &
  mountd_pid=$!
fi
if [ "$(cat /proc/fs/nfsd/threads 2>/dev/null || echo 0)" = 0 ]; then
  rpc.nfsd -N 3 -V 4.2 4 || skip "rpc.nfsd could not start the kernel's NFS server"
  started_nfsd=1
fi
# hard: a server that goes away stalls I/O instead of failing it half-written;
# lookupcache=positive: a miss is not cached, so a replica sees another's new object at its
# next lookup instead of after acdirmax; actimeo=1 bounds how stale the .usage and lease
# files' attributes may be; nconnect: several TCP connections for bandwidth.
OPTS="vers=4.2,proto=tcp,hard,lookupcache=positive,actimeo=1,nconnect=4"
ok=0
for _ in $(seq 50); do
  mount -t nfs4 -o "$OPTS" "127.0.0.1:$EXPORT" "$MNT" 2>"$TMP/mount.err" && { ok=1; break; }
  sleep 0.2
done
[ "$ok" = 1 ] || { echo "mount -t nfs4 -o $OPTS 127.0.0.1:$EXPORT failed: $(cat "$TMP/mount.err")" >&2; exit 1; }
grep " $MNT nfs4 " /proc/mounts
python3 "$KVSPILL_SOURCE_DIR/tests/support/shared_tier_check.py" "$MNT"
