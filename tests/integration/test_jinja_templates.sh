#!/usr/bin/env bash
# The chat templates of $KVSPILL_SHARED_DIR/testdata/templates rendered by kvspill's Jinja
# interpreter (helper_jinja_render) and by Jinja2 (Debian's python3-jinja2, set up as
# transformers' apply_chat_template sets it up), for a set of conversations: every
# rendering must be byte-identical, and a conversation Jinja2 raises on must fail in kvspill.
# First: `serve --chat-template` with a template outside the interpreter's subset is refused
# at startup with the construct and its line.
set -u
HELPER=${KVSPILL_TEST_BIN_DIR:?KVSPILL_TEST_BIN_DIR not set}/helper_jinja_render
SRC=${KVSPILL_SOURCE_DIR:?KVSPILL_SOURCE_DIR not set}
TEMPLATES=${KVSPILL_SHARED_DIR:-$SRC/../shared}/testdata/templates
[ -x "$HELPER" ] || { echo "SKIP: $HELPER not built"; exit 77; }
[ -d "$TEMPLATES" ] || { echo "SKIP: $TEMPLATES absent"; exit 77; }
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 absent"; exit 77; }
BIN=${KVSPILL_BIN:-}
if [ -x "$BIN" ]; then
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/kvspill-jinja-XXXXXX")
    trap 'rm -rf "$DIR"' EXIT
    "$BIN" model gen --out "$DIR/m.gguf" --layers 1 --dim 32 --heads 2 --kv-heads 1 --ff 64 --ctx 64 \
        > /dev/null || { echo "FAIL: model gen"; exit 1; }
    printf '{%% for m in messages %%}\n{{ m.content | wordwrap(40) }}{%% endfor %%}' > "$DIR/bad.jinja"
    "$BIN" serve --model "$DIR/m.gguf" --port 1 --chat-template "$DIR/bad.jinja" 2> "$DIR/err"
    rc=$?
    if [ $rc -ne 2 ] || ! grep -q "line 2: unsupported filter 'wordwrap'" "$DIR/err"; then
        echo "FAIL: serve --chat-template with an unsupported filter: rc $rc, $(cat "$DIR/err")"
        exit 1
    fi
    echo "ok: serve refuses the template: $(tail -1 "$DIR/err")"
fi
 /usr/bin/python3 "$SRC/tests/support/jinja_compare.py" "$HELPER" "$TEMPLATES"
