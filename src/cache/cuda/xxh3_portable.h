/* XXH3-64 with seed 0 and the default secret, written from the xxHash specification
 * (doc/xxhash_spec.md) once for both the CPU and the GPU: every function is KVS_XXH3_HD
 * (__host__ __device__ under nvcc, plain C elsewhere). tests/unit/test_xxh3_portable.c checks
 * it against libxxhash on the CPU; cuda/xxh3.cu runs the long-input loop with a warp per
 * buffer and calls the pieces below for everything else.
 *
 * The secret is passed in (kvs_xxh3_host_secret(), or a device copy) because device
 * code cannot read a host variable. Every read is little-endian byte by byte, so any
 * alignment of input and secret works. */
#ifndef KVSPILL_CACHE_CUDA_XXH3_PORTABLE_H
#define KVSPILL_CACHE_CUDA_XXH3_PORTABLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define KVS_XXH3_HD __host__ __device__
#else
#define KVS_XXH3_HD
#endif

#define KVS_XXH3_SECRET_SIZE 192
#define KVS_XXH3_STRIPE_LEN 64
#define KVS_XXH3_STRIPES_PER_BLOCK ((KVS_XXH3_SECRET_SIZE - KVS_XXH3_STRIPE_LEN) / 8) /* 16 */
#define KVS_XXH3_BLOCK_LEN (KVS_XXH3_STRIPE_LEN * KVS_XXH3_STRIPES_PER_BLOCK)        /* 1024 */
#define KVS_XXH3_MIDSIZE_MAX 240
/* Secret offsets the specification names. */
#define KVS_XXH3_SCRAMBLE_OFFSET (KVS_XXH3_SECRET_SIZE - KVS_XXH3_STRIPE_LEN)
#define KVS_XXH3_LAST_STRIPE_OFFSET (KVS_XXH3_SECRET_SIZE - KVS_XXH3_STRIPE_LEN - 7)
#define KVS_XXH3_MERGE_OFFSET 11

#define KVS_XXH_PRIME32_1 0x9E3779B1u
#define KVS_XXH_PRIME32_2 0x85EBCA77u
#define KVS_XXH_PRIME32_3 0xC2B2AE3Du
#define KVS_XXH_PRIME64_1 0x9E3779B185EBCA87ull
#define KVS_XXH_PRIME64_2 0xC2B2AE3D27D4EB4Full
#define KVS_XXH_PRIME64_3 0x165667B19E3779F9ull
#define KVS_XXH_PRIME64_4 0x85EBCA77C2B2AE63ull
#define KVS_XXH_PRIME64_5 0x27D4EB2F165667C5ull
#define KVS_XXH_PRIME_MX1 0x165667919E3779F9ull
#define KVS_XXH_PRIME_MX2 0x9FB21C651E98DF25ull

/* The specification's default secret (kSecret), as an initializer list. */
#define KVS_XXH3_SECRET_BYTES                                                                \
    {                                                                                      \
        0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, \
        0xad, 0x1c, 0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, \
        0xb7, 0xb3, 0x67, 0x1f, 0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, \
        0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21, 0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, \
        0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c, 0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, \
        0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3, 0x71, 0x64, 0x48, 0x97, \
        0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8, 0xa8, 0xfa, \
        0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d, \
        0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, \
        0x73, 0x64, 0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, \
        0xfa, 0x13, 0x63, 0xeb, 0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, \
        0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e, 0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, \
        0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce, 0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, \
        0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,                        \
    }

/* The default secret in host memory. */
static inline const uint8_t *kvs_xxh3_host_secret(void)
{
    static const uint8_t secret[KVS_XXH3_SECRET_SIZE] = KVS_XXH3_SECRET_BYTES;
    return secret;
}

static inline KVS_XXH3_HD uint32_t kvs_xxh_read32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline KVS_XXH3_HD uint64_t kvs_xxh_read64(const uint8_t *p)
{
    return (uint64_t)kvs_xxh_read32(p) | (uint64_t)kvs_xxh_read32(p + 4) << 32;
}

static inline KVS_XXH3_HD uint64_t kvs_xxh_rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline KVS_XXH3_HD uint64_t kvs_xxh_swap64(uint64_t x)
{
    uint64_t r = 0;
    for (int i = 0; i < 8; i++)
        r |= ((x >> (8 * i)) & 0xffu) << (56 - 8 * i);
    return r;
}

/* The 128-bit product of a and b, folded: low half XOR high half. */
static inline KVS_XXH3_HD uint64_t kvs_xxh_mul128_fold64(uint64_t a, uint64_t b)
{
#ifdef __CUDA_ARCH__
    return (a * b) ^ __umul64hi(a, b);
#else
    unsigned __int128 p = (unsigned __int128)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
#endif
}

static inline KVS_XXH3_HD uint64_t kvs_xxh64_avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= KVS_XXH_PRIME64_2;
    h ^= h >> 29;
    h *= KVS_XXH_PRIME64_3;
    h ^= h >> 32;
    return h;
}

