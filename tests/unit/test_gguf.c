/* GGUF reader and writer: the reference tiny models, writer -> reader round trips, and
 * damaged files that must be refused with a message (never a crash). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "tools/gguf_writer.h"
#include "testutil.h"

/* ---- a byte builder for hand-made (and hand-damaged) images ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
/* GGUF v3 magic, version, tensor count and metadata count. */
static void put_header(buf *b, uint64_t n_tensors, uint64_t n_kv)
{
    put_u32(b, 0x46554747u);
    put_u32(b, 3);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}

static void put_str(buf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void pad_to(buf *b, size_t align)
{
    static const uint8_t z[64];
    put(b, z, (align - b->n % align) % align);
}

/* Header with one u32 key and one F32 tensor [8] at offset 0; edits via parameters. */
typedef struct spec {
    uint32_t magic, version;
    uint64_t n_tensors, n_kv;
    const char *key;
    uint32_t vtype;
    uint32_t n_dims;
    uint64_t ne0, ne1;
    uint32_t ttype;
    uint64_t offset;
    uint64_t data_bytes;
} spec;

static spec good_spec(void)
{
    return (spec){0x46554747u, 3, 1, 1, "general.x", GGUF_VT_UINT32, 1, 8, 1, GGML_TYPE_F32, 0, 32};
}

static buf build(const spec *s)
{
    buf b = {0};
    put_u32(&b, s->magic);
    put_u32(&b, s->version);
    put_u64(&b, s->n_tensors);
    put_u64(&b, s->n_kv);
    put_str(&b, s->key);
    put_u32(&b, s->vtype);
    put_u32(&b, 7);
    put_str(&b, "t");
    put_u32(&b, s->n_dims);
    put_u64(&b, s->ne0);
    if (s->n_dims > 1)
        put_u64(&b, s->ne1);
    put_u32(&b, s->ttype);
    put_u64(&b, s->offset);
    pad_to(&b, 32);
    for (uint64_t i = 0; i < s->data_bytes; i++)
        put(&b, "\x01", 1);
    return b;
}

static void expect_fail(const void *p, size_t n, const char *needle)
{
    gguf_file *gf = NULL;
    model_error err = {{0}};
    int rc = gguf_open_memory(p, n, &gf, &err);
    if (rc == 0) {
        gguf_close(gf);
        fail_msg("damaged image (%zu bytes) accepted; expected an error containing '%s'", n, needle);
    }
    assert_null(gf);
    if (!strstr(err.msg, needle))
        fail_msg("error '%s' does not contain '%s'", err.msg, needle);
    assert_non_null(strstr(err.msg, "<memory>"));
}

static void expect_spec_fail(spec s, const char *needle)
{
    buf b = build(&s);
    expect_fail(b.p, b.n, needle);
    free(b.p);
}

static void test_handmade_good(void **state)
{
    spec s = good_spec();
    buf b = build(&s);
    gguf_file *gf;
    model_error err;
    assert_int_equal(gguf_open_memory(b.p, b.n, &gf, &err), 0);
    assert_int_equal(gguf_n_tensors(gf), 1);
    uint32_t v;
    assert_int_equal(gguf_get_u32(gf, "general.x", &v), 0);
    assert_int_equal(v, 7);
    gguf_close(gf);
    free(b.p);
}

static void test_header_damage(void **state)
{
    spec s = good_spec();
    s.magic = 0x46554746u;
    expect_spec_fail(s, "not a GGUF file");
    s = good_spec();
    s.version = 1;
    expect_spec_fail(s, "unsupported GGUF version 1");
    s.version = 4;
    expect_spec_fail(s, "unsupported GGUF version 4");
    s.version = 0x03000000u;
    expect_spec_fail(s, "big-endian");
    s = good_spec();
    s.n_tensors = UINT64_MAX;
    expect_spec_fail(s, "tensor count");
    s = good_spec();
    s.n_kv = 1ull << 40;
    expect_spec_fail(s, "metadata count");
    s = good_spec();
    s.n_kv = 2; /* the second key runs into the tensor info bytes */
    expect_spec_fail(s, "");
}

static void test_value_damage(void **state)
{
    spec s = good_spec();
    s.vtype = 13;
    expect_spec_fail(s, "invalid value type 13");
    s.vtype = GGUF_VT_BOOL; /* the value byte is 7 */
    expect_spec_fail(s, "bool value 7");
    s = good_spec();
    s.key = "";
    expect_spec_fail(s, "empty name");

    /* huge string length */
    buf b = {0};
    put_header(&b, 0, 1);
    put_u64(&b, UINT64_MAX - 3);
    put(&b, "abcdefgh", 8);
    expect_fail(b.p, b.n, "past end of file");
    free(b.p);

    /* string value past the end, array count too large, bad element type, deep nesting */
    b = (buf){0};
    put_header(&b, 0, 1);
    put_str(&b, "k");
    put_u32(&b, GGUF_VT_ARRAY);
    put_u32(&b, GGUF_VT_UINT32);
    put_u64(&b, 1ull << 60);
    put(&b, "0123456789abcdef", 16);
    expect_fail(b.p, b.n, "cannot fit");
    memcpy(b.p + 24 + 8 + 1 + 4, &(uint32_t){99}, 4);
    expect_fail(b.p, b.n, "invalid array element type 99");
    free(b.p);

    b = (buf){0};
    put_header(&b, 0, 1);
    put_str(&b, "k");
    put_u32(&b, GGUF_VT_ARRAY);
    for (int d = 0; d < 6; d++) {
        put_u32(&b, GGUF_VT_ARRAY);
        put_u64(&b, 1);
    }
    put_u32(&b, GGUF_VT_UINT8);
    put_u64(&b, 0);
    expect_fail(b.p, b.n, "nested deeper");
    free(b.p);

    /* duplicate keys */
    b = (buf){0};
    put_header(&b, 0, 2);
    for (int i = 0; i < 2; i++) {
        put_str(&b, "dup.key");
        put_u32(&b, GGUF_VT_UINT8);
        put(&b, "\x01", 1);
    }
    expect_fail(b.p, b.n, "duplicate key dup.key");
    free(b.p);
}

static void test_tensor_damage(void **state)
{
    spec s = good_spec();
    s.n_dims = 0;
    expect_spec_fail(s, "n_dims 0");
    s.n_dims = 5;
    expect_spec_fail(s, "n_dims 5");
    s = good_spec();
    s.ne0 = 0;
    expect_spec_fail(s, "dimension 0 is 0");
    s = good_spec();
    s.n_dims = 2;
    s.ne0 = 1ull << 40;
    s.ne1 = 1ull << 40;
    expect_spec_fail(s, "overflows");
    s = good_spec();
    s.ttype = 5;
    expect_spec_fail(s, "unknown type 5");
    s = good_spec();
    s.ttype = GGML_TYPE_Q8_0; /* ne0 = 8 is not a multiple of 32 */
    expect_spec_fail(s, "not a multiple");
    s = good_spec();
    s.offset = 4;
    expect_spec_fail(s, "not aligned");
    s = good_spec();
    s.offset = 64;
    expect_spec_fail(s, "past end of file");
    s = good_spec();
    s.data_bytes = 31;
    expect_spec_fail(s, "past end of file");
    s = good_spec();
    s.offset = UINT64_MAX - 31;
    expect_spec_fail(s, "past end of file");
}

static void test_alignment_key(void **state)
{
    for (uint32_t a = 0; a < 3; a++) {
        uint32_t align = a == 0 ? 0 : a == 1 ? 12 : 64;
        buf b = {0};
        put_header(&b, 1, 1);
        put_str(&b, "general.alignment");
        put_u32(&b, GGUF_VT_UINT32);
        put_u32(&b, align);
        put_str(&b, "t");
        put_u32(&b, 1);
        put_u64(&b, 16);
        put_u32(&b, GGML_TYPE_F32);
        put_u64(&b, 0);
        pad_to(&b, align ? align : 32);
        for (int i = 0; i < 64; i++)
            put(&b, "\0", 1);
        if (align == 64) {
            gguf_file *gf;
            model_error err;
            assert_int_equal(gguf_open_memory(b.p, b.n, &gf, &err), 0);
            assert_int_equal((const uint8_t *)gguf_tensor_at(gf, 0)->data - b.p, 128);
            gguf_close(gf);
        } else {
            expect_fail(b.p, b.n, "general.alignment");
        }
        free(b.p);
    }
}

/* ---- writer round trip ---- */

static void write_sample(const char *path, bool streamed)
{
    gguf_writer *w = gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(gguf_writer_set_u32(w, "llama.block_count", 3), 0);
    assert_int_equal(gguf_writer_set_i32(w, "neg", -5), 0);
    assert_int_equal(gguf_writer_set_f32(w, "llama.rope.freq_base", 500000.0f), 0);
    assert_int_equal(gguf_writer_set_bool(w, "flag", true), 0);
    assert_int_equal(gguf_writer_set_u32(w, "replaced", 1), 0);
    assert_int_equal(gguf_writer_set_u32(w, "replaced", 2), 0);
    const int32_t ints[] = {1, -2, 3};
    assert_int_equal(gguf_writer_set_arr(w, "ints", GGUF_VT_INT32, ints, 3), 0);
    const char *strs[] = {"a", "", "hello"};
    assert_int_equal(gguf_writer_set_arr_str(w, "strs", strs, 3), 0);
    float a[64], c[40];
    for (int i = 0; i < 64; i++)
        a[i] = (float)i;
    for (int i = 0; i < 40; i++)
        c[i] = -(float)i;
    uint64_t ne_a[2] = {16, 4}, ne_c[1] = {40};
    model_error err;
    if (streamed) {
        assert_int_equal(gguf_writer_declare_tensor(w, "a", 2, ne_a, GGML_TYPE_F32), 0);
        assert_int_equal(gguf_writer_declare_tensor(w, "c", 1, ne_c, GGML_TYPE_F32), 0);
        assert_int_equal(gguf_writer_declare_tensor(w, "a", 1, ne_c, GGML_TYPE_F32), -1);
        assert_int_equal(gguf_writer_write(w, path, &err), -1); /* declared without data */
        assert_int_equal(gguf_writer_begin(w, path, &err), 0);
        /* odd chunking that straddles the tensor boundary */
        uint8_t all[64 * 4 + 40 * 4];
        memcpy(all, a, sizeof a);
        memcpy(all + sizeof a, c, sizeof c);
        assert_int_equal(gguf_writer_stream(w, all, 100, &err), 0);
        assert_int_equal(gguf_writer_stream(w, all + 100, sizeof all - 100, &err), 0);
        assert_int_equal(gguf_writer_finish(w, &err), 0);
    } else {
        assert_int_equal(gguf_writer_add_tensor(w, "a", 2, ne_a, GGML_TYPE_F32, a), 0);
        assert_int_equal(gguf_writer_add_tensor(w, "c", 1, ne_c, GGML_TYPE_F32, c), 0);
        uint64_t bad[1] = {40};
        assert_int_equal(gguf_writer_add_tensor(w, "q", 1, bad, GGML_TYPE_Q8_0, c), -1);
        assert_int_equal(gguf_writer_write(w, path, &err), 0);
    }
    gguf_writer_free(w);
}

static void check_sample(const char *path)
{
    gguf_file *gf;
    model_error err;
    if (gguf_open(path, &gf, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(gguf_version(gf), 3);
    gguf_string s;
    assert_int_equal(gguf_get_str(gf, "general.architecture", &s), 0);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "llama", 5);
    uint32_t u;
    int64_t i64;
    float f;
    bool b;
    assert_int_equal(gguf_get_u32(gf, "llama.block_count", &u), 0);
    assert_int_equal(u, 3);
    assert_int_equal(gguf_get_i64(gf, "llama.block_count", &i64), 0);
    assert_int_equal(i64, 3);
    assert_int_equal(gguf_get_i64(gf, "neg", &i64), 0);
    assert_int_equal(i64, -5);
    assert_int_equal(gguf_get_u32(gf, "neg", &u), -1); /* does not fit */
    assert_int_equal(gguf_get_f32(gf, "llama.rope.freq_base", &f), 0);
    assert_true(f == 500000.0f);
    assert_int_equal(gguf_get_u32(gf, "llama.rope.freq_base", &u), -1);
    assert_int_equal(gguf_get_bool(gf, "flag", &b), 0);
    assert_true(b);
    assert_int_equal(gguf_get_u32(gf, "replaced", &u), 0);
    assert_int_equal(u, 2);
    assert_int_equal(gguf_get_u32(gf, "absent", &u), -1);
    assert_int_equal(gguf_get_str(gf, "flag", &s), -1);
    gguf_value_type et;
    uint64_t n;
    assert_int_equal(gguf_get_arr(gf, "ints", &et, &n), 0);
    assert_int_equal(et, GGUF_VT_INT32);
    assert_int_equal(n, 3);
    int32_t ints[3];
    memcpy(ints, gguf_arr_data(gf, "ints"), sizeof ints);
    assert_int_equal(ints[1], -2);
    assert_int_equal(gguf_get_arr(gf, "strs", &et, &n), 0);
    assert_int_equal(et, GGUF_VT_STRING);
    assert_null(gguf_arr_data(gf, "strs"));
    assert_int_equal(gguf_arr_str(gf, "strs", 1).len, 0);
    assert_non_null(gguf_arr_str(gf, "strs", 1).ptr);
    s = gguf_arr_str(gf, "strs", 2);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "hello", 5);
    assert_null(gguf_arr_str(gf, "strs", 3).ptr);
    assert_int_equal(gguf_n_tensors(gf), 2);
    const gguf_tensor *t = gguf_find_tensor(gf, "c");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->ne[0], 40);
    assert_int_equal(t->ne[1], 1);
    assert_int_equal(t->size, 160);
    assert_int_equal(t->offset % 32, 0);
    float c[40];
    memcpy(c, t->data, sizeof c);
    assert_true(c[39] == -39.0f);
    t = gguf_find_tensor(gf, "a");
    assert_int_equal(t->ne[1], 4);
    float a[64];
    memcpy(a, t->data, sizeof a);
    assert_true(a[63] == 63.0f);
    assert_null(gguf_find_tensor(gf, "missing"));
    assert_null(gguf_tensor_at(gf, 2));
    gguf_close(gf);
}

