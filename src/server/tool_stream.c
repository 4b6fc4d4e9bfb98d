/* Streaming around tool calls (tool_stream.h). */
#include "server/tool_stream.h"

#include <string.h>

#include "server/tool_parse_internal.h"

void tool_stream_init(tool_stream *ts, tool_format f, bool forced)
{
    memset(ts, 0, sizeof *ts);
    ts->format = f;
    ts->forced = forced;
}

void tool_stream_free(tool_stream *ts)
{
    tok_bytes_free(&ts->text);
}

/* Where text may hold the start of marker: its first occurrence, or the start of the
 * longest tail that is a prefix of it. */
static size_t marker_start(const char *text, size_t len, const char *marker)
{
    size_t at = tool_find(text, len, marker), m = strlen(marker);
    if (at < len)
        return at;
    for (size_t k = m - 1; k > 0; k--)
        if (k <= len && !memcmp(text + len - k, marker, k))
            return len - k;
    return len;
}

/* The bytes of text that cannot be part of a call. */
static size_t safe_prefix(const tool_stream *ts, const char *text, size_t len)
{
    if (ts->forced)
        return 0;
    if (ts->format == TOOL_HERMES)
        return marker_start(text, len, TOOL_HERMES_OPEN);
    if (ts->format == TOOL_MISTRAL)
        return marker_start(text, len, TOOL_MISTRAL_MARK);
    /* Llama 3: calls are the whole reply, so the reply's first characters decide. */
    static const char tag[] = TOOL_LLAMA3_TAG;
    size_t p = tool_skip_space(text, len, 0);
    size_t rest = len - p, cmp = rest < sizeof tag - 1 ? rest : sizeof tag - 1;
    if (p == len || text[p] == '{' || !memcmp(text + p, tag, cmp))
        return 0;
    return len;
}

int tool_stream_push(tool_stream *ts, const char *p, size_t n, const char **send, size_t *send_n)
{
    *send = "";
    *send_n = 0;
    if (tok_bytes_append(&ts->text, p, n) || tok_bytes_append(&ts->text, "", 0))
        return -1;
    if (ts->held)
        return 0;
    size_t safe = safe_prefix(ts, ts->text.p, ts->text.n);
    /* Llama 3 decides at once: text that can open a call holds the rest for good. */
    if (safe < ts->text.n && (ts->format == TOOL_LLAMA3_JSON || ts->forced ||
                              tool_find(ts->text.p + safe, ts->text.n - safe,
                                        ts->format == TOOL_HERMES ? TOOL_HERMES_OPEN
                                                                  : TOOL_MISTRAL_MARK) == 0))
        ts->held = true;
    /* White space alone is no content (tool_parse says so too): it waits for more text,
     * else a reply of calls would stream a content the whole reply does not have. */
    if (safe > ts->sent && (ts->sent > 0 || tool_skip_space(ts->text.p, safe, 0) < safe)) {
        *send = ts->text.p + ts->sent;
        *send_n = safe - ts->sent;
        ts->sent = safe;
    }
    return 0;
}

int tool_stream_finish(tool_stream *ts, tool_parse_result *res, const char **rest, size_t *rest_n)
{
    *rest = NULL;
    *rest_n = 0;
    if (tool_parse(ts->format, ts->text.p ? ts->text.p : "", ts->text.n, ts->forced, res))
        return -1;
    if (json_array_size(res->calls) == 0) {
        if (!ts->text.p) /* no text at all (held back or not): nothing is left to send */
            return 0;
        *rest = ts->text.p + ts->sent;
        *rest_n = ts->text.n - ts->sent;
    } else if (res->content && res->content_len > ts->sent &&
               !memcmp(res->content, ts->text.p, ts->sent)) {
        *rest = res->content + ts->sent;
        *rest_n = res->content_len - ts->sent;
    }
    return 0;
}
