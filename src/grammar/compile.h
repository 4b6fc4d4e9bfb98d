/* Compilers of the structured-output requests to GBNF text for grammar_parse: JSON Schema
 * (response_format json_schema, guided_json), any JSON object (json_object), a regular
 * expression (guided_regex) and a list of choices (guided_choice). The text is the
 * caller's to free. An unsupported or unsatisfiable construct is an error naming it. */
#ifndef KVSPILL_GRAMMAR_COMPILE_H
#define KVSPILL_GRAMMAR_COMPILE_H

#include <jansson.h>
#include <stddef.h>

#include "grammar/grammar.h"

/* JSON Schema: type (one or a list), properties (in their order; required ones always,
 * the others optional; no other member unless additionalProperties, which defaults to
 * false when properties are given, as vLLM's xgrammar has it), additionalProperties
 * (false, true or a schema, when no properties are given), items, minItems, maxItems,
 * enum, const, anyOf, oneOf, $ref to "#", "#/$defs/..." or "#/definitions/..." (recursion
 * allowed), pattern (regex_grammar.c's subset), minLength, maxLength; annotations (title,
 * description, default, examples, $schema, $id, $comment, ...) are ignored. White space
 * between tokens is bounded: one space or tab, or a newline and up to 20 of them, so a
 * model cannot emit white space forever. Numbers have at most 16 integer and 15 fraction
 * digits. */
int grammar_from_json_schema(const json_t *schema, char **gbnf,
                             grammar_error *err) GRAMMAR_MUST_CHECK;
/* Any JSON object ({"type":"json_object"}). */
int grammar_for_json_object(char **gbnf, grammar_error *err) GRAMMAR_MUST_CHECK;
/* The whole output matches re (^ and $ at the ends are allowed and change nothing). */
int grammar_from_regex(const char *re, size_t len, char **gbnf,
                       grammar_error *err) GRAMMAR_MUST_CHECK;
/* The output is exactly one of the choices. */
int grammar_from_choices(const char *const *choices, const size_t *lens, size_t n, char **gbnf,
                         grammar_error *err) GRAMMAR_MUST_CHECK;

#endif
