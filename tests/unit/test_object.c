/* The chunk object format: sizes, bit-exact encode/parse round trips, and a parser that
 * rejects every damaged header field and never reads past the bytes it is given. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cache/object.h"

static const kvs_layout tiny = {1, 1, 16, KVS_DTYPE_F16};
static const kvs_layout tinyllama = {22, 4, 64, KVS_DTYPE_F16};

static void fill_key(kvs_key *k, uint8_t seed)
{
    for (int i = 0; i < KVS_KEY_BYTES; i++)
        k->b[i] = (uint8_t)(seed * 31 + i);
}

/* A sealed chunk with random tokens and payload; chunk 0 of namespace ns. */
static kvs_chunk *make_chunk(const kvs_key *ns, const kvs_layout *layout, uint32_t n_tokens,
                             uint64_t seed)
{
    int32_t *tokens = malloc(n_tokens * sizeof *tokens);
    assert_non_null(tokens);
    for (uint32_t i = 0; i < n_tokens; i++)
        tokens[i] = (int32_t)((seed * 7919 + i * 104729) % 32000);
    kvs_key key;
    kvs_key_next(ns, tokens, n_tokens, &key);
    kvs_chunk *c;
    kvs_error err;
    assert_int_equal(kvs_chunk_new(ns, ns, &key, 0, tokens, n_tokens, layout, &c, &err), KVS_OK);
    size_t seg = kvs_segment_bytes(layout, n_tokens);
    for (uint32_t l = 0; l < layout->n_layers; l++)
        for (int kv = 0; kv < 2; kv++)
            test_fill_random(kvs_chunk_segment_mut(c, l, kv), seg, seed + l * 2 + (uint64_t)kv);
    free(tokens);
    kvs_object_seal(c);
    return c;
}

static uint8_t *copy_object(const kvs_chunk *c)
{
    uint8_t *buf = kvs_object_alloc_buffer(c->total_size);
    assert_non_null(buf);
    memcpy(buf, c->buf, c->total_size);
    return buf;
}

/* Recomputes the header checksum after a test edits a field, so the edit itself is judged. */
static void reseal_header(uint8_t *buf, size_t header_size)
{
    memset(buf + 224, 0, 8);
    uint64_t sum = XXH3_64bits(buf, header_size);
    for (int i = 0; i < 8; i++)
        buf[224 + i] = (uint8_t)(sum >> (8 * i));
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(kvs_dtype_size(KVS_DTYPE_F32), 4);
    assert_int_equal(kvs_dtype_size(KVS_DTYPE_F16), 2);
    assert_int_equal(kvs_dtype_size(KVS_DTYPE_BF16), 2);
    assert_int_equal(kvs_dtype_size(KVS_DTYPE_COUNT), 0);
    assert_string_equal(kvs_dtype_name(KVS_DTYPE_BF16), "bf16");
    /* 256 tokens x 4 heads x 64 dims x 2 bytes = 128 KiB per segment, 44 segments. */
    assert_int_equal(kvs_segment_bytes(&tinyllama, 256), 131072);
    assert_int_equal(kvs_segment_stride(&tinyllama, 256), 131072);
    assert_int_equal(kvs_payload_bytes(&tinyllama, 256), 44 * 131072);
    assert_int_equal(kvs_object_header_size(256), 4096);
    assert_int_equal(kvs_object_header_size(1000), 8192);
    /* 3 tokens x 16 dims x 2 bytes = 96 bytes, padded to one block. */
    assert_int_equal(kvs_segment_bytes(&tiny, 3), 96);
    assert_int_equal(kvs_segment_stride(&tiny, 3), 4096);
    assert_int_equal(kvs_payload_bytes(&tiny, 3), 8192);
    kvs_layout bad = tiny;
    bad.dtype = KVS_DTYPE_COUNT;
    assert_int_equal(kvs_payload_bytes(&bad, 3), 0);
    assert_int_equal(kvs_payload_bytes(&tiny, 0), 0);
    assert_int_equal(kvs_payload_bytes(&tiny, KVS_OBJECT_MAX_TOKENS + 1), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    const kvs_layout layouts[] = {
        {1, 1, 16, KVS_DTYPE_F16}, {2, 3, 40, KVS_DTYPE_F32},
        {4, 2, 64, KVS_DTYPE_BF16}, {22, 4, 64, KVS_DTYPE_F16},
    };
    const uint32_t sizes[] = {1, 16, 255, 256, 1100};
    kvs_key ns;
    fill_key(&ns, 1);
    for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; li++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const kvs_layout *lay = &layouts[li];
            uint32_t n = sizes[si];
            kvs_chunk *c = make_chunk(&ns, lay, n, li * 10 + si);
            assert_int_equal(c->total_size % KVS_OBJECT_ALIGN, 0);
            assert_int_equal(c->total_size, kvs_object_header_size(n) + kvs_payload_bytes(lay, n));
            kvs_chunk *d;
            kvs_error err;
            assert_int_equal(kvs_object_from_bytes(copy_object(c), c->total_size, &ns,
                                                   &c->info.key, c->tokens, n, &d, &err),
                             KVS_OK);
            const kvs_chunk_info *a = kvs_chunk_get_info(c), *b = kvs_chunk_get_info(d);
            assert_memory_equal(a, b, sizeof *a);
            assert_memory_equal(kvs_chunk_tokens(d), c->tokens, n * sizeof(int32_t));
            assert_memory_equal(kvs_chunk_payload(d), kvs_chunk_payload(c), a->payload_size);
            for (uint32_t l = 0; l < lay->n_layers; l++) {
                const uint8_t *seg = kvs_chunk_segment(d, l, 1);
                assert_int_equal((uintptr_t)seg % KVS_OBJECT_ALIGN, 0);
                assert_memory_equal(seg, kvs_chunk_segment(c, l, 1), kvs_segment_bytes(lay, n));
            }
            assert_null(kvs_chunk_segment(d, lay->n_layers, 0));
            assert_null(kvs_chunk_segment(d, 0, 2));
            /* Without expectations the object still verifies on its own. */
            kvs_chunk *e;
            assert_int_equal(kvs_object_from_bytes(copy_object(c), c->total_size, NULL, NULL,
                                                   NULL, 0, &e, &err), KVS_OK);
            kvs_chunk_release(e);
            kvs_chunk_release(d);
            kvs_chunk_release(c);
        }
    }
}

