/* Request-side tool calling (tool_calls.h). */
#include "server/tool_calls.h"

#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"
#include "server/tool_grammar.h"

#define BAD(param, ...) api_fail(err, 400, param, NULL, __VA_ARGS__)

static bool present(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return v && !json_is_null(v);
}

static int check_tools(json_t *tools, api_error *err)
{
    if (!json_is_array(tools))
        return BAD("tools", "'tools' must be an array of {\"type\": \"function\", \"function\": {...}}");
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        json_t *type = json_object_get(tool, "type"), *fn = json_object_get(tool, "function");
        json_t *name = json_object_get(fn, "name"), *params = json_object_get(fn, "parameters");
        if (!json_is_object(tool) || !json_is_string(type) ||
            strcmp(json_string_value(type), "function") != 0 || !json_is_object(fn))
            return BAD("tools", "tools[%zu] must be {\"type\": \"function\", \"function\": {...}}", i);
        if (!json_is_string(name) || json_string_length(name) == 0)
            return BAD("tools", "tools[%zu].function.name must be a non-empty string", i);
        if (params && !json_is_null(params) && !json_is_object(params))
            return BAD("tools", "tools[%zu].function.parameters must be a JSON schema object", i);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(json_string_value(json_object_get(
                            json_object_get(json_array_get(tools, k), "function"), "name")),
                        json_string_value(name)))
                return BAD("tools", "tools[%zu]: the function name '%.64s' is given twice", i,
                           json_string_value(name));
    }
    return 0;
}

static bool has_tool(json_t *tools, const char *name)
{
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        const char *n = json_string_value(json_object_get(json_object_get(tool, "function"), "name"));
        if (n && !strcmp(n, name))
            return true;
    }
    return false;
}

