/* A file tier client for the multi-process tests. Chunks are derived from a seed, so any
 * process can rebuild the exact bytes a seed must hold and check what it reads.
 *
 *   helper_file_writer loop DIR LAYERS          put seeds 0..49 over and over (to be killed)
 *   helper_file_writer check DIR FIRST COUNT LAYERS   get seeds; exit 1 on a wrong or
 *                                               damaged object (absent is fine)
 *   helper_file_writer worker DIR ID ITERS CAPACITY   put and get shared and own seeds
 *   helper_file_writer populate DIR N_NS PER_NS       objects in several namespaces
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/object.h"
#include "cache/tier_file.h"
#include "testutil.h"

enum { TOKENS = 64 };

static kvs_layout layout_of(uint32_t layers)
{
    return (kvs_layout){layers, 2, 64, KVS_DTYPE_F16};
}

static void ns_of(uint32_t nsi, kvs_key *ns)
{
    for (int i = 0; i < KVS_KEY_BYTES; i++)
        ns->b[i] = (uint8_t)(nsi * 13 + i);
}

static void tokens_of(uint64_t seed, int32_t *tok)
{
    for (int j = 0; j < TOKENS; j++)
        tok[j] = (int32_t)((seed * 1000 + (uint64_t)j) % 2000000000);
}

static kvs_chunk *chunk_of(uint32_t nsi, uint64_t seed, uint32_t layers)
{
    kvs_key ns, key;
    ns_of(nsi, &ns);
    int32_t tok[TOKENS];
    tokens_of(seed, tok);
    kvs_key_next(&ns, tok, TOKENS, &key);
    kvs_layout lay = layout_of(layers);
    kvs_chunk *c;
    kvs_error err;
    if (kvs_chunk_new(&ns, &ns, &key, 0, tok, TOKENS, &lay, &c, &err) != KVS_OK) {
        fprintf(stderr, "chunk: %s\n", err.msg);
        exit(2);
    }
    test_fill_random(kvs_chunk_segment_mut(c, 0, 0), c->info.payload_size, seed);
    kvs_object_seal(c);
    return c;
}

static kvs_tier *open_dir(const char *dir, uint64_t capacity)
{
    kvs_file_tier_options o = {.root = dir, .capacity_bytes = capacity, .io_depth = 4};
    kvs_file_tier_tuning tune;
    kvs_file_tier_default_tuning(&tune);
    tune.lease_ttl_ns = 5000000000ull;
    kvs_tier *t;
    kvs_error err;
    if (kvs_tier_file_open_tuned(&o, &tune, &t, &err) != KVS_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        exit(2);
    }
    return t;
}

/* KVS_OK and bit-exact, or absent: fine. Anything else: a reader saw a bad object. */
static int check_one(kvs_tier *t, uint32_t nsi, uint64_t seed, uint32_t layers, int *found)
{
    kvs_chunk *want = chunk_of(nsi, seed, layers);
    kvs_chunk_request r = {want->info.key, 0, want->tokens, TOKENS};
    kvs_chunk *got;
    kvs_status st;
    t->methods->get(t, &want->info.ns, &r, 1, &got, &st);
    int bad = 0;
    if (st == KVS_OK) {
        bad = memcmp(kvs_chunk_payload(got), kvs_chunk_payload(want),
                     want->info.payload_size) != 0;
        kvs_chunk_release(got);
        (*found)++;
    } else if (st != KVS_ERR_NOT_FOUND) {
        kvs_tier_stats s;
        t->methods->stats(t, &s);
        fprintf(stderr, "seed %llu: %s (%s)\n", (unsigned long long)seed, kvs_status_str(st),
                s.last_error);
        bad = 1;
    }
    kvs_chunk_release(want);
    return bad;
}

static _Noreturn void run_loop(const char *dir, uint32_t layers)
{
    kvs_tier *t = open_dir(dir, 0);
    for (uint64_t i = 0;; i++) {
        kvs_chunk *c[2] = {chunk_of(0, i % 50, layers), chunk_of(0, (i + 25) % 50, layers)};
        kvs_status st[2];
        t->methods->put(t, c, 2, st);
        kvs_chunk_release(c[0]);
        kvs_chunk_release(c[1]);
    }
}

static int run_check(const char *dir, uint64_t first, uint64_t count, uint32_t layers)
{
    kvs_tier *t = open_dir(dir, 0);
    int bad = 0, found = 0;
    for (uint64_t s = first; s < first + count; s++)
        bad += check_one(t, 0, s, layers, &found);
    printf("found %d of %llu, %d bad\n", found, (unsigned long long)count, bad);
    t->methods->close(t);
    return bad ? 1 : 0;
}

static int run_worker(const char *dir, uint32_t id, uint32_t iters, uint64_t capacity)
{
    kvs_tier *t = open_dir(dir, capacity);
    srand(id * 7919 + 1);
    int bad = 0, found = 0, refused = 0;
    for (uint32_t i = 0; i < iters; i++) {
        /* Shared seeds 0..29 (all workers write them), own seeds from id * 100000. */
        uint64_t shared = (uint64_t)(rand() % 30), own = (uint64_t)id * 100000 + i;
        kvs_chunk *c[2] = {chunk_of(1, shared, 1), chunk_of(1, own, 1)};
        kvs_status st[2];
        t->methods->put(t, c, 2, st);
        for (int k = 0; k < 2; k++) {
            /* Full: at capacity while another worker's pass ran past the lease wait. */
            if (st[k] == KVS_ERR_FULL) {
                refused++;
            } else if (st[k] != KVS_OK) {
                fprintf(stderr, "worker %u put: %s\n", id, kvs_status_str(st[k]));
                bad++;
            }
            kvs_chunk_release(c[k]);
        }
        bad += check_one(t, 1, (uint64_t)(rand() % 30), 1, &found);
        bad += check_one(t, 1, (uint64_t)id * 100000 + (uint64_t)(rand() % (i + 1)), 1, &found);
    }
    printf("worker %u: %d found, %d bad, %d puts refused as full\n", id, found, bad, refused);
    t->methods->close(t);
    /* Writers that wait for each other's usage records refuse few puts (none on an idle
     * machine); refusing most of them (80% before the records) is a defect. */
    if (refused > (int)iters / 2) {
        fprintf(stderr, "worker %u: %d of %u puts refused as full\n", id, refused, 2 * iters);
        return 1;
    }
    return bad ? 1 : 0;
}

static int run_populate(const char *dir, uint32_t n_ns, uint32_t per_ns)
{
    kvs_tier *t = open_dir(dir, 0);
    for (uint32_t n = 0; n < n_ns; n++) {
        for (uint32_t i = 0; i < per_ns; i++) {
            kvs_chunk *c = chunk_of(n + 2, i, 1);
            kvs_status st;
            t->methods->put(t, &c, 1, &st);
            kvs_chunk_release(c);
            if (st != KVS_OK)
                return 2;
        }
    }
    t->methods->close(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "loop"))
        run_loop(argv[2], (uint32_t)atoi(argv[3]));
    if (argc == 6 && !strcmp(argv[1], "check"))
        return run_check(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10),
                         (uint32_t)atoi(argv[5]));
    if (argc == 6 && !strcmp(argv[1], "worker"))
        return run_worker(argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]),
                          strtoull(argv[5], NULL, 10));
    if (argc == 5 && !strcmp(argv[1], "populate"))
        return run_populate(argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]));
    fprintf(stderr, "usage: helper_file_writer loop|check|worker|populate ...\n");
    return 2;
}
