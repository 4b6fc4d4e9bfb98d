/* Mistral tool calls after [TOOL_CALLS]: a JSON array of calls (or one call object) up to
 * v7, or v11's name[ARGS]{arguments} for each call, every one after its own [TOOL_CALLS]. */
#include <string.h>

#include "server/tool_parse_internal.h"

#define MARK TOOL_MISTRAL_MARK
#define ARGS TOOL_MISTRAL_ARGS

/* The JSON form: one array of calls or one call, and nothing after it. */
static int json_form(const char *text, size_t len, size_t pos, json_t *calls)
{
    json_t *v = tool_json_at(text, len, &pos);
    int rc = 0;
    if (v && pos == len) {
        if (json_is_object(v))
            rc = tool_call_append(calls, v, "arguments");
        for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
            if ((rc = tool_call_append(calls, json_array_get(v, i), "arguments")) <= 0)
                break;
    }
    json_decref(v);
    return rc;
}

/* v11: name[ARGS]{...} segments, each after a [TOOL_CALLS] (the first one's is at pos). */
static int args_form(const char *text, size_t len, size_t pos, json_t *calls)
{
    while (pos < len) {
        size_t args = pos + tool_find(text + pos, len - pos, ARGS);
        if (args == len || args == pos)
            return 0;
        size_t after = args + strlen(ARGS);
        json_t *a = tool_json_at(text, len, &after);
        json_t *call = json_is_object(a) ? json_pack("{s:s%, s:O}", "name", text + pos,
                                                     args - pos, "arguments", a)
                                         : NULL;
        json_decref(a);
        if (!call)
            return 0;
        int rc = tool_call_append(calls, call, "arguments");
        json_decref(call);
        if (rc <= 0)
            return rc;
        if (after < len && tool_find(text + after, len - after, MARK) != 0)
            return 0;
        pos = after < len ? after + strlen(MARK) : len;
    }
    return 1;
}

int tool_parse_mistral(const char *text, size_t len, bool forced, json_t *calls,
                       size_t *content_end)
{
    size_t at = tool_find(text, len, MARK);
    size_t pos = at < len ? at + strlen(MARK) : 0;
    if (at == len && !forced)
        return 0;
    *content_end = at < len ? at : 0;
    size_t first = tool_skip_space(text, len, pos);
    if (first < len && (text[first] == '[' || text[first] == '{'))
        return json_form(text, len, pos, calls);
    return args_form(text, len, pos, calls);
}
