/* The tool-calling fields of a chat request: tools, tool_choice ("none", "auto",
 * "required" or {"type": "function", "function": {"name": ...}}) and parallel_tool_calls,
 * validated; the messages kept as JSON when the template must see tools, assistant
 * tool_calls or tool results; and for "required" or a named function the grammar that
 * makes the reply a valid call (tool_grammar.h). The legacy functions / function_call
 * fields are refused. */
#ifndef KVSPILL_SERVER_TOOL_CALLS_H
#define KVSPILL_SERVER_TOOL_CALLS_H

#include <jansson.h>

#include "server/api_error.h"
#include "server/tool_parse.h"

typedef enum oai_tool_choice {
    OAI_TOOLS_NONE,      /* no tools, or "none": the reply is text */
    OAI_TOOLS_AUTO,      /* free decoding, calls parsed when the reply holds them */
    OAI_TOOLS_REQUIRED,  /* at least one call, grammar-enforced */
    OAI_TOOLS_NAMED,     /* a call of tool_name, grammar-enforced */
} oai_tool_choice;

typedef struct oai_tools {
    json_t *tools;          /* the tools array, NULL when none */
    json_t *messages;       /* the messages for the template (arguments given as JSON text
                             * parsed to objects, as vLLM passes them), NULL when the
                             * request has no tools and no tool turns */
    oai_tool_choice choice;
    char *tool_name;        /* OAI_TOOLS_NAMED */
    bool parallel;
    tool_format format;     /* how the reply is parsed and constrained */
} oai_tools;

/* Reads root's fields into t (freed with oai_tools_free even on failure); *gbnf gets the
 * grammar of a forced call, or stays NULL. structured: another field already constrains
 * the output (a forced call and a schema cannot both hold). */
int oai_tools_parse(json_t *root, tool_format format, bool structured, oai_tools *t,
                    char **gbnf, api_error *err);
void oai_tools_free(oai_tools *t);

#endif
