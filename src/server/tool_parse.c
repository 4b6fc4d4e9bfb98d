/* Tool-call parsing (tool_parse.h): the readers' shared helpers, and the result as the
 * OpenAI API shapes it, with ids made as vLLM makes them. */
#include "server/tool_parse.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "server/tool_parse_internal.h"

static const char *const format_names[] = {"hermes", "mistral", "llama3_json"};

int tool_format_parse(const char *name, tool_format *out)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (!strcmp(name, format_names[i])) {
            *out = (tool_format)i;
            return 0;
        }
    return -1;
}

const char *tool_format_name(tool_format f)
{
    return format_names[f];
}

tool_format tool_format_detect(const char *tmpl, bool has_tool_calls_token)
{
    if ((tmpl && strstr(tmpl, TOOL_MISTRAL_MARK)) || has_tool_calls_token)
        return TOOL_MISTRAL;
    if (tmpl && (strstr(tmpl, TOOL_LLAMA3_TAG) || strstr(tmpl, "<|start_header_id|>")))
        return TOOL_LLAMA3_JSON;
    return TOOL_HERMES;
}

size_t tool_find(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (!memcmp(text + i, needle, n))
            return i;
    return len;
}

size_t tool_skip_space(const char *text, size_t len, size_t pos)
{
    while (pos < len && strchr(" \t\r\n", text[pos]) && text[pos])
        pos++;
    return pos;
}

json_t *tool_json_at(const char *text, size_t len, size_t *pos)
{
    size_t p = tool_skip_space(text, len, *pos);
    if (p >= len || (text[p] != '{' && text[p] != '['))
        return NULL;
    json_error_t jerr;
    json_t *v = json_loadb(text + p, len - p, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!v)
        return NULL;
    *pos = tool_skip_space(text, len, p + (size_t)jerr.position);
    return v;
}

int tool_call_append(json_t *calls, const json_t *obj, const char *args_key)
{
    json_t *name = json_object_get(obj, "name"), *args = json_object_get(obj, args_key);
    if (!json_is_object(obj) || !json_is_string(name) || json_string_length(name) == 0 || !args)
        return 0;
    json_t *parsed = NULL;
    if (json_is_string(args)) { /* some models write the arguments as a JSON string */
        json_error_t jerr;
        parsed = json_loads(json_string_value(args), 0, &jerr);
        args = parsed;
    }
    int rc = 0;
    if (json_is_object(args)) {
        json_t *call = json_pack("{s:O, s:O}", "name", name, "arguments", args);
        rc = call && !json_array_append_new(calls, call) ? 1 : -1;
    }
    json_decref(parsed);
    return rc;
}

/* "chatcmpl-tool-" and 32 hex digits as vLLM's random_tool_call_id; Mistral's 9 letters
 * and digits, the only ids its template accepts. */
static void make_id(tool_format f, char *id, size_t cap)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        for (size_t i = 0; i < sizeof r; i++) /* no entropy: ids need only be distinct */
            r[i] = (unsigned char)(rand() & 0xff);
    if (f == TOOL_MISTRAL) {
        for (size_t i = 0; i < 9 && i + 1 < cap; i++)
            id[i] = alnum[r[i] % (sizeof alnum - 1)];
        id[9 < cap ? 9 : cap - 1] = 0;
        return;
    }
    size_t n = (size_t)snprintf(id, cap, "chatcmpl-tool-");
    for (size_t i = 0; i < sizeof r && n + 2 < cap; i++) {
        id[n++] = hex[r[i] >> 4];
        id[n++] = hex[r[i] & 15];
    }
    id[n] = 0;
}

/* {name, arguments} → the API's {id, type, function: {name, arguments as text}}. */
static json_t *api_call(tool_format f, const json_t *found)
{
    char id[64];
    make_id(f, id, sizeof id);
    char *args = json_dumps(json_object_get(found, "arguments"), 0);
    json_t *call = args ? json_pack("{s:s, s:s, s:{s:O, s:s}}", "id", id, "type", "function",
                                    "function", "name", json_object_get(found, "name"),
                                    "arguments", args)
                        : NULL;
    free(args);
    return call;
}

static int set_content(tool_parse_result *out, const char *text, size_t len)
{
    size_t b = tool_skip_space(text, len, 0);
    if (b == len)
        return 0; /* white space alone is no content */
    out->content = malloc(len + 1);
    if (!out->content)
        return -1;
    memcpy(out->content, text, len);
    out->content[len] = 0;
    out->content_len = len;
    return 0;
}

int tool_parse(tool_format f, const char *text, size_t len, bool forced, tool_parse_result *out)
{
    out->content = NULL;
    out->content_len = 0;
    out->calls = json_array();
    json_t *found = json_array();
    size_t content_end = len;
    int rc = -1;
    if (!out->calls || !found)
        goto done;
    switch (f) {
    case TOOL_HERMES: rc = tool_parse_hermes(text, len, found, &content_end); break;
    case TOOL_MISTRAL: rc = tool_parse_mistral(text, len, forced, found, &content_end); break;
    case TOOL_LLAMA3_JSON: rc = tool_parse_llama3(text, len, found, &content_end); break;
    }
    if (rc < 0)
        goto done;
    if (rc == 0 || json_array_size(found) == 0) {
        rc = set_content(out, text, len);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(found); i++) {
        json_t *call = api_call(f, json_array_get(found, i));
        if (!call || json_array_append_new(out->calls, call)) {
            rc = -1;
            goto done;
        }
    }
    rc = set_content(out, text, content_end);
done:
    json_decref(found);
    if (rc < 0)
        tool_parse_result_free(out);
    return rc < 0 ? -1 : 0;
}

void tool_parse_result_free(tool_parse_result *r)
{
    json_decref(r->calls);
    free(r->content);
    r->calls = NULL;
    r->content = NULL;
}
