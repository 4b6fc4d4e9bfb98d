/* What the parser, the matcher and the mask share: a grammar as flat rules of elements,
 * in the manner of llama.cpp's llama_grammar_element. A rule is its alternatives, each a
 * sequence of elements, separated by GE_ALT and ended by GE_END; GE_BYTES matches one byte
 * of a 256-bit set, GE_REF expands another rule. A position (an index into el) always
 * points at a GE_BYTES or GE_REF element to match next. */
#ifndef KVSPILL_GRAMMAR_INTERNAL_H
#define KVSPILL_GRAMMAR_INTERNAL_H

#include <stdint.h>

#include "grammar/grammar.h"

enum { GE_END, GE_ALT, GE_REF, GE_BYTES };

typedef struct gelem {
    uint32_t type;
    uint32_t value; /* GE_REF: rule id; GE_BYTES: index into sets */
} gelem;

typedef struct byteset {
    uint64_t w[4];
} byteset;

struct grammar {
    gelem *el;
    size_t n_el;
    uint32_t *rule_start; /* first element of each rule */
    size_t n_rules;
    byteset *sets;
    size_t n_sets;
    uint32_t root;
};

static inline int byteset_has(const byteset *s, uint8_t b)
{
    return (int)((s->w[b >> 6] >> (b & 63)) & 1);
}

static inline int gelem_ends_seq(const gelem *e)
{
    return e->type == GE_END || e->type == GE_ALT;
}

#endif
