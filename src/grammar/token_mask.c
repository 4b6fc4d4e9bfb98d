/* The vocabulary's trie and the token mask. The trie is laid out in preorder: node i holds
 * its byte, its depth and the index after its subtree, so a walk that finds a byte refused
 * jumps over every token that starts with it. Walking it through the matcher's memoized
 * steps visits each (state, byte) once; the mask of a state seen before is a copy. */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar_matcher_internal.h"

struct token_trie {
    uint32_t n_tokens, n_nodes, max_depth;
    uint8_t *byte;
    uint32_t *depth, *skip; /* skip: the first node after the subtree */
    uint32_t *tok_off, *tok_n;
    uint32_t *toks;         /* token ids, by node */
};

typedef struct tok_ref {
    const char *p;
    size_t len;
    uint32_t id;
} tok_ref;

static int by_bytes(const void *a, const void *b)
{
    const tok_ref *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

void token_trie_free(token_trie *t)
{
    if (!t)
        return;
    free(t->byte);
    free(t->depth);
    free(t->skip);
    free(t->tok_off);
    free(t->tok_n);
    free(t->toks);
    free(t);
}

uint32_t token_trie_n_tokens(const token_trie *t) { return t->n_tokens; }

int token_trie_build(const char *const *bytes, const size_t *lens, uint32_t n_tokens,
                     token_trie **out, grammar_error *err)
{
    *out = NULL;
    size_t total = 0, max_len = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < n_tokens; i++) {
        total += lens[i];
        max_len = lens[i] > max_len ? lens[i] : max_len;
    }
    token_trie *t = calloc(1, sizeof *t);
    tok_ref *order = malloc((n_tokens + 1) * sizeof *order);
    uint32_t *path = malloc((max_len + 1) * sizeof *path);
    if (t) {
        t->byte = malloc(total + 1);
        t->depth = malloc((total + 1) * sizeof *t->depth);
        t->skip = malloc((total + 1) * sizeof *t->skip);
        t->tok_off = calloc(total + 1, sizeof *t->tok_off);
        t->tok_n = calloc(total + 1, sizeof *t->tok_n);
        t->toks = malloc((n_tokens + 1) * sizeof *t->toks);
    }
    if (!t || !order || !path || !t->byte || !t->depth || !t->skip || !t->tok_off ||
        !t->tok_n || !t->toks) {
        free(order);
        free(path);
        token_trie_free(t);
        return grammar_fail(err, "grammar: out of memory building the token trie");
    }
    for (uint32_t i = 0; i < n_tokens; i++)
        if (lens[i])
            order[n++] = (tok_ref){bytes[i], lens[i], i};
    qsort(order, n, sizeof *order, by_bytes);
    /* Sorted, a token shares its longest prefix with the previous one: pop the path to
     * it, then add a node per remaining byte. */
    size_t depth = 0;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t id = order[k].id;
        const char *b = order[k].p;
        size_t len = order[k].len, lcp = 0;
        while (prev && lcp < len && lcp < prev_len && b[lcp] == prev[lcp])
            lcp++;
        if (lcp > depth)
            lcp = depth;
        while (depth > lcp)
            t->skip[path[--depth]] = t->n_nodes;
        while (depth < len) {
            uint32_t v = t->n_nodes++;
            t->byte[v] = (uint8_t)b[depth];
            t->depth[v] = (uint32_t)depth + 1;
            path[depth++] = v;
        }
        uint32_t v = path[len - 1];
        if (t->tok_n[v] == 0)
            t->tok_off[v] = k;
        t->tok_n[v]++;
        t->toks[k] = id;
        prev = b;
        prev_len = len;
    }
    while (depth > 0)
        t->skip[path[--depth]] = t->n_nodes;
    t->n_tokens = n_tokens;
    t->max_depth = (uint32_t)max_len;
    free(order);
    free(path);
    *out = t;
    return 0;
}

static size_t mask_words(const token_trie *t) { return (t->n_tokens + 63) / 64; }

int grammar_matcher_mask(grammar_matcher *m, const token_trie *t, uint64_t *allowed,
                         grammar_error *err)
{
    size_t words = mask_words(t);
    for (size_t i = 0; i < GM_MASK_CACHE; i++)
        if (m->masks[i].trie == t && m->masks[i].set == m->cur) {
            memcpy(allowed, m->masks[i].bits, words * sizeof *allowed);
            return 0;
        }
    m->err = err;
    memset(allowed, 0, words * sizeof *allowed);
    uint32_t *at = malloc((t->max_depth + 1) * sizeof *at);
    if (!at)
        return grammar_fail(err, "grammar: out of memory for the token mask");
    at[0] = m->cur;
    for (uint32_t i = 0; i < t->n_nodes;) {
        uint32_t s;
        if (gm_step(m, at[t->depth[i] - 1], t->byte[i], &s)) {
            free(at);
            return -1;
        }
        if (s == 0) {
            i = t->skip[i];
            continue;
        }
        at[t->depth[i]] = s;
        for (uint32_t k = 0; k < t->tok_n[i]; k++) {
            uint32_t id = t->toks[t->tok_off[i] + k];
            allowed[id >> 6] |= 1ull << (id & 63);
        }
        i++;
    }
    free(at);
    gm_mask *slot = &m->masks[m->next_mask];
    m->next_mask = (m->next_mask + 1) % GM_MASK_CACHE;
    if (!slot->bits || slot->trie != t) {
        free(slot->bits);
        slot->bits = malloc(words * sizeof *slot->bits);
    }
    if (slot->bits) { /* without the copy the mask is still right, only not cached */
        memcpy(slot->bits, allowed, words * sizeof *allowed);
        slot->trie = t;
        slot->set = m->cur;
    } else {
        slot->trie = NULL;
    }
    return 0;
}
