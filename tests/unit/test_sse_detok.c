/* Incremental detokenization for streaming with the llama SentencePiece vocabulary:
 * characters split over byte tokens are never split in the output, stop strings are cut
 * (also across tokens) and their prefixes held back until they are known not to match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "server/detok.h"
#include "testutil.h"

static tokenizer *tk;

static int setup(void **state)
{
    char path[4096];
    test_path(path, test_require_shared_dir(), "testdata/vocab/ggml-vocab-llama-spm.gguf");
    gguf_file *gf;
    model_error err;
    if (gguf_open(path, &gf, &err) || tokenizer_load(gf, &tk, &err))
        fail_msg("%s", err.msg);
    gguf_close(gf);
    return 0;
}

static int teardown(void **state)
{
    tokenizer_free(tk);
    return 0;
}

static int32_t byte_token(unsigned b)
{
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    int32_t id = tokenizer_find(tk, name, strlen(name));
    assert_true(id >= 0);
    return id;
}

/* Runs ids through a detok, collecting every take; returns the concatenation. */
static char *stream(const int32_t *ids, size_t n, char *const *stops, size_t n_stops,
                    bool *stopped)
{
    detok d;
    detok_init(&d, tk, stops, n_stops);
    tok_bytes all = {0};
    for (size_t i = 0; i < n && !d.stopped; i++) {
        assert_int_equal(detok_push(&d, ids[i]), 0);
        size_t len;
        const char *p = detok_take(&d, &len);
        assert_int_equal(tok_bytes_append(&all, p, len), 0);
        /* What was sent so far never ends inside a multi-byte character. */
        if (all.n)
            assert_true(((unsigned char)all.p[all.n - 1] & 0xC0) != 0xC0);
    }
    assert_int_equal(detok_finish(&d), 0);
    size_t len;
    const char *p = detok_take(&d, &len);
    assert_int_equal(tok_bytes_append(&all, p, len), 0);
    assert_int_equal(tok_bytes_append(&all, "", 1), 0);
    size_t tl;
    assert_string_equal(all.p, detok_text(&d, &tl));
    *stopped = d.stopped;
    detok_free(&d);
    return all.p;
}

static void test_split_characters(void **state)
{
    /* "a€b" with the euro sign as three byte tokens: E2 82 AC. */
    int32_t ids[] = {tokenizer_find(tk, "a", 1), byte_token(0xE2), byte_token(0x82),
                     byte_token(0xAC), tokenizer_find(tk, "b", 1)};
    detok d;
    detok_init(&d, tk, NULL, 0);
    size_t len;
    assert_int_equal(detok_push(&d, ids[0]), 0);
    detok_take(&d, &len);
    assert_int_equal(len, 1);
    assert_int_equal(detok_push(&d, ids[1]), 0);
    detok_take(&d, &len);
    assert_int_equal(len, 0);
    assert_int_equal(detok_push(&d, ids[2]), 0);
    detok_take(&d, &len);
    assert_int_equal(len, 0);
    assert_int_equal(detok_push(&d, ids[3]), 0);
    const char *p = detok_take(&d, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "\xE2\x82\xAC", 3);
    assert_int_equal(detok_push(&d, ids[4]), 0);
    assert_int_equal(detok_finish(&d), 0);
    assert_string_equal(detok_text(&d, &len), "a\xE2\x82\xAC" "b");
    detok_free(&d);
}

static void test_invalid_bytes_become_replacement(void **state)
{
    /* A lone continuation byte, then a truncated three-byte sequence at the end. */
    int32_t ids[] = {byte_token(0x80), tokenizer_find(tk, "x", 1), byte_token(0xE2),
                     byte_token(0x82)};
    bool stopped;
    char *s = stream(ids, 4, NULL, 0, &stopped);
    assert_string_equal(s, "\xEF\xBF\xBDx\xEF\xBF\xBD");
    assert_false(stopped);
    free(s);
}

static void test_stream_matches_decode(void **state)
{
    const char *text = "Hello world! Ünïcödé ✓ 日本語 and emoji 🦙 done.";
    token_ids ids = {0};
    model_error err;
    assert_int_equal(tokenizer_encode(tk, text, strlen(text), false, false, &ids, &err), 0);
    bool stopped;
    char *s = stream(ids.ids, ids.n, NULL, 0, &stopped);
    /* Pieces keep SentencePiece's leading space; the decoder drops it. */
    assert_int_equal(s[0], ' ');
    assert_string_equal(s + 1, text);
    free(s);
    token_ids_free(&ids);
}

static void test_stop_string_cut_and_held_back(void **state)
{
    const char *text = "one two three four five";
    token_ids ids = {0};
    model_error err;
    assert_int_equal(tokenizer_encode(tk, text, strlen(text), false, false, &ids, &err), 0);
    char *stops[] = {"thr", "ee f"}; /* "ee f" spans tokens and ends after "thr" starts */
    detok d;
    detok_init(&d, tk, stops, 2);
    tok_bytes sent = {0};
    for (size_t i = 0; i < ids.n && !d.stopped; i++) {
        assert_int_equal(detok_push(&d, ids.ids[i]), 0);
        size_t len;
        const char *p = detok_take(&d, &len);
        assert_int_equal(tok_bytes_append(&sent, p, len), 0);
        assert_int_equal(tok_bytes_append(&sent, "", 1), 0);
        sent.n--;
        /* Never a stop string nor a "t"/"th" that may become one. */
        assert_null(strstr(sent.p, "thr"));
        assert_true(sent.n == 0 || sent.p[sent.n - 1] != 't');
    }
    assert_true(d.stopped);
    assert_int_equal(detok_finish(&d), 0);
    size_t len;
    const char *p = detok_take(&d, &len);
    assert_int_equal(tok_bytes_append(&sent, p, len), 0);
    assert_int_equal(tok_bytes_append(&sent, "", 1), 0);
    assert_string_equal(sent.p, " one two ");
    tok_bytes_free(&sent);
    detok_free(&d);
    token_ids_free(&ids);
}

static void test_holdback_released_at_end(void **state)
{
    const char *text = "stay st";
    token_ids ids = {0};
    model_error err;
    assert_int_equal(tokenizer_encode(tk, text, strlen(text), false, false, &ids, &err), 0);
    char *stops[] = {"stop"};
    bool stopped;
    char *s = stream(ids.ids, ids.n, stops, 1, &stopped);
    assert_false(stopped);
    assert_string_equal(s, " stay st");
    free(s);
    /* Before the end, the trailing "st" (a prefix of "stop") has not been sent. */
    detok d;
    detok_init(&d, tk, stops, 1);
    tok_bytes sent = {0};
    for (size_t i = 0; i < ids.n; i++) {
        size_t len;
        assert_int_equal(detok_push(&d, ids.ids[i]), 0);
        const char *p = detok_take(&d, &len);
        assert_int_equal(tok_bytes_append(&sent, p, len), 0);
    }
    assert_int_equal(tok_bytes_append(&sent, "", 1), 0);
    assert_string_equal(sent.p, " stay ");
    tok_bytes_free(&sent);
    detok_free(&d);
    /* The earliest of two stop strings wins, and the text ends before it. */
    char *two[] = {"st", "ay"};
    s = stream(ids.ids, ids.n, two, 2, &stopped);
    assert_true(stopped);
    assert_string_equal(s, " ");
    free(s);
    token_ids_free(&ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_characters),
        cmocka_unit_test(test_invalid_bytes_become_replacement),
        cmocka_unit_test(test_stream_matches_decode),
        cmocka_unit_test(test_stop_string_cut_and_held_back),
        cmocka_unit_test(test_holdback_released_at_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