static void test_little_endian_fields(void **state)
{
    (void)state;
    kvs_key ns;
    fill_key(&ns, 2);
    kvs_chunk *c = make_chunk(&ns, &tiny, 5, 3);
    const uint8_t *h = c->buf;
    assert_memory_equal(h, "KVSPILL\0", 8);
    assert_int_equal(h[8], 1);              /* version */
    assert_int_equal(h[12] | h[13] << 8, 4096); /* header size */
    assert_int_equal(h[116], 5);            /* n_tokens */
    assert_int_equal(h[128], 16);           /* head_dim */
    assert_int_equal(h[132], KVS_DTYPE_F16);
    int32_t t0 = (int32_t)(h[232] | h[233] << 8 | h[234] << 16 | (uint32_t)h[235] << 24);
    assert_int_equal(t0, c->tokens[0]);
    kvs_chunk_release(c);
}

static void expect_corrupt(const kvs_chunk *c, uint8_t *buf, size_t len, const kvs_key *ns)
{
    kvs_chunk *d = (kvs_chunk *)0x1;
    kvs_error err = {0};
    assert_int_equal(kvs_object_from_bytes(buf, len, ns, &c->info.key, c->tokens,
                                           c->info.n_tokens, &d, &err), KVS_ERR_CORRUPT);
    assert_null(d);
    assert_true(strlen(err.msg) > 0);
}

/* A flipped bit anywhere in the header (every field, the tokens, the padding) is caught. */
static void test_every_header_byte_damage_detected(void **state)
{
    (void)state;
    kvs_key ns;
    fill_key(&ns, 3);
    kvs_chunk *c = make_chunk(&ns, &tiny, 7, 4);
    for (size_t off = 0; off < c->header_size; off++) {
        uint8_t *buf = copy_object(c);
        buf[off] ^= (uint8_t)(1u << (off % 8));
        expect_corrupt(c, buf, c->total_size, &ns);
    }
    kvs_chunk_release(c);
}

static void test_payload_damage_detected(void **state)
{
    (void)state;
    kvs_key ns;
    fill_key(&ns, 4);
    kvs_chunk *c = make_chunk(&ns, &tinyllama, 16, 5);
    const size_t offs[] = {0, 1, 4095, 4096, c->info.payload_size / 2, c->info.payload_size - 1};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        uint8_t *buf = copy_object(c);
        buf[c->header_size + offs[i]] ^= 0x40;
        expect_corrupt(c, buf, c->total_size, &ns);
    }
    kvs_chunk_release(c);
}

/* Fields edited with a correct header checksum: the checks behind the checksum hold. */
static void test_consistent_but_wrong_fields_rejected(void **state)
{
    (void)state;
    kvs_key ns, other;
    fill_key(&ns, 5);
    fill_key(&other, 6);
    kvs_chunk *c = make_chunk(&ns, &tiny, 9, 6);
    size_t hs = c->header_size;
    struct {
        size_t off;
        uint8_t val;
    } edits[] = {
        {8, 2},      /* version */
        {12, 0x20},  /* header size */
        {116, 10},   /* n_tokens: header size and payload no longer match */
        {120, 2},    /* n_layers: payload size no longer matches */
        {127, 0x80}, /* n_kv_heads huge */
        {131, 0xff}, /* head_dim huge */
        {132, 7},    /* dtype */
        {136, 1},    /* payload size */
        {232, 0x55}, /* a token: the key is no longer its chain key */
        {48, 0x11},  /* parent: same */
        {223, 'x'},  /* writer id without a terminator */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        uint8_t *buf = copy_object(c);
        buf[edits[i].off] ^= edits[i].val;
        reseal_header(buf, hs);
        expect_corrupt(c, buf, c->total_size, &ns);
    }
    /* A valid object of another namespace, asked for under this one. */
    expect_corrupt(c, copy_object(c), c->total_size, &other);
    /* Expected tokens differ from the object's. */
    int32_t wrong[9];
    memcpy(wrong, c->tokens, sizeof wrong);
    wrong[8]++;
    kvs_chunk *d;
    kvs_error err;
    assert_int_equal(kvs_object_from_bytes(copy_object(c), c->total_size, &ns, &c->info.key,
                                           wrong, 9, &d, &err), KVS_ERR_CORRUPT);
    assert_non_null(strstr(err.msg, "tokens"));
    assert_int_equal(kvs_object_from_bytes(copy_object(c), c->total_size, &ns, &c->info.key,
                                           c->tokens, 8, &d, &err), KVS_ERR_CORRUPT);
    kvs_chunk_release(c);
}

