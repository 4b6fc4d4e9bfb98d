/* The grammar of tool_choice "required" and of a named function: one call (or several when
 * parallel) in the reply format of the model, with each call's name one of the tools' (or
 * the named one) and its arguments valid against that tool's parameters schema, so that a
 * constrained reply always parses (tool_parse.h with forced set).
 *
 *   hermes       <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>, joined by \n
 *   mistral      [{"name": ..., "arguments": {...}}, ...] (the [TOOL_CALLS] control token
 *                cannot be generated under a grammar: the parser does not ask for it)
 *   llama3_json  {"name": ..., "parameters": {...}}, joined by "; "
 *
 * Parallel calls are at most TOOL_GRAMMAR_MAX_CALLS, so that a model that keeps choosing
 * another call still ends its reply before max_tokens cuts a call in half. */
#ifndef KVSPILL_SERVER_TOOL_GRAMMAR_H
#define KVSPILL_SERVER_TOOL_GRAMMAR_H

#include <jansson.h>
#include <stdbool.h>

#include "grammar/grammar.h"
#include "server/tool_parse.h"

#define TOOL_GRAMMAR_MAX_CALLS 4

/* tools: the request's validated tools array; name: the named function, or NULL for any
 * of them. *gbnf is malloc'd. An unsupported parameters schema is an error naming it. */
int tool_grammar_build(tool_format f, const json_t *tools, const char *name, bool parallel,
                       char **gbnf, grammar_error *err);

#endif
