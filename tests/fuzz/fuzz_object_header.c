/* Fuzzes the chunk object parser: the header alone, then the whole object with and without
 * expectations. Input is hostile; nothing may read past it or trust a field unchecked.
 * Each input runs twice: as given, and with its key chain and checksums made consistent
 * (as a buggy or malicious writer would make them), since random bytes almost never pass
 * the checksums and the field checks behind them would go unfuzzed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cache/object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Offsets of the format (src/cache/object.c). */
enum {
    OFF_HEADER_SIZE = 12,
    OFF_KEY = 16,
    OFF_PARENT = 48,
    OFF_N_TOKENS = 116,
    OFF_PAYLOAD_SIZE = 136,
    OFF_PAYLOAD_SUM = 144,
    OFF_HEADER_SUM = 224,
    OFF_TOKENS = 232,
};

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the key (chain of parent and tokens), payload and header checksums in place,
 * as far as the sizes the header claims fit in the buffer. */
static void make_consistent(uint8_t *b, size_t size)
{
    if (size < OFF_TOKENS)
        return;
    uint64_t hsize = get_le(b + OFF_HEADER_SIZE, 4), n_tokens = get_le(b + OFF_N_TOKENS, 4);
    if (hsize < OFF_TOKENS || hsize > size)
        return;
    if (n_tokens <= (hsize - OFF_TOKENS) / 4) {
        int32_t *tokens = malloc(n_tokens ? n_tokens * 4 : 1);
        if (!tokens)
            return;
        for (uint64_t i = 0; i < n_tokens; i++)
            tokens[i] = (int32_t)get_le(b + OFF_TOKENS + 4 * i, 4);
        kvs_key parent, key;
        memcpy(parent.b, b + OFF_PARENT, KVS_KEY_BYTES);
        kvs_key_next(&parent, tokens, n_tokens, &key);
        memcpy(b + OFF_KEY, key.b, KVS_KEY_BYTES);
        free(tokens);
    }
    uint64_t payload = get_le(b + OFF_PAYLOAD_SIZE, 8);
    if (payload <= size - hsize)
        put_le64(b + OFF_PAYLOAD_SUM, XXH3_64bits(b + hsize, payload));
    memset(b + OFF_HEADER_SUM, 0, 8);
    put_le64(b + OFF_HEADER_SUM, XXH3_64bits(b, hsize));
}

static void parse_all(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so a read past the end is caught by the sanitizer. */
    uint8_t *exact = malloc(size ? size : 1);
    if (!exact)
        return;
    memcpy(exact, data, size);
    kvs_chunk_info info;
    size_t header_size;
    kvs_error err;
    if (kvs_object_parse_header(exact, size, &info, &header_size, NULL, &err) == KVS_OK) {
        int32_t *tokens = malloc((size_t)info.n_tokens * sizeof *tokens);
        if (tokens &&
            kvs_object_parse_header(exact, size, &info, &header_size, tokens, &err) == KVS_OK) {
            uint8_t *obj = kvs_object_alloc_buffer(size);
            if (obj) {
                memcpy(obj, data, size);
                kvs_chunk *c;
                if (kvs_object_from_bytes(obj, size, &info.ns, &info.key, tokens, info.n_tokens,
                                          &c, &err) == KVS_OK)
                    kvs_chunk_release(c);
            }
        }
        free(tokens);
    }
    uint8_t *obj = kvs_object_alloc_buffer(size);
    if (obj) {
        memcpy(obj, data, size);
        kvs_chunk *c;
        if (kvs_object_from_bytes(obj, size, NULL, NULL, NULL, 0, &c, &err) == KVS_OK)
            kvs_chunk_release(c);
    }
    free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_all(data, size);
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed)
        return 0;
    memcpy(fixed, data, size);
    make_consistent(fixed, size);
    parse_all(fixed, size);
    free(fixed);
    return 0;
}
