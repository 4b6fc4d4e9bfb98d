/* Pre-tokenizer splits on hand-picked strings whose expected pieces follow from the regex
 * definitions (there are no Llama 3 / Qwen2 vocabulary files to test against). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer_pretok.h"
#include "testutil.h"

/* Expected pieces joined with '|' (no input here contains '|'). */
static void expect_split(pretok_kind kind, const char *text, const char *want)
{
    pretok_piece *p;
    size_t n;
    assert_int_equal(pretok_split(kind, text, strlen(text), &p, &n), 0);
    char got[1024] = "";
    size_t at = 0, covered = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].off, covered); /* pieces tile the input */
        covered += p[i].len;
        at += (size_t)snprintf(got + at, sizeof got - at, "%s%.*s", i ? "|" : "", (int)p[i].len,
                               text + p[i].off);
    }
    assert_int_equal(covered, strlen(text));
    free(p);
    if (strcmp(got, want) != 0)
        fail_msg("split of '%s': got '%s', want '%s'", text, got, want);
}

static void test_llama3(void **state)
{
    pretok_kind k;
    assert_int_equal(pretok_kind_from_name("llama-bpe", 9, &k), 0);
    assert_int_equal(k, PRETOK_LLAMA3);
    expect_split(k, "Hello world", "Hello| world");
    expect_split(k, "Hello, world!", "Hello|,| world|!");
    /* contractions, case-insensitive */
    expect_split(k, "I'm can't WE'LL they've", "I|'m| can|'t| WE|'LL| they|'ve");
    expect_split(k, "'hello", "'hello");
    /* digits in groups of at most three */
    expect_split(k, "12345678", "123|456|78");
    expect_split(k, "$12.5", "$|12|.|5");
    expect_split(k, "a1b", "a|1|b");
    /* whitespace: a run leaves its last space to the next word; newlines end a run */
    expect_split(k, "a  b", "a| | b");
    expect_split(k, "x   ", "x|   ");
    expect_split(k, "line1\n\nline2", "line|1|\n\n|line|2");
    expect_split(k, "  \n  x", "  \n| | x");
    expect_split(k, "...\n\nNext", "...\n\n|Next");
    expect_split(k, "\tfoo", "\tfoo");
    expect_split(k, " \t1", " |\t|1"); /* \s+(?!\S) backs off to " ", then \s+ takes the tab */
    /* letters of any script, symbols as punctuation */
    expect_split(k, "我想在apple", "我想在apple");
    expect_split(k, "Привет мир", "Привет| мир");
    expect_split(k, "hi 😁!", "hi| 😁!");
    expect_split(k, "½ months", "½| months");
}

static void test_qwen2(void **state)
{
    pretok_kind k;
    assert_int_equal(pretok_kind_from_name("qwen2", 5, &k), 0);
    assert_int_equal(k, PRETOK_QWEN2);
    expect_split(k, "12345", "1|2|3|4|5");
    expect_split(k, "year 2024!", "year| |2|0|2|4|!");
    expect_split(k, "I'M here", "I|'M| here");
    expect_split(k, "a\r\n\r\nb", "a|\r\n\r\n|b");
    /* the fullwidth comma is the optional non-letter in front of the next letters */
    expect_split(k, "你好，世界", "你好|，世界");
    expect_split(k, "🙂🙂 ok", "🙂🙂| ok");
}

/* Expected pieces worked out from the regex of pretok_kind's PRETOK_TEKKEN comment,
 * alternative by alternative, with backtracking where the two letter classes overlap. */
static void test_tekken(void **state)
{
    pretok_kind k;
    assert_int_equal(pretok_kind_from_name("tekken", 6, &k), 0);
    assert_int_equal(k, PRETOK_TEKKEN);
    expect_split(k, "Hello World", "Hello| World");
    /* a capitalised word keeps the upper-case run in front of its lower-case letters */
    expect_split(k, "HTMLParser camelCase", "HTMLParser| camel|Case");
    expect_split(k, "HELLO world", "HELLO| world");
    expect_split(k, "2024 a1", "2|0|2|4| a|1");
    /* punctuation takes trailing newlines and slashes; a non-letter leads a word */
    expect_split(k, "end.\n\nNext", "end|.\n\n|Next");
    expect_split(k, "x ://y a/b", "x| ://|y| a|/b");
    expect_split(k, "a  b", "a| | b");
    /* combining marks are in both letter classes: e + U+0301 + t is one word, and a lone
     * mark before a capital ends at the mark (the upper-case run gives it back) */
    expect_split(k, "e\xCC\x81t", "e\xCC\x81t");
    expect_split(k, "\xCC\x81" "A", "\xCC\x81|A");
    expect_split(k, "\xC3\x89" "COLE \xC7\x85" "ebra", "\xC3\x89" "COLE| \xC7\x85" "ebra"); /* Lt starts a word */
}

static void test_gpt2_family(void **state)
{
    pretok_kind k;
    assert_int_equal(pretok_kind_from_name("gpt-2", 5, &k), 0);
    /* contractions only in lower case; the optional space goes with the next word */
    expect_split(k, "it's IT'S", "it|'s| IT|'|S");
    expect_split(k, "  Hello", " | Hello");
    expect_split(k, "abc123 456", "abc|123| 456");
    assert_int_equal(pretok_kind_from_name("starcoder", 9, &k), 0);
    expect_split(k, "abc123 456", "abc|1|2|3| |4|5|6");
    assert_int_equal(pretok_kind_from_name("default", 7, &k), 0);
    expect_split(k, "1234567 a+b", "123|456|7| a|+|b");
    assert_int_equal(pretok_kind_from_name("unknown-pre", 11, &k), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_tekken),
        cmocka_unit_test(test_gpt2_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
