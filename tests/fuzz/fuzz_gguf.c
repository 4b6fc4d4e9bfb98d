/* libFuzzer harness: any byte string must be parsed or refused, never crash; on success
 * every accessor is exercised over the whole file. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *gf;
    model_error err;
    if (gguf_open_memory(data, size, &gf, &err) != 0)
        return 0;
    volatile uint64_t sink = 0;
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
    gguf_close(gf);
    return 0;
}
