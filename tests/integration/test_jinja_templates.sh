#!/usr/bin/env bash
# The chat templates of $KVSPILL_SHARED_DIR/testdata/templates rendered by kvspill's Jinja
# interpreter (helper_jinja_render) and by Jinja2 (Debian's python3-jinja2, set up as
# transformers' apply_chat_template sets it up), for a set of conversations: every
# rendering must be byte-identical, and a conversation Jinja2 raises on must fail in kvspill.
set -u
HELPER=${KVSPILL_TEST_BIN_DIR:?KVSPILL_TEST_BIN_DIR not set}/helper_jinja_render
SRC=${KVSPILL_SOURCE_DIR:?KVSPILL_SOURCE_DIR not set}
TEMPLATES=${KVSPILL_SHARED_DIR:-$SRC/../shared}/testdata/templates
[ -x "$HELPER" ] || { echo "SKIP: $HELPER not built"; exit 77; }
[ -d "$TEMPLATES" ] || { echo "SKIP: $TEMPLATES absent"; exit 77; }
[ -x /usr/bin/python3 ] || { echo "SKIP: /usr/bin/python3 absent"; exit 77; }
exec /usr/bin/python3 "$SRC/tests/support/jinja_compare.py" "$HELPER" "$TEMPLATES"
