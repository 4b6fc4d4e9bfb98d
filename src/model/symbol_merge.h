/* The merge loop shared by the SPM and BPE encoders: text starts as a list of symbols
 * (characters); the best adjacent pair is merged repeatedly until no pair qualifies.
 * "Best" is the highest key (SPM: the merged token's score; BPE: minus the merge rank),
 * ties going to the leftmost pair. */
#ifndef KVSPILL_MODEL_SYMBOL_MERGE_H
#define KVSPILL_MODEL_SYMBOL_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct symbol {
    int32_t prev, next; /* -1 at the ends */
    size_t off, n;      /* bytes of text; n == 0 once merged into its left neighbour */
} symbol;

/* Whether text[off, off + n_left + n_right) may be made by merging, and its key. */
typedef bool (*merge_key_fn)(const void *ctx, const char *text, size_t off, size_t n_left,
                             size_t n_right, double *key);

/* Splits text into symbols of UTF-8 characters; each byte of an invalid sequence is a
 * symbol of its own (llama.cpp takes the length a lead byte announces, which on invalid
 * input can swallow the first bytes of the next character and break round trips; the two
 * agree on valid UTF-8). *syms is malloc'd. */
int symbols_from_text(const char *text, size_t len, symbol **syms, size_t *n);
/* Merges in place; -1 when out of memory. */
int symbols_merge(const char *text, symbol *syms, size_t n, merge_key_fn key_of, const void *ctx);

#endif
