#!/usr/bin/env bash
# The include graph between the folders of src/ (docs/ARCHITECTURE.md, "Layers"), checked
# against the floors: prints every edge "from -> to (includes)" and fails, naming the
# files, on an edge that runs up or sideways. "kvspill.h" counts as the folder "include".
#
#   scripts/check-layering.sh [REPO_ROOT]
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT/src" || exit 2

# What each folder may include besides itself. template and grammar are leaves (no kvspill
# dependency); the server compiles structured-output requests with the grammar, the engine
# enforces them. The router uses the server's HTTP pieces, and from the model only
# model_error.h, the error type of the server's HTTP layer.
allowed() {
    case "$1" in
    cache)    echo "include" ;;
    model)    echo "template" ;;
    template) echo "" ;;
    grammar)  echo "" ;;
    tools)    echo "model" ;;
    engine)   echo "include model grammar" ;;
    server)   echo "include engine model grammar" ;;
    router)   echo "include server model" ;;
    cli)      echo "include cache router server engine tools model" ;; # cache: declared internal API
    *)        echo "" ;;
    esac
}

edges=$(grep -rEo '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+"' --include='*.c' \
            --include='*.h' --include='*.cu' . |
        sed -E 's|^\./([^/:]+)/[^:]*:.*"([^"]+)"$|\1 \2|' |
        awk '{ to = $2; if (to == "kvspill.h") to = "include";
               else if (index(to, "/")) to = substr(to, 1, index(to, "/") - 1);
               else to = $1;            # a file of the same folder
               print $1, to }')

bad=0
echo "include graph between the folders of src/ (edges: count):"
while read -r from to count; do
    [ "$from" = "$to" ] && continue
    verdict=ok
    case " $(allowed "$from") " in
    *" $to "*) ;;
    *) verdict="NOT ALLOWED"; bad=1 ;;
    esac
    printf '  %-8s -> %-8s %4s  %s\n' "$from" "$to" "$count" "$verdict"
done < <(echo "$edges" | sort | uniq -c | awk '{ print $2, $3, $1 }')

if [ "$bad" -ne 0 ]; then
    echo "includes that run against the layers:"
    grep -rEn '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+/' --include='*.c' \
        --include='*.h' --include='*.cu' . | while IFS= read -r line; do
        from=${line#./}; from=${from%%/*}
        to=$(echo "$line" | sed -E 's|.*"([^/"]+)/.*|\1|')
        [ "$from" = "$to" ] && continue
        case " $(allowed "$from") " in *" $to "*) ;; *) echo "  ${line#./}" ;; esac
    done
    exit 1
fi
echo "layering: every edge points down"
