/* Constrained decoding (ARCHITECTURE.md §8): the vocabulary's bytes as a token trie, made
 * once per engine by the first request with a grammar, and the per-sequence steps: mask
 * the logits to the tokens the grammar allows, then feed it the sampled token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "model/tokenizer.h"

static int build(engine *e, engine_error *err)
{
    uint32_t n = e->n_vocab;
    e->tok_bytes = calloc(n, sizeof *e->tok_bytes);
    e->tok_lens = calloc(n, sizeof *e->tok_lens);
    e->eog = malloc(n * sizeof *e->eog);
    if (!e->tok_bytes || !e->tok_lens || !e->eog)
        return engine_fail(err, "grammar: out of memory for the vocabulary's bytes");
    for (uint32_t i = 0; i < n; i++) {
        if (tokenizer_is_eog(e->tk, (int32_t)i))
            e->eog[e->n_eog++] = (int32_t)i;
        /* As the output shows them: control tokens have no bytes, so no grammar allows them. */
        tok_bytes piece = {0};
        if (tokenizer_append_piece(e->tk, (int32_t)i, false, &piece)) {
            tok_bytes_free(&piece);
            return engine_fail(err, "grammar: out of memory for the bytes of token %u", i);
        }
        e->tok_bytes[i] = piece.p;
        e->tok_lens[i] = piece.n;
    }
    grammar_error gerr;
    if (token_trie_build((const char *const *)e->tok_bytes, e->tok_lens, n, &e->trie, &gerr))
        return engine_fail(err, "%s", gerr.msg);
    return 0;
}

void engine_token_trie_free(engine *e)
{
    token_trie_free(e->trie);
    for (uint32_t i = 0; e->tok_bytes && i < e->n_vocab; i++)
        free(e->tok_bytes[i]);
    free(e->tok_bytes);
    free(e->tok_lens);
    free(e->eog);
    e->trie = NULL;
    e->tok_bytes = NULL;
    e->tok_lens = NULL;
    e->eog = NULL;
    e->n_eog = 0;
}

int engine_token_trie(engine *e, engine_error *err)
{
    pthread_mutex_lock(&e->trie_mu);
    int rc = 0;
    if (!e->trie && (rc = build(e, err)) != 0)
        engine_token_trie_free(e);
    pthread_mutex_unlock(&e->trie_mu);
    return rc;
}

int engine_grammar_mask(engine *e, eng_seq *s, float *logits, engine_error *err)
{
    grammar_error gerr;
    if (grammar_matcher_mask(s->gm, e->trie, s->gmask, &gerr))
        return engine_fail(err, "%s", gerr.msg);
    /* End of generation is the grammar's to allow, whatever the token's bytes: only once
     * the output is complete. */
    bool complete = grammar_matcher_complete(s->gm), any = false;
    for (size_t k = 0; k < e->n_eog; k++) {
        uint32_t id = (uint32_t)e->eog[k];
        if (complete)
            s->gmask[id >> 6] |= 1ull << (id & 63);
        else
            s->gmask[id >> 6] &= ~(1ull << (id & 63));
    }
    uint32_t words = (e->n_vocab + 63) / 64;
    if (e->n_vocab % 64) /* the bits past the vocabulary are clear: do not visit them */
        s->gmask[words - 1] |= ~0ull << (e->n_vocab % 64);
    for (uint32_t w = 0; w < words; w++) {
        uint64_t refused = ~s->gmask[w];
        any |= refused != UINT64_MAX;
        for (; refused; refused &= refused - 1)
            logits[w * 64 + (uint32_t)__builtin_ctzll(refused)] = -INFINITY;
    }
    if (!any)
        return engine_fail(err, "grammar: no token of the vocabulary continues the output here");
    return 0;
}

int engine_grammar_accept(engine *e, eng_seq *s, int32_t token, bool *done, engine_error *err)
{
    grammar_error gerr;
    int rc = grammar_matcher_accept(s->gm, e->tok_bytes[token], e->tok_lens[token], &gerr);
    if (rc < 0)
        return engine_fail(err, "%s", gerr.msg);
    if (rc > 0)
        return engine_fail(err, "grammar: token %d does not continue the output", token);
    *done = !grammar_matcher_can_continue(s->gm);
    return 0;
}