/* Every truncation is rejected, and parsing a prefix never reads past it (ASan). */
static void test_truncation_and_bounds(void **state)
{
    (void)state;
    kvs_key ns;
    fill_key(&ns, 7);
    kvs_chunk *c = make_chunk(&ns, &tiny, 3, 8);
    for (size_t len = 0; len < c->header_size; len++) {
        uint8_t *prefix = malloc(len ? len : 1);
        memcpy(prefix, c->buf, len);
        kvs_chunk_info info;
        size_t hs;
        assert_int_equal(kvs_object_parse_header(prefix, len, &info, &hs, NULL, NULL),
                         KVS_ERR_CORRUPT);
        free(prefix);
    }
    kvs_chunk_info info;
    size_t hs;
    int32_t toks[3];
    assert_int_equal(kvs_object_parse_header(c->buf, c->header_size, &info, &hs, toks, NULL),
                     KVS_OK);
    assert_memory_equal(toks, c->tokens, sizeof toks);
    const size_t lens[] = {c->header_size, c->header_size + 1, c->total_size - 4096,
                           c->total_size - 1};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        expect_corrupt(c, copy_object(c), lens[i], &ns);
    /* A longer buffer than the header says is also not this object. */
    uint8_t *longer = kvs_object_alloc_buffer(c->total_size + 4096);
    memcpy(longer, c->buf, c->total_size);
    memset(longer + c->total_size, 0, 4096);
    expect_corrupt(c, longer, c->total_size + 4096, &ns);
    /* A huge token count with a valid checksum is refused before any allocation. */
    uint8_t *buf = copy_object(c);
    buf[119] = 0x7f;
    reseal_header(buf, c->header_size);
    assert_int_equal(kvs_object_parse_header(buf, c->total_size, &info, &hs, NULL, NULL),
                     KVS_ERR_CORRUPT);
    kvs_object_free_buffer(buf);
    kvs_chunk_release(c);
}

static void test_chunk_new_checks(void **state)
{
    (void)state;
    kvs_key ns, key;
    fill_key(&ns, 8);
    int32_t tokens[4] = {1, 2, 3, 4};
    kvs_key_next(&ns, tokens, 4, &key);
    kvs_chunk *c;
    kvs_error err;
    kvs_key wrong = key;
    wrong.b[0] ^= 1;
    assert_int_equal(kvs_chunk_new(&ns, &ns, &wrong, 0, tokens, 4, &tiny, &c, &err),
                     KVS_ERR_INVALID);
    assert_null(c);
    kvs_layout bad = tiny;
    bad.n_layers = 0;
    assert_int_equal(kvs_chunk_new(&ns, &ns, &key, 0, tokens, 4, &bad, &c, &err),
                     KVS_ERR_INVALID);
    bad = tiny;
    bad.head_dim = KVS_OBJECT_MAX_HEAD_DIM + 1;
    assert_int_equal(kvs_chunk_new(&ns, &ns, &key, 0, tokens, 4, &bad, &c, &err),
                     KVS_ERR_INVALID);
    assert_int_equal(kvs_chunk_new(&ns, &ns, &key, 0, tokens, 4, &tiny, &c, &err), KVS_OK);
    /* The payload starts zeroed; seal is idempotent; references count. */
    const uint8_t *p = kvs_chunk_payload(c);
    for (size_t i = 0; i < c->info.payload_size; i++)
        assert_int_equal(p[i], 0);
    assert_true(strlen(c->info.writer_id) > 0);
    kvs_object_seal(c);
    uint64_t sum = XXH3_64bits(c->buf, c->header_size);
    kvs_object_seal(c);
    assert_int_equal(sum, XXH3_64bits(c->buf, c->header_size));
    assert_ptr_equal(kvs_chunk_ref(c), c);
    kvs_chunk_release(c);
    assert_int_equal(atomic_load(&c->refs), 1);
    kvs_chunk_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_little_endian_fields),
        cmocka_unit_test(test_every_header_byte_damage_detected),
        cmocka_unit_test(test_payload_damage_detected),
        cmocka_unit_test(test_consistent_but_wrong_fields_rejected),
        cmocka_unit_test(test_truncation_and_bounds),
        cmocka_unit_test(test_chunk_new_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
