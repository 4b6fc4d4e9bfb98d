/* Writes a Llama-shaped GGUF with seeded random weights (no vocabulary) for the engine
 * benchmark, until `kvspill model gen` exists. Build and run:
 *   cc -O2 -Iinclude -Isrc bench/gen_llama.c build-fwd/src/model/libkvspill_model.a \
 *      -lcrypto -lutf8proc -lm -lpthread -o /tmp/gen_llama
 *   /tmp/gen_llama OUT.gguf LAYERS DIM HEADS KV_HEADS FF VOCAB f16|q8_0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "model/kernels.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * 0x1p-24 * 2.0 - 1.0);
}

static void add(gguf_writer *w, const char *name, uint64_t cols, uint64_t rows, uint32_t type)
{
    uint64_t ne[2] = {cols, rows};
    size_t n = (size_t)(cols * rows), bytes = type == GGML_TYPE_F32 ? 4 * n
                                             : type == GGML_TYPE_F16 ? 2 * n : n / 32 * 34;
    uint8_t *d = malloc(bytes);
    if (!d)
        exit(1);
    float scale = 1.0f / (float)cols;
    for (size_t i = 0; i < n; i++) {
        if (type == GGML_TYPE_F32) {
            float f = 1.0f + 0.1f * frand();
            memcpy(d + 4 * i, &f, 4);
        } else if (type == GGML_TYPE_F16) {
            uint16_t h = kern_f32_to_f16(frand() * 4 * scale);
            memcpy(d + 2 * i, &h, 2);
        } else if (i % 32 == 0) {
            uint8_t *b = d + i / 32 * 34;
            uint16_t h = kern_f32_to_f16(4 * scale / 127);
            memcpy(b, &h, 2);
            for (int j = 0; j < 32; j++)
                b[2 + j] = (uint8_t)(int8_t)(frand() * 127);
        }
    }
    if (gguf_writer_add_tensor(w, name, rows == 1 ? 1 : 2, ne, type, d) != 0)
        exit(1);
    free(d);
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: gen_llama OUT LAYERS DIM HEADS KV_HEADS FF VOCAB f16|q8_0\n");
        return 2;
    }
    unsigned L = (unsigned)atoi(argv[2]), D = (unsigned)atoi(argv[3]), H = (unsigned)atoi(argv[4]),
             KVH = (unsigned)atoi(argv[5]), FF = (unsigned)atoi(argv[6]), V = (unsigned)atoi(argv[7]);
    uint32_t t = !strcmp(argv[8], "f16") ? GGML_TYPE_F16 : GGML_TYPE_Q8_0;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.block_count", L);
    gguf_writer_set_u32(w, "llama.embedding_length", D);
    gguf_writer_set_u32(w, "llama.feed_forward_length", FF);
    gguf_writer_set_u32(w, "llama.attention.head_count", H);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", KVH);
    gguf_writer_set_u32(w, "llama.context_length", 2048);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    unsigned kvd = D / H * KVH;
    add(w, "token_embd.weight", D, V, t);
    add(w, "output.weight", D, V, t);
    add(w, "output_norm.weight", D, 1, GGML_TYPE_F32);
    for (unsigned i = 0; i < L; i++) {
        char n[64];
#define T(s, c, r, ty) (snprintf(n, sizeof n, "blk.%u." s, i), add(w, n, c, r, ty))
        T("attn_norm.weight", D, 1, GGML_TYPE_F32);
        T("ffn_norm.weight", D, 1, GGML_TYPE_F32);
        T("attn_q.weight", D, D, t);
        T("attn_k.weight", D, kvd, t);
        T("attn_v.weight", D, kvd, t);
        T("attn_output.weight", D, D, t);
        T("ffn_gate.weight", D, FF, t);
        T("ffn_up.weight", D, FF, t);
        T("ffn_down.weight", FF, D, t);
#undef T
    }
    model_error err = {{0}};
    if (gguf_writer_write(w, argv[1], &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    gguf_writer_free(w);
    return 0;
}
