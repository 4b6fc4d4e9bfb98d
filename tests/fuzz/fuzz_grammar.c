/* libFuzzer harness: arbitrary bytes as a grammar request — the first byte picks GBNF, a
 * JSON schema or a regex, the rest is its text — compiled and parsed, then a matcher
 * follows a few JSON-like texts through it and masks a small vocabulary. Every step
 * either succeeds or fails with a message; never a crash, a leak or an unbounded loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/compile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const vocab[] = {"{", "}", "[", "]", "\"", ":", ",", " ", "\n", "a", "ab",
                                    "1", "-", ".", "e", "true", "null", "\\", "é", "\xC3", "\xA9",
                                    "x\"", "\":", "},", "0x", "yes"};

static void follow(const char *gbnf, size_t len)
{
    static token_trie *trie;
    grammar_error err;
    if (!trie) {
        size_t lens[sizeof vocab / sizeof vocab[0]];
        for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++)
            lens[i] = strlen(vocab[i]);
        if (token_trie_build(vocab, lens, sizeof vocab / sizeof vocab[0], &trie, &err))
            abort();
    }
    grammar *g;
    if (grammar_parse(gbnf, len, &g, &err)) {
        if (!err.msg[0])
            abort(); /* a refusal always says why */
        return;
    }
    grammar_matcher *m;
    if (grammar_matcher_create(g, &m, &err) == 0) {
        uint64_t mask[1];
        for (int step = 0; step < 12; step++) {
            if (grammar_matcher_mask(m, trie, mask, &err))
                break;
            if (!mask[0])
                break;
            /* The (step mod count)-th allowed token. */
            uint64_t bits = mask[0];
            for (int skip = step % __builtin_popcountll(bits); skip > 0; skip--)
                bits &= bits - 1;
            int pick = __builtin_ctzll(bits);
            int rc = grammar_matcher_accept(m, vocab[pick], strlen(vocab[pick]), &err);
            if (rc == 1)
                abort(); /* the mask allowed it */
            if (rc < 0)
                break;
        }
        grammar_matcher_destroy(m);
    }
    grammar_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    grammar_error err = {{0}};
    char *gbnf = NULL;
    int rc = 0;
    switch (data[0] % 3) {
    case 0:
        follow(text, len);
        return 0;
    case 1: {
        json_t *schema = json_loadb(text, len, JSON_DECODE_ANY, NULL);
        if (!schema)
            return 0;
        rc = grammar_from_json_schema(schema, &gbnf, &err);
        json_decref(schema);
        break;
    }
    default:
        rc = grammar_from_regex(text, len, &gbnf, &err);
    }
    if (rc) {
        if (!err.msg[0])
            abort();
        return 0;
    }
    follow(gbnf, strlen(gbnf));
    free(gbnf);
    return 0;
}
