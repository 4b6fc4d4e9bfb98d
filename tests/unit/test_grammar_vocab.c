/* The token mask on vocabularies of real sizes (32000 and 151936 tokens of generated
 * BPE-like byte strings): a walk that draws each next token among those the mask allows
 * must have every drawn token accepted by the matcher and end in a complete JSON text
 * with the schema's members. Prints the time per step
 * (mask + applying it to a row of logits), for bench/RESULTS.md; nothing is asserted on it. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grammar/compile.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Byte tokens 0..255, then words, with or without a leading space, and punctuation runs. */
static void make_vocab(uint32_t n, char ***bytes, size_t **lens)
{
    static const char letters[] = "etaoinshrdlucmfwypvbgkqjxzETAOINSHRD0123456789";
    static const char punct[] = "{}[]\":, \n\t.-_'!?";
    *bytes = malloc(n * sizeof **bytes);
    *lens = malloc(n * sizeof **lens);
    assert_non_null(*bytes);
    assert_non_null(*lens);
    uint64_t s = 42;
    for (uint32_t i = 0; i < n; i++) {
        char buf[16];
        size_t len = 0;
        if (i < 256) {
            buf[len++] = (char)i;
        } else if (i % 11 == 0) {
            size_t k = 1 + rng_next(&s) % 4;
            while (len < k)
                buf[len++] = punct[rng_next(&s) % (sizeof punct - 1)];
        } else {
            if (rng_next(&s) % 2)
                buf[len++] = ' ';
            size_t k = 1 + rng_next(&s) % 9;
            while (len < k + 1 && len < sizeof buf)
                buf[len++] = letters[rng_next(&s) % (sizeof letters - 1)];
        }
        (*bytes)[i] = malloc(len);
        assert_non_null((*bytes)[i]);
        memcpy((*bytes)[i], buf, len);
        (*lens)[i] = len;
    }
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static const char schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"maxLength\":24},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"red\",\"green\",\"blue\"]},\"maxItems\":4},"
    "\"count\":{\"type\":\"integer\"},"
    "\"note\":{\"type\":\"string\"}},"
    "\"required\":[\"name\",\"tags\",\"count\",\"note\"]}";

static void walk(uint32_t n_vocab)
{
    char **bytes;
    size_t *lens;
    make_vocab(n_vocab, &bytes, &lens);
    grammar_error err;
    token_trie *t;
    double t0 = now_us();
    assert_int_equal(token_trie_build((const char *const *)bytes, lens, n_vocab, &t, &err), 0);
    double build_us = now_us() - t0;
    json_t *js = json_loads(schema, 0, NULL);
    char *gbnf;
    assert_int_equal(grammar_from_json_schema(js, &gbnf, &err), 0);
    json_decref(js);
    grammar *g;
    assert_int_equal(grammar_parse(gbnf, strlen(gbnf), &g, &err), 0);
    grammar_matcher *m;
    assert_int_equal(grammar_matcher_create(g, &m, &err), 0);
    size_t words = (n_vocab + 63) / 64;
    uint64_t *mask = malloc(words * sizeof *mask);
    float *logits = malloc(n_vocab * sizeof *logits);
    char *out = malloc(1 << 16);
    assert_non_null(mask);
    assert_non_null(logits);
    assert_non_null(out);
    size_t out_len = 0, steps = 0;
    double total = 0, worst = 0, apply = 0;
    uint64_t s = 7;
    /* Random draws in a free-text string could go on for long: after 120 steps, prefer
     * the token that closes it (the grammar's completion, not the walk, ends the text). */
    while (!grammar_matcher_complete(m) && steps < 400) {
        for (uint32_t i = 0; i < n_vocab; i++)
            logits[i] = 0.0f;
        double a = now_us();
        assert_int_equal(grammar_matcher_mask(m, t, mask, &err), 0);
        double b = now_us();
        /* As the engine does (engine_grammar.c): visit the refused tokens only. */
        if (n_vocab % 64)
            mask[words - 1] |= ~0ull << (n_vocab % 64);
        for (size_t w = 0; w < words; w++)
            for (uint64_t refused = ~mask[w]; refused; refused &= refused - 1)
                logits[w * 64 + (size_t)__builtin_ctzll(refused)] = -INFINITY;
        double dt = now_us() - a;
        apply += now_us() - b;
        total += dt;
        worst = dt > worst ? dt : worst;
        uint32_t pick = UINT32_MAX, start = (uint32_t)(rng_next(&s) % n_vocab);
        for (uint32_t k = 0; k < n_vocab && pick == UINT32_MAX; k++) {
            uint32_t i = (start + k) % n_vocab;
            if (logits[i] == 0.0f && (steps < 120 || memchr(bytes[i], '"', lens[i]) ||
                                      memchr(bytes[i], ']', lens[i]) || memchr(bytes[i], '}', lens[i]) ||
                                      k == n_vocab - 1))
                pick = i;
        }
        if (pick == UINT32_MAX) /* near the end: anything allowed */
            for (uint32_t i = 0; i < n_vocab && pick == UINT32_MAX; i++)
                if (logits[i] == 0.0f)
                    pick = i;
        assert_true(pick != UINT32_MAX);
        /* What the mask allows, the matcher accepts. */
        assert_int_equal(grammar_matcher_accept(m, bytes[pick], lens[pick], &err), 0);
        assert_true(out_len + lens[pick] < (1 << 16));
        memcpy(out + out_len, bytes[pick], lens[pick]);
        out_len += lens[pick];
        steps++;
    }
    assert_true(grammar_matcher_complete(m));
    json_error_t jerr;
    json_t *doc = json_loadb(out, out_len, 0, &jerr);
    if (!doc)
        fail_msg("output is not JSON (%s): %.*s", jerr.text, (int)out_len, out);
    assert_true(json_is_string(json_object_get(doc, "name")));
    assert_true(json_is_array(json_object_get(doc, "tags")));
    assert_true(json_is_integer(json_object_get(doc, "count")));
    json_decref(doc);
    printf("vocab %u tokens: trie built in %.1f ms; %zu steps, mask + logits %.1f us/step "
           "on average (%.1f of them applying the mask to the logits), %.1f us at most\n",
           n_vocab, build_us / 1000, steps, total / (double)steps, apply / (double)steps, worst);
    free(out);
    free(logits);
    free(mask);
    grammar_matcher_destroy(m);
    grammar_free(g);
    free(gbnf);
    token_trie_free(t);
    for (uint32_t i = 0; i < n_vocab; i++)
        free(bytes[i]);
    free(bytes);
    free(lens);
}

static void test_vocab_32000(void **state) { walk(32000); }
static void test_vocab_151936(void **state) { walk(151936); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_32000),
        cmocka_unit_test(test_vocab_151936),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
