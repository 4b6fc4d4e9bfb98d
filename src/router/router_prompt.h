/* The routing keys a request carries: its prompt text for prefix-aware routing. */
#ifndef KVSPILL_ROUTER_PROMPT_H
#define KVSPILL_ROUTER_PROMPT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/model_error.h"

/* The prompt's text, malloc'd: for chat, each message's role then content (text parts of
 * an array content in order), concatenated; for completions, the prompt string, the
 * first of a list of strings, or a token array written as "id," for each id. */
int router_prompt_text(const json_t *body, bool chat, char **text, size_t *len,
                       model_error *err) MODEL_MUST_CHECK;

#endif
