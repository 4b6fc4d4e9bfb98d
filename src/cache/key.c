/* Chunk keys (ARCHITECTURE.md §3): k_i = SHA-256(k_{i-1} || le32(tokens of chunk i)), k_{-1} = the
 * namespace id. SHA-256 so that no prompt can be crafted to collide with another tenant's
 * prefix, and so that every host and process computes the same key with no seed. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cache/error.h"
#include "cache/hex.h"

void kvs_key_hex(const kvs_key *key, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < KVS_KEY_BYTES; i++) {
        out[2 * i] = digits[key->b[i] >> 4];
        out[2 * i + 1] = digits[key->b[i] & 15];
    }
    out[KVS_KEY_HEX_LEN] = '\0';
}

kvs_status kvs_key_parse(const char *hex, kvs_key *key)
{
    if (!hex || !key || strlen(hex) != KVS_KEY_HEX_LEN)
        return KVS_ERR_INVALID;
    kvs_key parsed;
    for (size_t i = 0; i < KVS_KEY_BYTES; i++) {
        int hi = kvs_hex_digit_value(hex[2 * i]);
        int lo = kvs_hex_digit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return KVS_ERR_INVALID;
        parsed.b[i] = (uint8_t)(hi << 4 | lo);
    }
    *key = parsed;
    return KVS_OK;
}

bool kvs_key_equal(const kvs_key *a, const kvs_key *b)
{
    return memcmp(a->b, b->b, KVS_KEY_BYTES) == 0;
}

void kvs_key_next(const kvs_key *parent, const int32_t *tokens, size_t n_tokens, kvs_key *key)
{
    /* The API has no error path for one hash step: a digest context that cannot be
     * allocated (a few hundred bytes) means the process is out of memory, and SHA-256
     * over memory has no other way to fail. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, parent->b, KVS_KEY_BYTES) != 1)
        abort();
    /* Tokens are hashed as little-endian int32 whatever the host's byte order. */
    uint8_t buf[4 * 256];
    size_t i = 0;
    while (i < n_tokens) {
        size_t m = 0;
        for (; i < n_tokens && m < sizeof buf; i++, m += 4) {
            uint32_t t = (uint32_t)tokens[i];
            buf[m] = (uint8_t)t;
            buf[m + 1] = (uint8_t)(t >> 8);
            buf[m + 2] = (uint8_t)(t >> 16);
            buf[m + 3] = (uint8_t)(t >> 24);
        }
        if (EVP_DigestUpdate(ctx, buf, m) != 1)
            abort();
    }
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, key->b, &len) != 1 || len != KVS_KEY_BYTES)
        abort();
    EVP_MD_CTX_free(ctx);
}

kvs_status kvs_chunk_keys(const kvs_key *ns, const int32_t *tokens, size_t n_tokens,
                          uint32_t chunk_size, bool include_partial, kvs_key *keys,
                          size_t max_keys, size_t *n_keys, kvs_error *err)
{
    if (!ns || !n_keys || (n_tokens > 0 && !tokens) || (max_keys > 0 && !keys))
        return kvs_fail(err, KVS_ERR_INVALID, "chunk keys: NULL argument");
    if (chunk_size == 0)
        return kvs_fail(err, KVS_ERR_INVALID, "chunk keys: chunk_size must be > 0");
    size_t full = n_tokens / chunk_size;
    size_t count = full + (include_partial && n_tokens % chunk_size ? 1 : 0);
    *n_keys = count;
    const kvs_key *parent = ns;
    for (size_t i = 0; i < count && i < max_keys; i++) {
        size_t start = i * chunk_size;
        size_t len = n_tokens - start < chunk_size ? n_tokens - start : chunk_size;
        kvs_key_next(parent, tokens + start, len, &keys[i]);
        parent = &keys[i];
    }
    if (count > max_keys)
        return kvs_fail(err, KVS_ERR_INVALID,
                        "chunk keys: %zu chunks do not fit in room for %zu keys", count, max_keys);
    return KVS_OK;
}
