/* Chunk keys: known answers from sha256sum, the chain, partial chunks, chunk sizes, hex. */
#include "testutil.h"

#include <openssl/evp.h>
#include <string.h>

#include "kvspill.h"

/* SHA-256 of a byte string built by hand, independently of kvs_key_next's encoder. */
static void sha256_bytes(const uint8_t *buf, size_t len, kvs_key *out)
{
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(buf, len, out->b, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
}

static void put_le32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)u, p[1] = (uint8_t)(u >> 8), p[2] = (uint8_t)(u >> 16), p[3] = (uint8_t)(u >> 24);
}

static void test_known_answer(void **state)
{
    (void)state;
    /* (head -c 32 /dev/zero; printf '\x01\0\0\0\x02\0\0\0\0\x01\0\0\xff\xff\xff\xff') | sha256sum */
    kvs_key zero = {{0}}, key, expected;
    const int32_t tokens[] = {1, 2, 256, -1};
    kvs_key_next(&zero, tokens, 4, &key);
    assert_int_equal(kvs_key_parse("3a024d9a3514e8b5e41d628b83179117461bc049317d69580dfc404d60fb25ba",
                                   &expected), KVS_OK);
    assert_true(kvs_key_equal(&key, &expected));
    /* head -c 32 /dev/zero | sha256sum: no tokens hashes the parent alone. */
    kvs_key_next(&zero, NULL, 0, &key);
    char hex[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(&key, hex);
    assert_string_equal(hex, "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
}

/* More tokens than kvs_key_next's internal conversion buffer, against a hand-built string. */
static void test_long_chunk_matches_hand_encoding(void **state)
{
    (void)state;
    enum { N = 1000 };
    int32_t tokens[N];
    uint8_t bytes[32 + 4 * N];
    kvs_key parent, key, expected;
    for (int i = 0; i < 32; i++)
        parent.b[i] = (uint8_t)(i * 7 + 1);
    memcpy(bytes, parent.b, 32);
    for (int i = 0; i < N; i++) {
        tokens[i] = i * 7919 - 400000;
        put_le32(bytes + 32 + 4 * i, tokens[i]);
    }
    kvs_key_next(&parent, tokens, N, &key);
    sha256_bytes(bytes, sizeof bytes, &expected);
    assert_true(kvs_key_equal(&key, &expected));
}

static void make_tokens(int32_t *t, size_t n, int32_t seed)
{
    for (size_t i = 0; i < n; i++)
        t[i] = (int32_t)((uint32_t)seed * 2654435761u + (uint32_t)i * 40503u) % 128000;
}

static void test_chain_property(void **state)
{
    (void)state;
    kvs_key ns = {{0}};
    ns.b[0] = 0xab;
    int32_t tokens[3 * 16 + 5];
    make_tokens(tokens, 53, 1);
    kvs_key keys[4];
    size_t n = 0;
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 53, 16, false, keys, 4, &n, NULL), KVS_OK);
    assert_int_equal(n, 3);
    kvs_key expect = ns;
    for (size_t i = 0; i < 3; i++) {
        kvs_key next;
        kvs_key_next(&expect, tokens + 16 * i, 16, &next);
        assert_true(kvs_key_equal(&keys[i], &next));
        expect = next;
    }
    /* A chunk's key depends on everything before it: change token 0, every key changes. */
    tokens[0] ^= 1;
    kvs_key keys2[3];
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 48, 16, false, keys2, 3, &n, NULL), KVS_OK);
    for (size_t i = 0; i < 3; i++)
        assert_false(kvs_key_equal(&keys[i], &keys2[i]));
    /* ... and the namespace too. */
    tokens[0] ^= 1;
    ns.b[31] ^= 1;
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 48, 16, false, keys2, 3, &n, NULL), KVS_OK);
    assert_false(kvs_key_equal(&keys[0], &keys2[0]));
}

