/* Tokenizer behaviour llama.cpp has beyond its test vectors, on the real vocabularies of
 * testdata/vocab: Phi-3's special tokens swallow the white space after them (rstrip), other
 * vocabularies keep it; detokenized text loses the tokenization spaces (" ," " 'm") where
 * the vocabulary asks for that clean-up (GPT-2) and keeps them where it does not
 * (SentencePiece), while plain decoding stays the exact inverse of encoding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "testutil.h"

static tokenizer *load_vocab(const char *name)
{
    const char *shared = test_shared_dir();
    if (!shared)
        return NULL;
    char path[4096], rel[256];
    snprintf(rel, sizeof rel, "testdata/vocab/%s", name);
    test_path(path, shared, rel);
    gguf_file *gf;
    model_error err;
    if (gguf_open(path, &gf, &err))
        fail_msg("%s", err.msg);
    tokenizer *tk;
    if (tokenizer_load(gf, &tk, &err))
        fail_msg("%s", err.msg);
    gguf_close(gf);
    return tk;
}

static token_ids encode(const tokenizer *tk, const char *text)
{
    token_ids ids = {0};
    model_error err;
    if (tokenizer_encode(tk, text, strlen(text), false, true, &ids, &err))
        fail_msg("%s", err.msg);
    return ids;
}

static bool same_ids(const token_ids *a, const token_ids *b)
{
    return a->n == b->n && (!a->n || !memcmp(a->ids, b->ids, a->n * sizeof *a->ids));
}

static void phi3_specials_swallow_the_space_after(void **state)
{
    (void)state;
    tokenizer *tk = load_vocab("ggml-vocab-phi-3.gguf");
    if (!tk)
        skip();
    token_ids spaced = encode(tk, "<|user|>\nHi there<|end|>\n<|assistant|>\n");
    token_ids tight = encode(tk, "<|user|>Hi there<|end|><|assistant|>");
    assert_true(same_ids(&spaced, &tight));
    assert_int_equal(spaced.ids[0], tokenizer_find(tk, "<|user|>", 8));
    assert_int_equal(spaced.ids[spaced.n - 1], tokenizer_find(tk, "<|assistant|>", 13));
    /* the space before a special stays: Phi-3's tokens strip on the right only */
    token_ids before = encode(tk, "Hi \n<|end|>");
    token_ids none = encode(tk, "Hi<|end|>");
    assert_false(same_ids(&before, &none));
    token_ids_free(&spaced);
    token_ids_free(&tight);
    token_ids_free(&before);
    token_ids_free(&none);
    tokenizer_free(tk);
}

static void other_vocabularies_keep_the_space(void **state)
{
    (void)state;
    tokenizer *tk = load_vocab("ggml-vocab-llama-spm.gguf");
    if (!tk)
        skip();
    token_ids spaced = encode(tk, "</s>\nHi");
    token_ids tight = encode(tk, "</s>Hi");
    assert_false(same_ids(&spaced, &tight));
    token_ids_free(&spaced);
    token_ids_free(&tight);
    tokenizer_free(tk);
}

static void check_detokenize(const char *vocab, const char *text, const char *want)
{
    tokenizer *tk = load_vocab(vocab);
    if (!tk)
        skip();
    token_ids ids = encode(tk, text);
    tok_bytes exact = {0}, clean = {0};
    model_error err;
    assert_int_equal(tokenizer_decode(tk, ids.ids, ids.n, false, &exact, &err), 0);
    assert_int_equal(tokenizer_detokenize(tk, ids.ids, ids.n, false, &clean, &err), 0);
    assert_int_equal(exact.n, strlen(text));
    assert_memory_equal(exact.p, text, exact.n);
    if (clean.n != strlen(want) || memcmp(clean.p, want, clean.n))
        fail_msg("%s: '%s' detokenized as '%.*s', want '%s'", vocab, text, (int)clean.n, clean.p, want);
    tok_bytes_free(&exact);
    tok_bytes_free(&clean);
    token_ids_free(&ids);
    tokenizer_free(tk);
}

static void gpt2_cleans_up_tokenization_spaces(void **state)
{
    (void)state;
    check_detokenize("ggml-vocab-gpt-2.gguf", "Hello , world ! I 'm here . Why ?",
                     "Hello, world! I'm here. Why?");
    /* " ' " joins; 'll, 't and 'd keep their space, as llama.cpp has it */
    check_detokenize("ggml-vocab-gpt-2.gguf", "they 'll go ' now and we 're done , it 'd do",
                     "they 'll go'now and we're done, it 'd do");
}

static void sentencepiece_keeps_tokenization_spaces(void **state)
{
    (void)state;
    check_detokenize("ggml-vocab-llama-spm.gguf", "Hello , world ! I 'm here .",
                     "Hello , world ! I 'm here .");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(phi3_specials_swallow_the_space_after),
        cmocka_unit_test(other_vocabularies_keep_the_space),
        cmocka_unit_test(gpt2_cleans_up_tokenization_spaces),
        cmocka_unit_test(sentencepiece_keeps_tokenization_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
