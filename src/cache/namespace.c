/* The namespace id: SHA-256 of a canonical encoding of kvs_namespace_desc, so that two
 * engines share chunks exactly when every field that shapes the KV bytes is equal.
 *
 * Encoding, version 1 (all integers little-endian, floats as their IEEE-754 bits):
 *   "kvspill-ns"        10 bytes, no NUL
 *   u32 encoding version (1)
 *   model_fingerprint   32 bytes
 *   u32 n_layers, u32 n_kv_heads, u32 head_dim, u32 dtype
 *   u32 rope_type, u32 rope_dim, u32 bits(rope_freq_base), u32 bits(rope_freq_scale)
 *   u32 layout_version, u32 tp_rank, u32 tp_size
 *   u32 length of cache_salt, then its bytes (NULL is the empty salt)
 * A new field means a new version number, never a reinterpretation of an old one. */
#include <openssl/evp.h>
#include <string.h>

#include "cache/error.h"

#define NS_MAGIC "kvspill-ns"
#define NS_ENCODING_VERSION 1u

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

kvs_status kvs_namespace_id(const kvs_namespace_desc *desc, kvs_key *ns, kvs_error *err)
{
    if (!desc || !ns)
        return kvs_fail(err, KVS_ERR_INVALID, "namespace: NULL argument");
    if ((unsigned)desc->layout.dtype >= KVS_DTYPE_COUNT)
        return kvs_fail(err, KVS_ERR_INVALID, "namespace: unknown KV dtype %u",
                        (unsigned)desc->layout.dtype);
    if (desc->tp_size == 0 || desc->tp_rank >= desc->tp_size)
        return kvs_fail(err, KVS_ERR_INVALID, "namespace: tp_rank %u is not below tp_size %u",
                        desc->tp_rank, desc->tp_size);
    const char *salt = desc->cache_salt ? desc->cache_salt : "";
    size_t salt_len = strlen(salt);
    if (salt_len > UINT32_MAX)
        return kvs_fail(err, KVS_ERR_INVALID, "namespace: cache_salt is too long");

    const uint32_t fields[] = {
        desc->layout.n_layers, desc->layout.n_kv_heads, desc->layout.head_dim,
        (uint32_t)desc->layout.dtype, desc->rope_type, desc->rope_dim,
        float_bits(desc->rope_freq_base), float_bits(desc->rope_freq_scale),
        desc->layout_version, desc->tp_rank, desc->tp_size, (uint32_t)salt_len,
    };
    uint8_t fixed[sizeof NS_MAGIC - 1 + 4 + 32 + 4 * (sizeof fields / sizeof fields[0])];
    uint8_t *p = fixed;
    memcpy(p, NS_MAGIC, sizeof NS_MAGIC - 1);
    p += sizeof NS_MAGIC - 1;
    put_u32(p, NS_ENCODING_VERSION);
    p += 4;
    memcpy(p, desc->model_fingerprint, 32);
    p += 32;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++, p += 4)
        put_u32(p, fields[i]);

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return kvs_fail(err, KVS_ERR_NOMEM, "namespace: cannot allocate a digest context");
    unsigned int len = 0;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, fixed, sizeof fixed) == 1 &&
             EVP_DigestUpdate(ctx, salt, salt_len) == 1 &&
             EVP_DigestFinal_ex(ctx, ns->b, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return kvs_fail(err, KVS_ERR_INVALID, "namespace: SHA-256 failed in libcrypto");
    return KVS_OK;
}
