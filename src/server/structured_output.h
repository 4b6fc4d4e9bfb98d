/* The structured-output fields of a completion request, compiled to a GBNF grammar that
 * the engine enforces: response_format {"type": "json_object"} and {"type": "json_schema",
 * "json_schema": {"name", "schema", "strict"}}, vLLM's guided_json, guided_regex,
 * guided_choice and guided_grammar, and structured_outputs {"json" | "regex" | "choice" |
 * "grammar"}. At most one may be given. A schema, pattern or grammar that kvspill cannot
 * enforce is a 400 naming the construct. */
#ifndef KVSPILL_SERVER_STRUCTURED_OUTPUT_H
#define KVSPILL_SERVER_STRUCTURED_OUTPUT_H

#include <jansson.h>

#include "server/api_error.h"

/* *gbnf: the grammar (malloc'd), or NULL when the request asks for free text. */
int structured_output_parse(json_t *root, char **gbnf, api_error *err);

#endif
