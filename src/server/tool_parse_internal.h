/* The per-format readers behind tool_parse (tool_parse.h). Each appends {"name": string,
 * "arguments": value} objects to calls and sets *content_end to where the content before
 * the calls ends; returns 1 when text holds calls in its format, 0 when it does not (calls
 * may then hold partial entries, which the caller drops), -1 when out of memory. */
#ifndef KVSPILL_SERVER_TOOL_PARSE_INTERNAL_H
#define KVSPILL_SERVER_TOOL_PARSE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The texts that open calls in each format. */
#define TOOL_HERMES_OPEN "<tool_call>"
#define TOOL_HERMES_CLOSE "</tool_call>"
#define TOOL_MISTRAL_MARK "[TOOL_CALLS]"
#define TOOL_MISTRAL_ARGS "[ARGS]"
#define TOOL_LLAMA3_TAG "<|python_tag|>"

int tool_parse_hermes(const char *text, size_t len, json_t *calls, size_t *content_end);
int tool_parse_mistral(const char *text, size_t len, bool forced, json_t *calls,
                       size_t *content_end);
int tool_parse_llama3(const char *text, size_t len, json_t *calls, size_t *content_end);

/* The first position from pos on that is not white space (or len). */
size_t tool_skip_space(const char *text, size_t len, size_t pos);
/* Finds needle in text[0, len); returns its offset or len when absent. */
size_t tool_find(const char *text, size_t len, const char *needle);
/* Parses one JSON value from text[*pos, len) (white space around it skipped) and moves
 * *pos past it; NULL when none is there. */
json_t *tool_json_at(const char *text, size_t len, size_t *pos);
/* Appends {name, arguments} from obj, which holds the name and the arguments under
 * args_key (an object, or a string of JSON text holding one); 1 on success, 0 when obj is
 * not such a call, -1 when out of memory. */
int tool_call_append(json_t *calls, const json_t *obj, const char *args_key);

#endif
