/* Building chunks with known payloads for the cache and tier tests (header-only). */
#ifndef KVSPILL_TEST_CHUNKS_H
#define KVSPILL_TEST_CHUNKS_H

#include <stdlib.h>
#include <string.h>

#include "kvspill.h"
#include "testutil.h"

/* Tokens of a prompt from a seed: different seeds give different prompts. */
static inline void test_tokens(int32_t *t, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        t[i] = (int32_t)((seed * 2654435761u + (uint32_t)i * 40503u) % 32000u);
}

/* The chunk for tokens[0..n) (chunk `index`, key chained under parent) with a payload of
 * pseudo-random bytes from seed. The caller owns the one reference. */
static inline kvs_chunk *test_chunk(const kvs_key *ns, const kvs_key *parent, uint32_t index,
                                    const int32_t *tokens, uint32_t n, const kvs_layout *layout,
                                    uint64_t seed)
{
    kvs_key key;
    kvs_key_next(parent, tokens, n, &key);
    kvs_chunk *c = NULL;
    kvs_error err;
    if (kvs_chunk_new(ns, parent, &key, index, tokens, n, layout, &c, &err) != KVS_OK)
        fail_msg("kvs_chunk_new: %s", err.msg);
    size_t seg = kvs_segment_bytes(layout, n);
    for (uint32_t l = 0; l < layout->n_layers; l++)
        for (int kv = 0; kv < 2; kv++)
            test_fill_random(kvs_chunk_segment_mut(c, l, kv), seg, seed * 1000003u + l * 2u + (uint64_t)kv);
    return c;
}

/* Checks that c holds exactly the payload test_chunk(…, seed) wrote. */
static inline void test_check_payload(const kvs_chunk *c, uint64_t seed)
{
    const kvs_chunk_info *info = kvs_chunk_get_info(c);
    size_t seg = kvs_segment_bytes(&info->layout, info->n_tokens);
    uint8_t *want = malloc(seg);
    assert_non_null(want);
    for (uint32_t l = 0; l < info->layout.n_layers; l++)
        for (int kv = 0; kv < 2; kv++) {
            test_fill_random(want, seg, seed * 1000003u + l * 2u + (uint64_t)kv);
            assert_memory_equal(kvs_chunk_segment(c, l, kv), want, seg);
        }
    free(want);
}

#endif
