/* llama.cpp's tokenizer test vectors (testdata/vocab): every input of every file must give
 * exactly the expected ids (no BOS, no special-token parsing), and decoding the ids must
 * give the input back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "testutil.h"

#define SEPARATOR "\n__ggml_vocab_test__\n"

static int parse_ids(const char *line, size_t len, token_ids *out)
{
    const char *p = line, *end = line + len;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        char *q;
        long v = strtol(p, &q, 10);
        if (q == p)
            return -1;
        token_ids_push(out, (int32_t)v);
        p = q;
    }
    return 0;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

static void run_vocab(const char *name)
{
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
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

    char inp_path[4200], out_path[4200];
    snprintf(inp_path, sizeof inp_path, "%s.inp", path);
    snprintf(out_path, sizeof out_path, "%s.out", path);
    size_t inp_len, out_len;
    char *inp = test_read_file(inp_path, &inp_len), *outp = test_read_file(out_path, &out_len);
    assert_non_null(inp);
    assert_non_null(outp);

    int cases = 0, wrong = 0, no_round_trip = 0;
    const char *in = inp, *in_end = inp + inp_len, *line = outp, *out_end = outp + out_len;
    for (;;) {
        const char *sep = memmem(in, (size_t)(in_end - in), SEPARATOR, strlen(SEPARATOR));
        if (!sep)
            break; /* the file ends with a separator: the empty rest is not an input */
        size_t text_len = (size_t)(sep - in);
        const char *nl = memchr(line, '\n', (size_t)(out_end - line));
        assert_non_null(nl);
        token_ids want = {0}, got = {0};
        assert_int_equal(parse_ids(line, (size_t)(nl - line), &want), 0);
        if (tokenizer_encode(tk, in, text_len, false, false, &got, &err))
            fail_msg("%s", err.msg);
        if (got.n != want.n || (got.n && memcmp(got.ids, want.ids, got.n * sizeof *got.ids) != 0)) {
            fprintf(stderr, "%s case %d '%.*s':\n", name, cases, (int)text_len, in);
            print_ids("want", want.ids, want.n);
            print_ids("got ", got.ids, got.n);
            wrong++;
        }
        tok_bytes back = {0};
        if (tokenizer_decode(tk, got.ids, got.n, false, &back, &err))
            fail_msg("%s", err.msg);
        if (back.n != text_len || (text_len && memcmp(back.p, in, text_len) != 0)) {
            fprintf(stderr, "%s case %d: decode gives '%.*s' for '%.*s'\n", name, cases,
                    (int)back.n, back.p ? back.p : "", (int)text_len, in);
            no_round_trip++;
        }
        tok_bytes_free(&back);
        token_ids_free(&want);
        token_ids_free(&got);
        cases++;
        in = sep + strlen(SEPARATOR);
        line = nl + 1;
    }
    assert_true(line == out_end); /* one output line per input */
    assert_int_equal(cases, 46);
    assert_int_equal(wrong, 0);
    assert_int_equal(no_round_trip, 0);
    free(inp);
    free(outp);
    tokenizer_free(tk);
}

static void test_llama_spm(void **state) { run_vocab("ggml-vocab-llama-spm.gguf"); }
static void test_phi3(void **state) { run_vocab("ggml-vocab-phi-3.gguf"); }
static void test_gpt2(void **state) { run_vocab("ggml-vocab-gpt-2.gguf"); }
static void test_starcoder(void **state) { run_vocab("ggml-vocab-starcoder.gguf"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_spm),
        cmocka_unit_test(test_phi3),
        cmocka_unit_test(test_gpt2),
        cmocka_unit_test(test_starcoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