static void test_writer_round_trip(void **state)
{
    char dir[4096], p1[4200], p2[4200];
    test_mkdtemp(dir, "gguf");
    snprintf(p1, sizeof p1, "%s/copied.gguf", dir);
    snprintf(p2, sizeof p2, "%s/streamed.gguf", dir);
    write_sample(p1, false);
    write_sample(p2, true);
    check_sample(p1);
    check_sample(p2);
    /* both ways produce the same bytes, hence the same fingerprint */
    size_t n1, n2;
    char *b1 = test_read_file(p1, &n1), *b2 = test_read_file(p2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);

    /* every truncation short of the end of the last tensor is refused */
    gguf_file *gf;
    model_error err;
    assert_int_equal(gguf_open_memory(b1, n1, &gf, &err), 0);
    const gguf_tensor *last = gguf_tensor_at(gf, 1);
    size_t end = (size_t)((const char *)last->data - b1) + (size_t)last->size;
    gguf_close(gf);
    for (size_t cut = 0; cut < end; cut++)
        expect_fail(b1, cut, "");
    free(b1);
    free(b2);
    test_rmtree(dir);
}

static void test_open_errors_name_file(void **state)
{
    char dir[4096], p[4200];
    test_mkdtemp(dir, "gguf");
    snprintf(p, sizeof p, "%s/bad.gguf", dir);
    FILE *f = fopen(p, "wb");
    fputs("GGUF\x02", f);
    fclose(f);
    gguf_file *gf;
    model_error err;
    assert_int_equal(gguf_open(p, &gf, &err), -1);
    assert_non_null(strstr(err.msg, p));
    assert_int_equal(gguf_open(dir, &gf, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    snprintf(p, sizeof p, "%s/missing.gguf", dir);
    assert_int_equal(gguf_open(p, &gf, &err), -1);
    assert_non_null(strstr(err.msg, "missing.gguf"));
    test_rmtree(dir);
}

/* ---- the reference tiny models ---- */

static void check_tiny(const char *name, uint32_t weight_type, uint8_t *fp_out)
{
    char path[4096];
    char rel[256];
    snprintf(rel, sizeof rel, "testdata/models/%s", name);
    test_path(path, test_shared_dir(), rel);
    gguf_file *gf;
    model_error err;
    if (gguf_open(path, &gf, &err))
        fail_msg("%s", err.msg);
    gguf_string arch;
    assert_int_equal(gguf_get_str(gf, "general.architecture", &arch), 0);
    assert_int_equal(arch.len, 5);
    assert_memory_equal(arch.ptr, "llama", 5);
    struct { const char *key; uint32_t want; } ints[] = {
        {"llama.block_count", 2}, {"llama.embedding_length", 64},
        {"llama.attention.head_count", 4}, {"llama.attention.head_count_kv", 2},
        {"llama.feed_forward_length", 128}, {"llama.context_length", 2048},
        {"tokenizer.ggml.bos_token_id", 1},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        uint32_t v = 0;
        assert_int_equal(gguf_get_u32(gf, ints[i].key, &v), 0);
        assert_int_equal(v, ints[i].want);
    }
    float base;
    assert_int_equal(gguf_get_f32(gf, "llama.rope.freq_base", &base), 0);
    assert_true(base == 10000.0f);
    gguf_value_type et;
    uint64_t n;
    assert_int_equal(gguf_get_arr(gf, "tokenizer.ggml.tokens", &et, &n), 0);
    assert_int_equal(et, GGUF_VT_STRING);
    assert_int_equal(n, 32000);
    gguf_string tok = gguf_arr_str(gf, "tokenizer.ggml.tokens", 1);
    assert_int_equal(tok.len, 3);
    assert_memory_equal(tok.ptr, "<s>", 3);
    assert_int_equal(gguf_n_tensors(gf), 2 * 9 + 3);
    const gguf_tensor *t = gguf_find_tensor(gf, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 32000);
    assert_int_equal(t->type, weight_type);
    t = gguf_find_tensor(gf, "blk.1.ffn_down.weight");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 128);
    assert_int_equal(t->ne[1], 64);
    assert_int_equal(t->size, (uint64_t)128 / ggml_type_block_elems(weight_type) *
                                  ggml_type_block_bytes(weight_type) * 64);
    t = gguf_find_tensor(gf, "output_norm.weight");
    assert_non_null(t);
    assert_int_equal(t->type, GGML_TYPE_F32);
    float w0;
    memcpy(&w0, t->data, 4);
    assert_true(w0 > 0.5f && w0 < 1.5f); /* norm weights are near 1 */
    assert_non_null(gguf_find_tensor(gf, "output.weight"));
    memcpy(fp_out, gguf_fingerprint(gf), 32);
    gguf_close(gf);
}

static void test_tiny_models(void **state)
{
    if (!test_shared_dir())
        skip(); /* reference data absent */
    uint8_t fp[3][32];
    check_tiny("tiny-f32.gguf", GGML_TYPE_F32, fp[0]);
    check_tiny("tiny-f16.gguf", GGML_TYPE_F16, fp[1]);
    check_tiny("tiny-q8_0.gguf", GGML_TYPE_Q8_0, fp[2]);
    assert_memory_not_equal(fp[0], fp[1], 32);
    assert_memory_not_equal(fp[1], fp[2], 32);
}

static void test_type_table(void **state)
{
    assert_int_equal(ggml_type_block_elems(GGML_TYPE_Q4_K), 256);
    assert_int_equal(ggml_type_block_bytes(GGML_TYPE_Q6_K), 210);
    assert_int_equal(ggml_type_block_bytes(GGML_TYPE_BF16), 2);
    assert_int_equal(ggml_type_block_elems(4), 0);
    assert_string_equal(ggml_type_name(GGML_TYPE_Q8_0), "q8_0");
    uint64_t ne[2] = {64, 3}, sz;
    assert_int_equal(ggml_tensor_nbytes(GGML_TYPE_Q8_0, 2, ne, &sz), 0);
    assert_int_equal(sz, 2 * 34 * 3);
    ne[0] = 33;
    assert_int_equal(ggml_tensor_nbytes(GGML_TYPE_Q8_0, 2, ne, &sz), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_handmade_good),
        cmocka_unit_test(test_header_damage),
        cmocka_unit_test(test_value_damage),
        cmocka_unit_test(test_tensor_damage),
        cmocka_unit_test(test_alignment_key),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_open_errors_name_file),
        cmocka_unit_test(test_tiny_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
