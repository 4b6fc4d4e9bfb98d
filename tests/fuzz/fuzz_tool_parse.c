/* Fuzzes the tool-call parsers as the server runs them on a model's reply: the first byte
 * picks the format and whether the call was forced, the rest is the reply, parsed whole
 * (a non-streaming answer) and pushed through the stream holdback in pieces whose sizes
 * come from the input (a streaming one). Whatever a model writes, the parse must not
 * crash, every call must carry an id, a name and arguments that are a JSON object's text,
 * and the streamed content plus the calls must be what the whole parse gave. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/tool_parse.h"
#include "server/tool_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_calls(const json_t *calls)
{
    size_t i;
    json_t *call;
    json_array_foreach(calls, i, call) {
        json_t *fn = json_object_get(call, "function");
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        if (!json_is_string(json_object_get(call, "id")) ||
            !json_is_string(json_object_get(fn, "name")) || !args)
            abort();
        json_t *parsed = json_loads(args, 0, NULL);
        if (!json_is_object(parsed))
            abort();
        json_decref(parsed);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    tool_format f = (tool_format)(data[0] % 3);
    bool forced = data[0] & 4;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    tool_parse_result whole;
    if (tool_parse(f, text, len, forced, &whole))
        return 0;
    check_calls(whole.calls);

    tool_stream ts;
    tool_stream_init(&ts, f, forced);
    tok_bytes sent = {0};
    size_t step = 1 + data[0] / 8, pos = 0;
    while (pos < len) {
        size_t n = len - pos < step ? len - pos : step;
        const char *out;
        size_t out_n;
        if (tool_stream_push(&ts, text + pos, n, &out, &out_n) ||
            tok_bytes_append(&sent, out, out_n))
            abort();
        pos += n;
    }
    tool_parse_result streamed;
    const char *rest;
    size_t rest_n;
    if (tool_stream_finish(&ts, &streamed, &rest, &rest_n) || tok_bytes_append(&sent, rest, rest_n))
        abort();
    /* The same calls, and the content the whole parse gave (all of the text without calls). */
    if (json_array_size(streamed.calls) != json_array_size(whole.calls))
        abort();
    const char *want = json_array_size(whole.calls) ? (whole.content ? whole.content : "") : text;
    size_t want_n = json_array_size(whole.calls) ? whole.content_len : len;
    if (json_array_size(whole.calls) && (sent.n > want_n || (sent.n && memcmp(sent.p, want, sent.n))))
        abort();
    if (!json_array_size(whole.calls) && (sent.n != want_n || (want_n && memcmp(sent.p, want, want_n))))
        abort();
    tok_bytes_free(&sent);
    tool_parse_result_free(&streamed);
    tool_stream_free(&ts);
    tool_parse_result_free(&whole);
    return 0;
}
