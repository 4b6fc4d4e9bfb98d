/* libFuzzer harness: arbitrary bytes as a chat template, parsed and rendered by the Jinja
 * interpreter against a conversation with tools, under small limits. Parsing and rendering
 * either succeed or fail with a message naming a line; never a crash, a leak, an unbounded
 * loop or recursion, or output beyond the limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/jinja.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_json[] =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"Be brief.\"},"
    "{\"role\": \"user\", \"content\": \"Weather in Paris? caf\\u00e9 \\ud83d\\ude00\"},"
    "{\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"abc123XYZ\", \"type\": \"function\","
    " \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}}]},"
    "{\"role\": \"tool\", \"tool_call_id\": \"abc123XYZ\", \"content\": \"21.5\"},"
    "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"Thanks\"}]}],"
    " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather\","
    " \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"},"
    " \"days\": {\"type\": \"integer\", \"minimum\": 0}}, \"required\": [\"city\"]}}}],"
    " \"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"ratio\": 0.25}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *ctx;
    if (!ctx && !(ctx = json_loads(context_json, 0, NULL)))
        abort();
    jinja_error err;
    jinja_template *t = jinja_parse((const char *)data, size, &err);
    if (!t) {
        if (!err.msg[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    jinja_limits lim = jinja_default_limits();
    lim.max_output = 1 << 20;
    lim.max_memory = 32 << 20;
    lim.max_steps = 200000;
    lim.max_depth = 16;
    char *out;
    size_t len;
    if (jinja_render(t, ctx, &lim, 0, &out, &len, &err) == 0) {
        if (len > lim.max_output || out[len] != 0)
            abort();
        free(out);
    } else if (!err.msg[0]) {
        abort();
    }
    jinja_free(t);
    return 0;
}
