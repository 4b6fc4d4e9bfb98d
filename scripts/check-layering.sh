#!/usr/bin/env bash
# The include graph between the folders of src/ (docs/ARCHITECTURE.md, "Layers"), checked
# against the floors: prints every edge "from -> to (includes)" and fails, naming the
# files, on an edge that runs up or sideways. "kvspill.h" counts as the folder "include";
# "cache/kvs_admin.h", the cache's operator API, is a node of its own (the only header of
# the cache that the CLI and the tools may include); src/tools/bench is a folder of its own.
# The router may include only some headers of the server and the model (router_headers
# below): any other one is a node of its own, which no rule allows.
#
#   scripts/check-layering.sh [REPO_ROOT]
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT/src" || exit 2

# What each folder may include besides itself. template and grammar are leaves (no kvspill
# dependency); the server compiles structured-output requests with the grammar, the engine
# enforces them. The router uses the server's HTTP pieces and its request parsing and
# prompt rendering, and from the model model_error.h (the HTTP layer's error type) and,
# for prefixaware's chunk keys, the GGUF reader, the tokenizer and the chat template —
# never the engine, the forward pass or server.h (which includes the engine). The tools stand apart from the
# runtime: the generators on the model, the benchmark drivers on everything they measure;
# only the CLI includes them.
allowed() {
    case "$1" in
    cache)       echo "include" ;;
    model)       echo "template" ;;
    template)    echo "" ;;
    grammar)     echo "" ;;
    tools)       echo "model" ;;
    engine)      echo "include model grammar" ;;
    server)      echo "include engine model grammar" ;;
    router)      echo "include server model" ;;
    tools/bench) echo "include cache/kvs_admin.h router server engine tools model" ;;
    cli)         echo "include cache/kvs_admin.h router server engine tools tools/bench model" ;;
    *)           echo "" ;;
    esac
}

# What the router may include of the server and the model.
router_headers="server/http.h server/auth.h server/api_error.h server/web.h
server/openai_request.h server/prompt.h server/tool_parse.h model/model_error.h model/gguf.h
model/tokenizer.h model/chat_template.h"

# "file:line:#include "x"" lines into "from to", with to a folder (or a node above).
includes() {
    grep -rEn '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+"' --include='*.c' \
        --include='*.h' --include='*.cu' . |
    awk -F: -v router_headers="$(echo $router_headers)" '
        function folder(path) {
            if (path ~ /^tools\/bench\//) return "tools/bench";
            return substr(path, 1, index(path, "/") - 1);
        }
        {
            file = substr($1, 3);                     # without "./"
            from = folder(file);
            line = $0; sub(/^[^"]*"/, "", line); sub(/".*$/, "", line);
            if (line == "kvspill.h") to = "include";
            else if (line == "cache/kvs_admin.h") to = line;
            else if (index(line, "/")) to = folder(line);
            else to = from;                           # a file of the same folder
            if (from == "router" && (to == "server" || to == "model") &&
                index(" " router_headers " ", " " line " ") == 0)
                to = line;                            # a header the router may not use
            print from, to, file ":" $2;
        }'
}

edges=$(includes)
ok() {
    [ "$1" = "$2" ] && return 0
    case " $(allowed "$1") " in *" $2 "*) return 0 ;; esac
    # A folder's own node beyond it (cache includes its kvs_admin.h) stays inside it.
    [ "$1" = cache ] && [ "$2" = cache/kvs_admin.h ]
}

bad=0
echo "include graph between the folders of src/ (edges: count):"
while read -r from to count; do
    [ "$from" = "$to" ] && continue
    [ "$from" = cache ] && [ "$to" = cache/kvs_admin.h ] && continue
    verdict=ok
    ok "$from" "$to" || { verdict="NOT ALLOWED"; bad=1; }
    printf '  %-11s -> %-17s %4s  %s\n' "$from" "$to" "$count" "$verdict"
done < <(echo "$edges" | awk '{ print $1, $2 }' | sort | uniq -c | awk '{ print $2, $3, $1 }')

if [ "$bad" -ne 0 ]; then
    echo "includes that run against the layers:"
    echo "$edges" | while read -r from to where; do
        ok "$from" "$to" || echo "  $where ($from -> $to)"
    done
    exit 1
fi
echo "layering: every edge points down"