static inline KVS_XXH3_HD uint64_t kvs_xxh3_avalanche(uint64_t h)
{
    h ^= h >> 37;
    h *= KVS_XXH_PRIME_MX1;
    h ^= h >> 32;
    return h;
}

static inline KVS_XXH3_HD uint64_t kvs_xxh3_rrmxmx(uint64_t h, uint64_t len)
{
    h ^= kvs_xxh_rotl64(h, 49) ^ kvs_xxh_rotl64(h, 24);
    h *= KVS_XXH_PRIME_MX2;
    h ^= (h >> 35) + len;
    h *= KVS_XXH_PRIME_MX2;
    h ^= h >> 28;
    return h;
}

/* ---- short inputs (seed 0, so the seed terms of the specification vanish) ---- */

static inline KVS_XXH3_HD uint64_t kvs_xxh3_len_0to16(const uint8_t *in, size_t len,
                                                 const uint8_t *secret)
{
    if (len > 8) {
        uint64_t lo = kvs_xxh_read64(in) ^ (kvs_xxh_read64(secret + 24) ^ kvs_xxh_read64(secret + 32));
        uint64_t hi = kvs_xxh_read64(in + len - 8) ^
                      (kvs_xxh_read64(secret + 40) ^ kvs_xxh_read64(secret + 48));
        uint64_t acc = (uint64_t)len + kvs_xxh_swap64(lo) + hi + kvs_xxh_mul128_fold64(lo, hi);
        return kvs_xxh3_avalanche(acc);
    }
    if (len >= 4) {
        uint64_t in1 = kvs_xxh_read32(in), in2 = kvs_xxh_read32(in + len - 4);
        uint64_t keyed = (in2 + (in1 << 32)) ^
                         (kvs_xxh_read64(secret + 8) ^ kvs_xxh_read64(secret + 16));
        return kvs_xxh3_rrmxmx(keyed, len);
    }
    if (len > 0) {
        uint32_t combined = (uint32_t)in[0] << 16 | (uint32_t)in[len >> 1] << 24 |
                            (uint32_t)in[len - 1] | (uint32_t)len << 8;
        uint64_t flip = (uint64_t)(kvs_xxh_read32(secret) ^ kvs_xxh_read32(secret + 4));
        return kvs_xxh64_avalanche((uint64_t)combined ^ flip);
    }
    return kvs_xxh64_avalanche(kvs_xxh_read64(secret + 56) ^ kvs_xxh_read64(secret + 64));
}

static inline KVS_XXH3_HD uint64_t kvs_xxh3_mix16(const uint8_t *in, const uint8_t *secret)
{
    return kvs_xxh_mul128_fold64(kvs_xxh_read64(in) ^ kvs_xxh_read64(secret),
                                 kvs_xxh_read64(in + 8) ^ kvs_xxh_read64(secret + 8));
}

static inline KVS_XXH3_HD uint64_t kvs_xxh3_len_17to128(const uint8_t *in, size_t len,
                                                   const uint8_t *secret)
{
    uint64_t acc = (uint64_t)len * KVS_XXH_PRIME64_1;
    /* Pairs of 16-byte lanes from both ends, outermost first in the secret. */
    size_t pairs = (len - 1) / 32; /* 0..3 extra pairs beyond the first */
    for (size_t i = pairs + 1; i-- > 0;) {
        acc += kvs_xxh3_mix16(in + 16 * i, secret + 32 * i);
        acc += kvs_xxh3_mix16(in + len - 16 * (i + 1), secret + 32 * i + 16);
    }
    return kvs_xxh3_avalanche(acc);
}

static inline KVS_XXH3_HD uint64_t kvs_xxh3_len_129to240(const uint8_t *in, size_t len,
                                                    const uint8_t *secret)
{
    uint64_t acc = (uint64_t)len * KVS_XXH_PRIME64_1;
    size_t rounds = len / 16;
    for (size_t i = 0; i < 8; i++)
        acc += kvs_xxh3_mix16(in + 16 * i, secret + 16 * i);
    acc = kvs_xxh3_avalanche(acc);
    for (size_t i = 8; i < rounds; i++)
        acc += kvs_xxh3_mix16(in + 16 * i, secret + 16 * (i - 8) + 3);
    acc += kvs_xxh3_mix16(in + len - 16, secret + 136 - 17);
    return kvs_xxh3_avalanche(acc);
}

/* ---- long inputs: eight accumulators over 64-byte stripes, scrambled per 1 KiB block ---- */

/* What one 8-byte word of a stripe adds to its own accumulator (the other accumulator of
 * its pair receives the word itself). */
static inline KVS_XXH3_HD uint64_t kvs_xxh3_word_product(uint64_t word, uint64_t key)
{
    uint64_t k = word ^ key;
    return (k & 0xffffffffu) * (k >> 32);
}