static void test_partial_chunk(void **state)
{
    (void)state;
    kvs_key ns = {{1}}, keys[8];
    int32_t tokens[40];
    make_tokens(tokens, 40, 2);
    size_t n = 99;
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 40, 16, false, keys, 8, &n, NULL), KVS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 40, 16, true, keys, 8, &n, NULL), KVS_OK);
    assert_int_equal(n, 3);
    kvs_key last;
    kvs_key_next(&keys[1], tokens + 32, 8, &last);
    assert_true(kvs_key_equal(&keys[2], &last));
    /* An exact multiple has no partial chunk either way. */
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 32, 16, true, keys, 8, &n, NULL), KVS_OK);
    assert_int_equal(n, 2);
    /* Fewer tokens than a chunk: nothing, or one partial chunk. */
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 5, 16, false, keys, 8, &n, NULL), KVS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 5, 16, true, keys, 8, &n, NULL), KVS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(kvs_chunk_keys(&ns, NULL, 0, 16, true, NULL, 0, &n, NULL), KVS_OK);
    assert_int_equal(n, 0);
}

static void test_chunk_sizes(void **state)
{
    (void)state;
    enum { N = 1024 };
    static int32_t tokens[N];
    make_tokens(tokens, N, 3);
    kvs_key ns = {{9}};
    const uint32_t sizes[] = {1, 7, 16, 256, 1000, 1024, 4096};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint32_t cs = sizes[s];
        static kvs_key keys[N];
        size_t n = 0;
        assert_int_equal(kvs_chunk_keys(&ns, tokens, N, cs, false, keys, N, &n, NULL), KVS_OK);
        assert_int_equal(n, N / cs);
        kvs_key parent = ns;
        for (size_t i = 0; i < n; i++) {
            kvs_key k;
            kvs_key_next(&parent, tokens + i * cs, cs, &k);
            assert_true(kvs_key_equal(&k, &keys[i]));
            parent = k;
        }
    }
    /* The chunk size is part of a key's identity: chunk 0 of 256 tokens and chunk 0 of
     * 16 tokens of the same prompt have different keys. */
    kvs_key a, b;
    kvs_key_next(&ns, tokens, 256, &a);
    kvs_key_next(&ns, tokens, 16, &b);
    assert_false(kvs_key_equal(&a, &b));
}

static void test_errors(void **state)
{
    (void)state;
    kvs_key ns = {{0}}, keys[2];
    int32_t tokens[64] = {0};
    size_t n = 0;
    kvs_error err;
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 64, 0, false, keys, 2, &n, &err), KVS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "chunk_size"));
    /* Too little room: the count is still reported and the first keys are written. */
    assert_int_equal(kvs_chunk_keys(&ns, tokens, 64, 16, false, keys, 2, &n, &err), KVS_ERR_INVALID);
    assert_int_equal(n, 4);
    kvs_key first;
    kvs_key_next(&ns, tokens, 16, &first);
    assert_true(kvs_key_equal(&first, &keys[0]));
}

static void test_hex_round_trip(void **state)
{
    (void)state;
    kvs_key k, back;
    for (int i = 0; i < 32; i++)
        k.b[i] = (uint8_t)(i * 37 + 5);
    char hex[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(&k, hex);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(kvs_key_parse(hex, &back), KVS_OK);
    assert_true(kvs_key_equal(&k, &back));
    for (char *p = hex; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(kvs_key_parse(hex, &back), KVS_OK);
    assert_true(kvs_key_equal(&k, &back));
    hex[10] = 'g';
    assert_int_equal(kvs_key_parse(hex, &back), KVS_ERR_INVALID);
    assert_int_equal(kvs_key_parse("abcd", &back), KVS_ERR_INVALID);
    hex[10] = '0';
    char longer[70];
    snprintf(longer, sizeof longer, "%s0", hex);
    assert_int_equal(kvs_key_parse(longer, &back), KVS_ERR_INVALID);
    assert_int_equal(kvs_key_parse(NULL, &back), KVS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_long_chunk_matches_hand_encoding),
        cmocka_unit_test(test_chain_property),
        cmocka_unit_test(test_partial_chunk),
        cmocka_unit_test(test_chunk_sizes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hex_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
