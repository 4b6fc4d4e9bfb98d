/* Llama 3 JSON tool calls: the whole reply is {"name", "parameters"} objects (vLLM's
 * llama3_json also takes "arguments"), after an optional <|python_tag|>, separated by ';'. */
#include <string.h>

#include "server/tool_parse_internal.h"

#define TAG TOOL_LLAMA3_TAG

int tool_parse_llama3(const char *text, size_t len, json_t *calls, size_t *content_end)
{
    size_t pos = tool_skip_space(text, len, 0);
    if (len - pos >= strlen(TAG) && !memcmp(text + pos, TAG, strlen(TAG)))
        pos += strlen(TAG);
    *content_end = 0;
    while (true) {
        json_t *obj = tool_json_at(text, len, &pos);
        if (!json_is_object(obj)) {
            json_decref(obj);
            return 0;
        }
        const char *key = json_object_get(obj, "parameters") ? "parameters" : "arguments";
        int rc = tool_call_append(calls, obj, key);
        json_decref(obj);
        if (rc <= 0)
            return rc;
        if (pos == len)
            return 1;
        if (text[pos] != ';')
            return 0;
        pos++;
    }
}