static inline KVS_XXH3_HD uint64_t kvs_xxh3_scramble_one(uint64_t acc, uint64_t key)
{
    acc ^= acc >> 47;
    acc ^= key;
    return acc * KVS_XXH_PRIME32_1;
}

static inline KVS_XXH3_HD void kvs_xxh3_init_accs(uint64_t acc[8])
{
    acc[0] = KVS_XXH_PRIME32_3;
    acc[1] = KVS_XXH_PRIME64_1;
    acc[2] = KVS_XXH_PRIME64_2;
    acc[3] = KVS_XXH_PRIME64_3;
    acc[4] = KVS_XXH_PRIME64_4;
    acc[5] = KVS_XXH_PRIME32_2;
    acc[6] = KVS_XXH_PRIME64_5;
    acc[7] = KVS_XXH_PRIME32_1;
}

static inline KVS_XXH3_HD void kvs_xxh3_accumulate_stripe(uint64_t acc[8], const uint8_t *stripe,
                                                     const uint8_t *secret)
{
    for (int i = 0; i < 8; i++) {
        uint64_t w = kvs_xxh_read64(stripe + 8 * i);
        acc[i ^ 1] += w;
        acc[i] += kvs_xxh3_word_product(w, kvs_xxh_read64(secret + 8 * i));
    }
}

static inline KVS_XXH3_HD void kvs_xxh3_scramble(uint64_t acc[8], const uint8_t *secret)
{
    for (int i = 0; i < 8; i++)
        acc[i] = kvs_xxh3_scramble_one(acc[i], kvs_xxh_read64(secret + KVS_XXH3_SCRAMBLE_OFFSET + 8 * i));
}

/* Stripes [first, first + n) of a block (at most KVS_XXH3_STRIPES_PER_BLOCK). */
static inline KVS_XXH3_HD void kvs_xxh3_accumulate(uint64_t acc[8], const uint8_t *block, size_t n,
                                              const uint8_t *secret)
{
    for (size_t s = 0; s < n; s++)
        kvs_xxh3_accumulate_stripe(acc, block + s * KVS_XXH3_STRIPE_LEN, secret + 8 * s);
}

/* Full blocks of a long input, followed by kvs_xxh3_long_finish. */
static inline KVS_XXH3_HD size_t kvs_xxh3_full_blocks(size_t len)
{
    return (len - 1) / KVS_XXH3_BLOCK_LEN;
}

/* After the full blocks: the partial last block, the input's last 64 bytes, the merge. */
static inline KVS_XXH3_HD uint64_t kvs_xxh3_long_finish(uint64_t acc[8], const uint8_t *in,
                                                   size_t len, const uint8_t *secret)
{
    size_t done = kvs_xxh3_full_blocks(len) * KVS_XXH3_BLOCK_LEN;
    kvs_xxh3_accumulate(acc, in + done, (len - 1 - done) / KVS_XXH3_STRIPE_LEN, secret);
    kvs_xxh3_accumulate_stripe(acc, in + len - KVS_XXH3_STRIPE_LEN,
                               secret + KVS_XXH3_LAST_STRIPE_OFFSET);
    uint64_t h = (uint64_t)len * KVS_XXH_PRIME64_1;
    for (int i = 0; i < 4; i++)
        h += kvs_xxh_mul128_fold64(acc[2 * i] ^ kvs_xxh_read64(secret + KVS_XXH3_MERGE_OFFSET + 16 * i),
                                   acc[2 * i + 1] ^
                                       kvs_xxh_read64(secret + KVS_XXH3_MERGE_OFFSET + 16 * i + 8));
    return kvs_xxh3_avalanche(h);
}

/* Inputs of at most KVS_XXH3_MIDSIZE_MAX bytes. */
static inline KVS_XXH3_HD uint64_t kvs_xxh3_short(const uint8_t *in, size_t len, const uint8_t *secret)
{
    if (len <= 16)
        return kvs_xxh3_len_0to16(in, len, secret);
    if (len <= 128)
        return kvs_xxh3_len_17to128(in, len, secret);
    return kvs_xxh3_len_129to240(in, len, secret);
}

/* The whole hash, sequentially (the CPU reference of the GPU path). */
static inline KVS_XXH3_HD uint64_t kvs_xxh3_64(const void *data, size_t len, const uint8_t *secret)
{
    const uint8_t *in = (const uint8_t *)data;
    if (len <= KVS_XXH3_MIDSIZE_MAX)
        return kvs_xxh3_short(in, len, secret);
    uint64_t acc[8];
    kvs_xxh3_init_accs(acc);
    size_t blocks = kvs_xxh3_full_blocks(len);
    for (size_t b = 0; b < blocks; b++) {
        kvs_xxh3_accumulate(acc, in + b * KVS_XXH3_BLOCK_LEN, KVS_XXH3_STRIPES_PER_BLOCK, secret);
        kvs_xxh3_scramble(acc, secret);
    }
    return kvs_xxh3_long_finish(acc, in, len, secret);
}

#endif
