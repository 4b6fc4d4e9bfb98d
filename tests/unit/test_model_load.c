/* Loading refuses damaged or mismatched models with a message naming the tensor or key
 * and the cause; a model without output.weight ties the output to the embeddings. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/forward.h"
#include "model/gguf.h"
#include "tools/gguf_writer.h"
#include "model/model.h"

/* n_embd 32, 2 heads of 16, 1 KV head, ff 64, vocab 16, 1 layer. */
enum damage {
    OK,
    TIED,
    MISSING_FFN_UP,
    BAD_K_SHAPE,
    BAD_TYPE,
    BAD_HEADS,
    BAD_ARCH,
    BAD_VOCAB,
    BAD_NORM,
    MISSING_KEY,
};

static char dir[4096];

static void add(gguf_writer *w, const char *name, uint64_t n0, uint64_t n1, uint32_t type)
{
    uint64_t ne[2] = {n0, n1};
    size_t n = (size_t)(n0 * n1);
    size_t bytes = type == GGML_TYPE_F32 ? 4 * n : type == GGML_TYPE_Q5_0 ? n / 32 * 22 : 2 * n;
    uint8_t *data = malloc(bytes);
    assert_non_null(data);
    if (type == GGML_TYPE_F32)
        for (size_t i = 0; i < n; i++) {
            float f = (float)((i * 37 % 101) / 101.0 - 0.5);
            memcpy(data + 4 * i, &f, 4);
        }
    else
        memset(data, 0, bytes);
    assert_int_equal(gguf_writer_add_tensor(w, name, n1 == 1 ? 1 : 2, ne, type, data), 0);
    free(data);
}

static const char *build(enum damage d)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/m%d.gguf", dir, (int)d);
    gguf_writer *w = gguf_writer_new();
    assert_non_null(w);
    gguf_writer_set_str(w, "general.architecture", d == BAD_ARCH ? "gemma2" : "llama");
    gguf_writer_set_u32(w, "llama.block_count", 1);
    gguf_writer_set_u32(w, "llama.embedding_length", 32);
    gguf_writer_set_u32(w, "llama.feed_forward_length", 64);
    gguf_writer_set_u32(w, "llama.attention.head_count", d == BAD_HEADS ? 3 : 2);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", 1);
    if (d != MISSING_KEY)
        gguf_writer_set_u32(w, "llama.context_length", 128);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (d == BAD_VOCAB)
        gguf_writer_set_u32(w, "llama.vocab_size", 17);
    add(w, "token_embd.weight", 32, 16, GGML_TYPE_F32);
    if (d != TIED)
        add(w, "output.weight", 32, 16, GGML_TYPE_F32);
    add(w, "output_norm.weight", 32, 1, GGML_TYPE_F32);
    add(w, "blk.0.attn_norm.weight", 32, 1, GGML_TYPE_F32);
    add(w, "blk.0.ffn_norm.weight", d == BAD_NORM ? 31 : 32, 1, GGML_TYPE_F32);
    add(w, "blk.0.attn_q.weight", 32, 32, d == BAD_TYPE ? GGML_TYPE_Q5_0 : GGML_TYPE_F16);
    add(w, "blk.0.attn_k.weight", 32, d == BAD_K_SHAPE ? 32 : 16, GGML_TYPE_F32);
    add(w, "blk.0.attn_v.weight", 32, 16, GGML_TYPE_F32);
    add(w, "blk.0.attn_output.weight", 32, 32, GGML_TYPE_F32);
    add(w, "blk.0.ffn_gate.weight", 32, 64, GGML_TYPE_F32);
    if (d != MISSING_FFN_UP)
        add(w, "blk.0.ffn_up.weight", 32, 64, GGML_TYPE_F32);
    add(w, "blk.0.ffn_down.weight", 64, 32, GGML_TYPE_F32);
    model_error err = {{0}};
    if (gguf_writer_write(w, path, &err) != 0)
        fail_msg("%s", err.msg);
    gguf_writer_free(w);
    return path;
}

/* Loads the damaged model and expects failure with `expect` in the message. */
static void expect_refused(enum damage d, const char *expect)
{
    gguf_file *gf;
    model *m = NULL;
    model_error err = {{0}};
    if (gguf_open(build(d), &gf, &err) != 0)
        fail_msg("gguf_open: %s", err.msg);
    assert_int_equal(model_load(gf, &m, &err), -1);
    assert_null(m);
    if (!strstr(err.msg, expect))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, expect);
    gguf_close(gf);
}

static void test_damaged_models_are_refused(void **state)
{
    (void)state;
    expect_refused(MISSING_FFN_UP, "tensor blk.0.ffn_up.weight: missing");
    expect_refused(BAD_K_SHAPE, "tensor blk.0.attn_k.weight: shape [32, 32, 1, 1], expected [32, 16]");
    expect_refused(BAD_TYPE, "tensor blk.0.attn_q.weight: type q5_0 (6) not supported");
    expect_refused(BAD_HEADS, "head_count 3 does not divide embedding_length 32");
    expect_refused(BAD_ARCH, "architecture 'gemma2' not supported (llama, qwen2, qwen3)");
    expect_refused(BAD_VOCAB, "llama.vocab_size 17 but token_embd.weight has 16 rows");
    expect_refused(BAD_NORM, "tensor blk.0.ffn_norm.weight: shape [31, 1], expected [32]");
    expect_refused(MISSING_KEY, "metadata llama.context_length: missing");
}

static void test_good_and_tied_models_run(void **state)
{
    (void)state;
    float logits[2][16];
    for (int tied = 0; tied < 2; tied++) {
        gguf_file *gf;
        model *m;
        model_error err = {{0}};
        assert_int_equal(gguf_open(build(tied ? TIED : OK), &gf, &err), 0);
        if (model_load(gf, &m, &err) != 0)
            fail_msg("%s", err.msg);
        assert_int_equal(m->output_tied, tied);
        assert_int_equal(m->hp.n_vocab, 16);
        assert_int_equal(m->hp.head_dim, 16);
        assert_int_equal(m->hp.n_rot, 16);
        assert_true(m->hp.rope_base == 10000.0f);
        fwd_ctx *fc;
        kv_cache *kv;
        assert_int_equal(fwd_create(m, 1, NULL, &fc, &err), 0);
        assert_int_equal(kv_contiguous_create(NULL, 1, 1, 16, 1, 8, KV_F32, &kv, &err), 0);
        int32_t tok[2] = {3, 5};
        uint32_t pos[2] = {0, 1}, seq[2] = {0, 0}, row = 1;
        fwd_batch b = {2, tok, pos, seq, 1, &row};
        assert_int_equal(fwd_eval(fc, kv, &b, logits[tied], &err), 0);
        kv_cache_destroy(kv);
        fwd_destroy(fc);
        model_free(m);
        gguf_close(gf);
    }
    /* Same token_embd and output.weight contents: tying must give the same logits. */
    assert_memory_equal(logits[0], logits[1], sizeof logits[0]);
}

static int setup(void **state)
{
    test_mkdtemp(dir, "model-load");
    return 0;
}

static int teardown(void **state)
{
    test_rmtree(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_damaged_models_are_refused),
        cmocka_unit_test(test_good_and_tied_models_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
