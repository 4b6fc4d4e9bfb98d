/* A streamed reply that may hold tool calls: content goes out as it comes until a call
 * may have begun (the format's marker, or a prefix of it at the end of the text so far);
 * from there the text waits for the end, where it is parsed whole and the calls go out as
 * delta.tool_calls. A forced call (tool_choice "required" or named) holds everything. */
#ifndef KVSPILL_SERVER_TOOL_STREAM_H
#define KVSPILL_SERVER_TOOL_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "model/tokenizer.h"
#include "server/tool_parse.h"

typedef struct tool_stream {
    tool_format format;
    bool forced;
    tok_bytes text;   /* the reply's text so far */
    size_t sent;      /* bytes of it sent as content */
    bool held;        /* a call may have begun: nothing more is sent before the end */
} tool_stream;

void tool_stream_init(tool_stream *ts, tool_format f, bool forced);
void tool_stream_free(tool_stream *ts);
/* Adds text; *send / *send_n: the part that may go out as content now (marked sent). -1
 * when out of memory. */
int tool_stream_push(tool_stream *ts, const char *p, size_t n, const char **send, size_t *send_n);
/* The end: parses the text into res (tool_parse_result_free), and *rest / *rest_n is the
 * content not sent yet. -1 when out of memory. */
int tool_stream_finish(tool_stream *ts, tool_parse_result *res, const char **rest, size_t *rest_n);

#endif
