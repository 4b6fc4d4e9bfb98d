#!/usr/bin/env bash
# kvspill cache ls|stat|verify|gc on a directory populated by helper_file_writer:
# output, exit codes (0 ok, 1 problem found, 2 usage/cannot run), damage found and removed.
set -u
BIN=${KVSPILL_BIN:?KVSPILL_BIN not set}
HELPER=${KVSPILL_TEST_BIN_DIR:?KVSPILL_TEST_BIN_DIR not set}/helper_file_writer
[ -x "$BIN" ] && [ -x "$HELPER" ] || { echo "SKIP: $BIN or $HELPER not built"; exit 77; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-cli-XXXXXX")
PARENT=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-cli-parent-XXXXXX")
trap 'rm -rf "$DIR" "$PARENT"' EXIT
fails=0
check() { # check NAME EXPECTED_RC ACTUAL_RC
    if [ "$2" != "$3" ]; then echo "FAIL: $1: exit $3, want $2"; fails=$((fails + 1)); else echo "ok: $1"; fi
}
contains() { # contains NAME FILE PATTERN
    if grep -q -- "$3" "$2"; then echo "ok: $1"; else echo "FAIL: $1: no '$3' in:"; cat "$2"; fails=$((fails + 1)); fi
}

"$HELPER" populate "$DIR" 2 5 || { echo "FAIL: populate"; exit 1; }

"$BIN" cache ls "$DIR" > "$DIR.out"; check "ls" 0 $?
check "ls lists 10 objects" 11 "$(wc -l < "$DIR.out")"
"$BIN" cache ls "$DIR" --json > "$DIR.out"; check "ls --json" 0 $?
check "ls --json parses, 10 entries" 10 "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$DIR.out")"
contains "ls --json fields" "$DIR.out" '"chunk_index"'

"$BIN" cache stat "$DIR" > "$DIR.out"; check "stat" 0 $?
contains "stat totals" "$DIR.out" "total: 2 namespaces, 10 objects"

"$BIN" cache verify "$DIR" > "$DIR.out"; check "verify clean" 0 $?
contains "verify count" "$DIR.out" "10 ok, 0 damaged"

# Objects are the owner's alone (KV tensors reveal the prompt), directories too.
check "objects are 0600" 0 "$(find "$DIR/v1" -name '*.kvc' ! -perm 0600 | wc -l)"
check "directories are 0700" 0 "$(find "$DIR" -type d ! -perm 0700 | wc -l)"
# verify reports an object others can read.
mapfile -t objs < <(find "$DIR/v1" -name '*.kvc' | sort)
chmod 0644 "${objs[3]}"
"$BIN" cache verify "$DIR" > "$DIR.out"; check "verify finds a world-readable object" 1 $?
contains "verify names it" "$DIR.out" "READABLE BY OTHERS ${objs[3]} (mode 0644)"
contains "verify counts them" "$DIR.out" "1 objects are readable by other users"
chmod 0600 "${objs[3]}"

# A directory that holds no cache (the parent of one) is not an empty cache.
mkdir -p "$PARENT/node-a/kv" "$PARENT/empty"
"$HELPER" populate "$PARENT/node-a/kv" 1 1 || { echo "FAIL: populate nested"; exit 1; }
for cmd in verify ls stat; do
  "$BIN" cache $cmd "$PARENT" > /dev/null 2> "$DIR.out"; check "$cmd on a parent of a cache" 2 $?
  contains "$cmd says no cache" "$DIR.out" "$PARENT: no cache found here"
  contains "$cmd names the cache below" "$DIR.out" "  $PARENT/node-a/kv"
done
"$BIN" cache gc "$PARENT/empty" --max-size 1G > /dev/null 2> "$DIR.out"; check "gc on no cache" 2 $?
contains "gc says none below either" "$DIR.out" "no cache directory below it either"

# Damage one payload byte and one header byte.
mapfile -t objs < <(find "$DIR/v1" -name '*.kvc' | sort)
printf '\xff' | dd of="${objs[0]}" bs=1 seek=5000 conv=notrunc status=none
printf '\x00' | dd of="${objs[1]}" bs=1 seek=20 conv=notrunc status=none
"$BIN" cache verify "$DIR" > "$DIR.out"; check "verify finds damage" 1 $?
contains "verify names the path" "$DIR.out" "DAMAGED ${objs[0]}"
contains "verify says why" "$DIR.out" "checksum mismatch"
"$BIN" cache verify "$DIR" --remove > "$DIR.out"; check "verify --remove" 1 $?
contains "verify --remove count" "$DIR.out" "2 removed"
"$BIN" cache verify "$DIR" > /dev/null; check "verify after --remove" 0 $?

# gc: an orphan temp file, then down to 3 objects' worth.
size=$(stat -c %s "${objs[2]}")
orphan="$(dirname "${objs[2]}")/dead.1.1.tmp"
head -c 4096 /dev/zero > "$orphan"; touch -d '2 hours ago' "$orphan"
"$BIN" cache gc "$DIR" --max-size $((size * 3)) > "$DIR.out"; check "gc" 0 $?
contains "gc removed the orphan" "$DIR.out" "removed 1 orphan"
[ ! -e "$orphan" ]; check "orphan gone" 0 $?
check "3 objects left" 3 "$(find "$DIR/v1" -name '*.kvc' | wc -l)"
"$BIN" cache gc "$DIR" --max-size 1G > /dev/null; check "gc size units" 0 $?

# A live lease of another process is respected.
echo "other:1:1:1 $(( ($(date +%s) + 600) * 1000000000 ))" > "$DIR/v1/.evict.lease"
"$BIN" cache gc "$DIR" --max-size 0 2> "$DIR.out"; check "gc respects the lease" 2 $?
contains "gc names the lease" "$DIR.out" ".evict.lease"
check "nothing evicted under a foreign lease" 3 "$(find "$DIR/v1" -name '*.kvc' | wc -l)"

# Usage errors and missing directories.
"$BIN" cache ls 2> /dev/null; check "ls without DIR" 2 $?
"$BIN" cache gc "$DIR" 2> /dev/null; check "gc without --max-size" 2 $?
"$BIN" cache gc "$DIR" --max-size 12Q 2> /dev/null; check "gc bad size" 2 $?
"$BIN" cache verify "$DIR/nope" 2> "$DIR.out"; check "verify missing dir" 2 $?
contains "missing dir named" "$DIR.out" "$DIR/nope: No such file or directory"
# bench io --keep leaves its objects where cache ls/verify find them.
mkdir -p "$DIR/bench"
"$BIN" bench io --dir "$DIR/bench" --chunks 2 --chunk-bytes 200000 --keep > "$DIR.out"
check "bench io --keep" 0 $?
kept=$(sed -n 's/^  objects kept in \([^ ]*\) .*/\1/p' "$DIR.out")
"$BIN" cache verify "$kept" > "$DIR.out"; check "kept objects verify" 0 $?
contains "both kept objects" "$DIR.out" "verified 2 objects: 2 ok"
rm -f "$DIR.out"
[ $fails -eq 0 ] && echo "all passed" || { echo "$fails failed"; exit 1; }