static int parse_choice(json_t *root, oai_tools *t, api_error *err)
{
    json_t *tc = json_object_get(root, "tool_choice");
    bool any_tools = json_array_size(t->tools) > 0;
    t->choice = any_tools ? OAI_TOOLS_AUTO : OAI_TOOLS_NONE;
    if (!tc || json_is_null(tc))
        return 0;
    if (json_is_string(tc)) {
        const char *s = json_string_value(tc);
        if (!strcmp(s, "none"))
            t->choice = OAI_TOOLS_NONE;
        else if (!strcmp(s, "auto"))
            t->choice = any_tools ? OAI_TOOLS_AUTO : OAI_TOOLS_NONE;
        else if (!strcmp(s, "required"))
            t->choice = OAI_TOOLS_REQUIRED;
        else
            return BAD("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                                      "{\"type\": \"function\", \"function\": {\"name\": ...}}");
    } else {
        json_t *name = json_object_get(json_object_get(tc, "function"), "name");
        json_t *type = json_object_get(tc, "type");
        if (!json_is_object(tc) || !json_is_string(type) ||
            strcmp(json_string_value(type), "function") != 0 || !json_is_string(name))
            return BAD("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                                      "{\"type\": \"function\", \"function\": {\"name\": ...}}");
        if (!has_tool(t->tools, json_string_value(name)))
            return BAD("tool_choice", "'tool_choice' names the function '%.64s', which is not "
                                      "in 'tools'", json_string_value(name));
        t->choice = OAI_TOOLS_NAMED;
        if (!(t->tool_name = strdup(json_string_value(name))))
            return api_fail(err, 500, NULL, NULL, "out of memory parsing the request");
    }
    if (t->choice == OAI_TOOLS_REQUIRED && !any_tools)
        return BAD("tool_choice", "'tool_choice' \"required\" needs a non-empty 'tools'");
    return 0;
}

/* content as vLLM hands it to templates: a string, "" for null, text parts joined by
 * "\n" (the request parser has checked that a list holds text parts only). */
static int content_string(json_t *m)
{
    json_t *c = json_object_get(m, "content");
    if (json_is_string(c))
        return 0;
    tok_bytes joined = {0};
    size_t k;
    json_t *part;
    int rc = tok_bytes_append(&joined, "", 0);
    json_array_foreach(c, k, part) {
        json_t *text = json_object_get(part, "text");
        if ((k && tok_bytes_append(&joined, "\n", 1)) ||
            tok_bytes_append(&joined, json_string_value(text), json_string_length(text)))
            rc = -1;
    }
    if (!rc)
        rc = json_object_set_new(m, "content", json_stringn(joined.p, joined.n));
    tok_bytes_free(&joined);
    return rc;
}

/* A copy of the messages as vLLM hands them to templates: string contents, and each
 * assistant tool call's arguments as an object (templates write them with tojson). */
static json_t *template_messages(json_t *messages)
{
    json_t *copy = json_deep_copy(messages);
    size_t i, k;
    json_t *m, *call;
    json_array_foreach(copy, i, m) {
        if (content_string(m)) {
            json_decref(copy);
            return NULL;
        }
        json_array_foreach(json_object_get(m, "tool_calls"), k, call) {
            json_t *fn = json_object_get(call, "function");
            json_t *args = json_object_get(fn, "arguments");
            if (!json_is_string(args))
                continue;
            json_t *parsed = json_loads(json_string_value(args), 0, NULL);
            if (json_is_object(parsed))
                json_object_set(fn, "arguments", parsed);
            json_decref(parsed);
        }
    }
    return copy;
}

static bool has_tool_turns(json_t *messages)
{
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (present(m, "tool_calls") || (role && !strcmp(role, "tool")))
            return true;
    }
    return false;
}

int oai_tools_parse(json_t *root, tool_format format, bool structured, oai_tools *t,
                    char **gbnf, api_error *err)
{
    memset(t, 0, sizeof *t);
    t->format = format;
    t->parallel = true;
    if (present(root, "functions") || present(root, "function_call"))
        return BAD(present(root, "functions") ? "functions" : "function_call",
                   "'functions' and 'function_call' are deprecated and not supported: use "
                   "'tools' and 'tool_choice'");
    json_t *tools = json_object_get(root, "tools");
    if (tools && !json_is_null(tools)) {
        if (check_tools(tools, err))
            return -1;
        t->tools = json_incref(tools);
    }
    json_t *par = json_object_get(root, "parallel_tool_calls");
    if (par && !json_is_null(par)) {
        if (!json_is_boolean(par))
            return BAD("parallel_tool_calls", "'parallel_tool_calls' must be a boolean");
        t->parallel = json_is_true(par);
    }
    if (parse_choice(root, t, err))
        return -1;
    json_t *messages = json_object_get(root, "messages");
    if (json_array_size(t->tools) > 0 || has_tool_turns(messages)) {
        if (!(t->messages = template_messages(messages)))
            return api_fail(err, 500, NULL, NULL, "out of memory parsing the request");
    }
    if (t->choice != OAI_TOOLS_REQUIRED && t->choice != OAI_TOOLS_NAMED)
        return 0;
    if (structured)
        return BAD("tool_choice", "'tool_choice' forces a tool call, which a response_format "
                                  "or guided decoding field cannot constrain as well; give one");
    grammar_error gerr;
    if (tool_grammar_build(format, t->tools, t->tool_name, t->parallel, gbnf, &gerr))
        return BAD("tools", "the tools' parameters cannot be enforced: %s", gerr.msg);
    grammar *g;
    if (grammar_parse(*gbnf, strlen(*gbnf), &g, &gerr)) {
        free(*gbnf);
        *gbnf = NULL;
        return BAD("tools", "the tools' parameters cannot be enforced: %s", gerr.msg);
    }
    grammar_free(g);
    return 0;
}

void oai_tools_free(oai_tools *t)
{
    json_decref(t->tools);
    json_decref(t->messages);
    free(t->tool_name);
    memset(t, 0, sizeof *t);
}
