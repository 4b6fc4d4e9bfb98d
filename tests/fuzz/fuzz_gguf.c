/* libFuzzer harness: any byte string must be parsed or refused, never crash; on success
 * every accessor is exercised over the whole file, then the file is loaded as a model and
 * as a tokenizer (what `kvspill serve` does with it), so their shape, type and vocabulary
 * checks are fuzzed too; a tokenizer that loads encodes and decodes a short text. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model/gguf.h"
#include "model/model.h"
#include "model/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads go here so the compiler cannot drop them. */
static volatile uint64_t sink;

static void load_model_and_tokenizer(const gguf_file *gf)
{
    model_error err;
    model *m;
    if (model_load(gf, &m, &err) == 0) {
        sink += m->layers[m->hp.n_layer - 1].w_down.data[0] + (m->output_norm[0] != 0);
        model_free(m);
    }
    tokenizer *tk;
    if (tokenizer_load(gf, &tk, &err) == 0) {
        static const char text[] = "Hello <|im_start|>world \xE2\x96\x81 12345";
        token_ids ids = {0};
        tok_bytes back = {0};
        if (tokenizer_encode(tk, text, sizeof text - 1, true, true, &ids, &err) == 0 &&
            tokenizer_decode(tk, ids.ids, ids.n, true, &back, &err) == 0)
            sink += back.n;
        token_ids_free(&ids);
        tok_bytes_free(&back);
        tokenizer_free(tk);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *gf;
    model_error err;
    if (gguf_open_memory(data, size, &gf, &err) != 0)
        return 0;
    for (uint64_t i = 0; i < gguf_n_keys(gf); i++) {
        gguf_string k = gguf_key_name(gf, (int64_t)i);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(k.len < 255 ? k.len : 255), k.ptr);
        uint32_t u;
        int64_t x;
        float f;
        bool b;
        gguf_string s;
        gguf_value_type et;
        uint64_t n;
        sink += !gguf_get_u32(gf, key, &u) + !gguf_get_i64(gf, key, &x) +
                !gguf_get_f32(gf, key, &f) + !gguf_get_bool(gf, key, &b);
        if (!gguf_get_str(gf, key, &s) && s.len)
            sink += (uint8_t)s.ptr[s.len - 1];
        if (!gguf_get_arr(gf, key, &et, &n) && n) {
            gguf_string last = gguf_arr_str(gf, key, n - 1);
            if (last.len)
                sink += (uint8_t)last.ptr[last.len - 1];
            const uint8_t *p = gguf_arr_data(gf, key);
            if (p)
                sink += p[0];
        }
    }
    for (uint64_t i = 0; i < gguf_n_tensors(gf); i++) {
        const gguf_tensor *t = gguf_tensor_at(gf, i);
        sink += ((const uint8_t *)t->data)[t->size - 1];
        if (gguf_find_tensor(gf, t->name) != t)
            __builtin_trap();
    }
    load_model_and_tokenizer(gf);
    gguf_close(gf);
    return 0;
}
