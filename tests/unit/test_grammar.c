/* The GBNF parser and the matcher (grammar/grammar.h): what grammars accept byte by byte,
 * across chunk boundaries that split elements and UTF-8 characters, the parser's errors,
 * and the token mask against a brute-force check of every token. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"

/* 1: text is a whole sentence of the grammar; 0: a prefix of one; -1: rejected. */
static int match(const char *gbnf, const char *text, size_t chunk)
{
    grammar *g;
    grammar_error err;
    if (grammar_parse(gbnf, strlen(gbnf), &g, &err) != 0)
        fail_msg("parse '%s': %s", gbnf, err.msg);
    grammar_matcher *m;
    assert_int_equal(grammar_matcher_create(g, &m, &err), 0);
    int r = 0;
    size_t n = strlen(text);
    for (size_t i = 0; i < n && r == 0; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        int rc = grammar_matcher_accept(m, text + i, k, &err);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1)
            r = -1;
    }
    if (r == 0)
        r = grammar_matcher_complete(m) ? 1 : 0;
    grammar_matcher_destroy(m);
    grammar_free(g);
    return r;
}

/* The same answer for every way of cutting text into chunks of 1..4 bytes and whole. */
static int match_all_chunks(const char *gbnf, const char *text)
{
    int r = match(gbnf, text, strlen(text) ? strlen(text) : 1);
    for (size_t c = 1; c <= 4; c++)
        assert_int_equal(match(gbnf, text, c), r);
    return r;
}

static void test_literals_and_alternation(void **state)
{
    const char *g = "root ::= \"ab\" (\"c\" | \"de\") tail\ntail ::= \"!\" | \"\"\n";
    assert_int_equal(match_all_chunks(g, "abc"), 1);
    assert_int_equal(match_all_chunks(g, "abde!"), 1);
    assert_int_equal(match_all_chunks(g, "abd"), 0);
    assert_int_equal(match_all_chunks(g, "abx"), -1);
    assert_int_equal(match_all_chunks(g, "abc!!"), -1);
    assert_int_equal(match_all_chunks(g, ""), 0);
}

static void test_repetitions(void **state)
{
    const char *star = "root ::= \"a\"* \"b\"+ \"c\"?";
    assert_int_equal(match_all_chunks(star, "b"), 1);
    assert_int_equal(match_all_chunks(star, "aaabbbc"), 1);
    assert_int_equal(match_all_chunks(star, "aaac"), -1);
    assert_int_equal(match_all_chunks(star, "bcc"), -1);
    const char *counted = "root ::= [0-9]{2,4} \"-\" (\"ab\"){3} \"x\"{1,}";
    assert_int_equal(match_all_chunks(counted, "12-ababab"), 0);
    assert_int_equal(match_all_chunks(counted, "12-abababxx"), 1);
    assert_int_equal(match_all_chunks(counted, "1234-abababx"), 1);
    assert_int_equal(match_all_chunks(counted, "12345-"), -1);
    assert_int_equal(match_all_chunks(counted, "1-"), -1);
    assert_int_equal(match_all_chunks(counted, "12-abab-"), -1);
}

static void test_classes_and_utf8(void **state)
{
    const char *g = "root ::= [a-cx\\-]+ [^a-z\\n] .";
    assert_int_equal(match_all_chunks(g, "ab-xZé"), 1);
    assert_int_equal(match_all_chunks(g, "a\n"), -1);
    assert_int_equal(match_all_chunks(g, "ad"), -1);
    /* Negation and '.' take whole multi-byte characters: é (2 bytes), € (3), 😀 (4). */
    assert_int_equal(match_all_chunks(g, "aé€"), 1);
    assert_int_equal(match_all_chunks(g, "a😀😀"), 1);
    assert_int_equal(match_all_chunks(g, "a\xC3"), 0);
    assert_int_equal(match_all_chunks(g, "a\xC3\x28"), -1); /* not UTF-8 */
    const char *wide = "root ::= [α-ω]{2} \"\\u00e9\\U0001F600\"";
    assert_int_equal(match_all_chunks(wide, "βγé😀"), 1);
    assert_int_equal(match_all_chunks(wide, "βaé😀"), -1);
    /* Surrogates are no characters: ED A0 80 is refused by '.'. */
    assert_int_equal(match_all_chunks("root ::= .", "\xED\xA0\x80"), -1);
}

static void test_recursion_and_comments(void **state)
{
    const char *g = "# nested lists\n"
                    "root ::= list   # a comment\n"
                    "list ::= \"[\" (item (\",\" item)*)? \"]\"\n"
                    "item ::= list |\n"
                    "   [0-9]\n";
    assert_int_equal(match_all_chunks(g, "[1,[2,[]],[[3]]]"), 1);
    assert_int_equal(match_all_chunks(g, "[1,[2,[]],[[3]]"), 0);
    assert_int_equal(match_all_chunks(g, "[1,,2]"), -1);
}

static void expect_error(const char *gbnf, const char *needle)
{
    grammar *g = NULL;
    grammar_error err = {{0}};
    assert_int_equal(grammar_parse(gbnf, strlen(gbnf), &g, &err), -1);
    assert_null(g);
    if (!strstr(err.msg, needle))
        fail_msg("error for '%s' is '%s', expected '%s' in it", gbnf, err.msg, needle);
}

