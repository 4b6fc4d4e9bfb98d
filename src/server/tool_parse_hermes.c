/* Hermes / Qwen tool calls: <tool_call>JSON</tool_call> blocks, the last one possibly left
 * open at the end of the reply (vLLM's hermes parser reads it so too). */
#include <string.h>

#include "server/tool_parse_internal.h"

#define OPEN TOOL_HERMES_OPEN
#define CLOSE TOOL_HERMES_CLOSE

int tool_parse_hermes(const char *text, size_t len, json_t *calls, size_t *content_end)
{
    size_t at = tool_find(text, len, OPEN);
    if (at == len)
        return 0;
    *content_end = at;
    while (at < len) {
        size_t body = at + strlen(OPEN);
        size_t close = body + tool_find(text + body, len - body, CLOSE);
        size_t pos = body;
        json_t *obj = tool_json_at(text, close, &pos);
        int rc = obj && pos == close ? tool_call_append(calls, obj, "arguments") : 0;
        json_decref(obj);
        if (rc <= 0)
            return rc;
        if (close == len)
            break;
        size_t next = close + strlen(CLOSE);
        at = next + tool_find(text + next, len - next, OPEN);
    }
    return 1;
}
