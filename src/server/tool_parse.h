/* Tool calls in a model's reply, as vLLM's --tool-call-parser reads them: three formats,
 *
 *   hermes       <tool_call>{"name": ..., "arguments": {...}}</tool_call>, one or more
 *                (Hermes, Qwen 2.5 / 3); content is the text before the first call
 *   mistral      [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...], or v11's
 *                [TOOL_CALLS]name[ARGS]{...} (repeated); content is the text before it
 *   llama3_json  {"name": ..., "parameters": {...}} as the whole reply, after an optional
 *                <|python_tag|>, several separated by ';'; no content
 *
 * A reply that does not hold well-formed calls in the format is content, whole: a parser
 * never fails on what a model writes. */
#ifndef KVSPILL_SERVER_TOOL_PARSE_H
#define KVSPILL_SERVER_TOOL_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum tool_format { TOOL_HERMES, TOOL_MISTRAL, TOOL_LLAMA3_JSON } tool_format;

/* "hermes", "mistral", "llama3_json" (vLLM's parser names); -1 for another. */
int tool_format_parse(const char *name, tool_format *out);
const char *tool_format_name(tool_format f);
/* The format a model's chat template writes calls in (vLLM needs the flag; kvspill guesses
 * when none is given): Mistral's markers, Llama 3's, else Hermes (the ChatML models').
 * tmpl may be NULL; has_tool_calls_token: the vocabulary holds [TOOL_CALLS]. */
tool_format tool_format_detect(const char *tmpl, bool has_tool_calls_token);

typedef struct tool_parse_result {
    json_t *calls;  /* [{"id", "type": "function", "function": {"name", "arguments"}}] with
                     * arguments as JSON text; empty when the reply holds none */
    char *content;  /* the text outside the calls (malloc'd, NUL-terminated, and it may
                     * hold NULs of its own), NULL when there is none */
    size_t content_len;
} tool_parse_result;

/* Reads text (not NUL-terminated). forced: the output was constrained to calls by the
 * grammar (tool_grammar.h), so Mistral's [TOOL_CALLS], a control token no grammar can
 * emit, is not expected. -1 only when out of memory; free out with tool_parse_result_free. */
int tool_parse(tool_format f, const char *text, size_t len, bool forced, tool_parse_result *out);
void tool_parse_result_free(tool_parse_result *r);

#endif