static void test_parse_errors(void **state)
{
    expect_error("root ::= foo", "rule 'foo' is used but not defined");
    expect_error("start ::= \"a\"", "no rule named 'root'");
    expect_error("root ::= root \"a\" | \"b\"", "left-recursive");
    expect_error("root ::= x\nx ::= \"a\"? root", "left-recursive");
    expect_error("root ::= \"a\"\nroot ::= \"b\"", "rule 'root' is defined twice");
    expect_error("root ::= \"abc", "line 1, column 14: unterminated string literal");
    expect_error("root ::= \"a\"\n\nx ::= [a-", "line 3, column 10: unterminated character class");
    expect_error("root ::= [z-a]", "range runs backwards");
    expect_error("root ::= ( \"a\"", "expected ')'");
    expect_error("root ::= * \"a\"", "a repetition with nothing before it");
    expect_error("root ::= \"a\"{3,1}", "n < m");
    expect_error("root ::= \"a\"{20000}", "above 10000");
    expect_error("root ::= \"\\q\"", "unknown escape");
    expect_error("root ::= x\nx ::= \"a\" x", "matches no finite string");
    expect_error("root \"a\"", "expected '::='");
    /* Repetition counts multiply into elements: the parser stops at its bound. */
    size_t cap = 120 * 16 + 16;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t n = (size_t)snprintf(big, cap, "root ::=");
    for (int i = 0; i < 120; i++)
        n += (size_t)snprintf(big + n, cap - n, " \"a\"{0,10000}");
    expect_error(big, "elements (repetition counts too large)");
    free(big);
}

static void test_reject_keeps_state(void **state)
{
    const char *gbnf = "root ::= \"ab\" \"c\"";
    grammar *g;
    grammar_error err;
    assert_int_equal(grammar_parse(gbnf, strlen(gbnf), &g, &err), 0);
    grammar_matcher *m;
    assert_int_equal(grammar_matcher_create(g, &m, &err), 0);
    assert_int_equal(grammar_matcher_accept(m, "a", 1, &err), 0);
    assert_int_equal(grammar_matcher_accept(m, "bx", 2, &err), 1); /* refused whole */
    assert_int_equal(grammar_matcher_accept(m, "b", 1, &err), 0);
    assert_false(grammar_matcher_complete(m));
    assert_true(grammar_matcher_can_continue(m));
    assert_int_equal(grammar_matcher_accept(m, "c", 1, &err), 0);
    assert_true(grammar_matcher_complete(m));
    assert_false(grammar_matcher_can_continue(m));
    grammar_matcher_destroy(m);
    grammar_free(g);
}

/* The mask equals, token by token, what accepting the token's bytes says. */
static void check_mask(const char *gbnf, const char *const *prefixes, size_t n_prefixes)
{
    static const char *const vocab[] = {
        "{", "}", "\"", "a", "ab", "abc", "\"a", "a\"", "\":", "1", "12", "123", " ", "\n",
        "é", "\xC3", "\xA9", "true", "tr", "ue", ",", ",\"", "}}", "", "null", "\"}",
    };
    uint32_t n = sizeof vocab / sizeof vocab[0];
    size_t lens[sizeof vocab / sizeof vocab[0]];
    for (uint32_t i = 0; i < n; i++)
        lens[i] = strlen(vocab[i]);
    token_trie *t;
    grammar_error err;
    assert_int_equal(token_trie_build(vocab, lens, n, &t, &err), 0);
    assert_int_equal(token_trie_n_tokens(t), n);
    grammar *g;
    assert_int_equal(grammar_parse(gbnf, strlen(gbnf), &g, &err), 0);
    grammar_matcher *m;
    assert_int_equal(grammar_matcher_create(g, &m, &err), 0);
    for (size_t p = 0; p <= n_prefixes; p++) {
        uint64_t bits[1];
        for (int twice = 0; twice < 2; twice++) { /* the second answer comes from the cache */
            assert_int_equal(grammar_matcher_mask(m, t, bits, &err), 0);
            for (uint32_t i = 0; i < n; i++) {
                grammar_matcher *probe;
                assert_int_equal(grammar_matcher_create(g, &probe, &err), 0);
                int ok = 1;
                for (size_t q = 0; q < p && ok; q++)
                    ok = grammar_matcher_accept(probe, prefixes[q], strlen(prefixes[q]), &err) == 0;
                assert_true(ok);
                int want = lens[i] > 0 && grammar_matcher_accept(probe, vocab[i], lens[i], &err) == 0;
                if (want != (int)((bits[0] >> i) & 1))
                    fail_msg("token '%s' after %zu prefixes: mask %d, matcher %d", vocab[i], p,
                             (int)((bits[0] >> i) & 1), want);
                grammar_matcher_destroy(probe);
            }
        }
        if (p < n_prefixes)
            assert_int_equal(grammar_matcher_accept(m, prefixes[p], strlen(prefixes[p]), &err), 0);
    }
    grammar_matcher_destroy(m);
    grammar_free(g);
    token_trie_free(t);
}

static void test_token_mask(void **state)
{
    const char *const steps[] = {"{", "\"", "a", "b", "\xC3", "\xA9", "\":", "1", ","};
    check_mask("root ::= \"{\" (\"\\\"\" [^\"]* \"\\\":\" [0-9]+ \",\"?)* \"}\"", steps,
               sizeof steps / sizeof steps[0]);
    const char *const words[] = {"tr"};
    check_mask("root ::= \"true\" | \"null\" | \"\\\"a\\\"\"", words, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_and_alternation),
        cmocka_unit_test(test_repetitions),
        cmocka_unit_test(test_classes_and_utf8),
        cmocka_unit_test(test_recursion_and_comments),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_reject_keeps_state),
        cmocka_unit_test(test_token_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
