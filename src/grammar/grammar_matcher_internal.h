/* The matcher's state, shared by the matcher (grammar_matcher.c) and the token mask
 * (token_mask.c), which walks the vocabulary's trie through gm_step. */
#ifndef KVSPILL_GRAMMAR_MATCHER_INTERNAL_H
#define KVSPILL_GRAMMAR_MATCHER_INTERNAL_H

#include "grammar/grammar_internal.h"

#define GM_MASK_CACHE 64 /* token masks kept per matcher, by state */

typedef struct snode {
    uint32_t pos;    /* element to match next */
    uint32_t parent; /* the stack below; 0 = the empty stack */
} snode;

typedef struct sstate {
    uint32_t off, n; /* stacks: pool[off..off+n), sorted node ids */
    uint64_t hash;
    uint32_t *next;  /* the state after each byte (UINT32_MAX: not yet computed), or NULL */
} sstate;

typedef struct gm_mask {
    const void *trie; /* the trie the mask was made for; NULL = unused slot */
    uint32_t set;
    uint64_t *bits;
} gm_mask;

struct grammar_matcher {
    const grammar *g;
    grammar_error *err;          /* where the call in progress reports */
    snode *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *node_tab;
    size_t node_cap;
    sstate *sets;
    size_t n_sets, cap_sets;
    uint32_t *set_tab;
    size_t set_cap;
    uint32_t *pool;
    size_t n_pool, cap_pool;
    uint32_t *scratch;
    size_t n_scratch, cap_scratch, n_expand;
    uint32_t cur;                /* the state after the bytes accepted so far */
    gm_mask masks[GM_MASK_CACHE];
    size_t next_mask;            /* round-robin eviction */
};

/* The state after `byte` from state `set` (0: dead), memoized in the state's table. */
int gm_step(grammar_matcher *m, uint32_t set, uint8_t byte, uint32_t *out);

#endif
