/* The regex compiler's entry for the JSON Schema compiler (a string's `pattern`). */
#ifndef KVSPILL_GRAMMAR_REGEX_INTERNAL_H
#define KVSPILL_GRAMMAR_REGEX_INTERNAL_H

#include "grammar/gbnf_text.h"
#include "grammar/grammar.h"

/* Writes a GBNF expression matching re. json_mode: the characters as written inside a JSON
 * string (quote, backslash and controls escaped). anchored: the whole text must match;
 * otherwise, as JSON Schema's `pattern` (a search), text may come before unless re starts
 * with ^ and after unless it ends with $. */
int regex_emit(gbnf_buf *out, const char *re, size_t len, int json_mode, int anchored,
               grammar_error *err) GRAMMAR_MUST_CHECK;

#endif
