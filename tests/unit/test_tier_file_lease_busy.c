/* A process that cannot evict because another one holds the lease never takes the
 * directory over its capacity: it refuses what does not fit, and once the lease is free its
 * next put rescans and evicts. (Writes made during a busy lease used to be forgotten, so a
 * directory shared by two servers stayed over capacity until another 10% was written.) */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cache/file_lease.h"
#include "cache/file_scan.h"
#include "cache/object.h"
#include "cache/tier_file.h"

static int add_size(void *ctx, const kvs_scan_entry *e)
{
    *(uint64_t *)ctx += e->size;
    return 0;
}

static uint64_t dir_bytes(const char *root)
{
    uint64_t used = 0;
    kvs_error err;
    assert_int_equal(kvs_file_scan(root, add_size, &used, NULL, &err), KVS_OK);
    return used;
}

static kvs_chunk *make_chunk(uint32_t i)
{
    static const kvs_layout lay = {2, 2, 32, KVS_DTYPE_F16};
    kvs_key ns = {{0}}, key;
    int32_t tok[64];
    for (int j = 0; j < 64; j++)
        tok[j] = (int32_t)(i * 64 + j);
    kvs_key_next(&ns, tok, 64, &key);
    kvs_chunk *c;
    kvs_error err;
    assert_int_equal(kvs_chunk_new(&ns, &ns, &key, 0, tok, 64, &lay, &c, &err), KVS_OK);
    test_fill_random((uint8_t *)kvs_chunk_payload(c), c->info.payload_size, i);
    kvs_object_seal(c);
    return c;
}

static kvs_status put_one(kvs_tier *t, uint32_t i)
{
    kvs_chunk *c = make_chunk(i);
    kvs_status st;
    t->methods->put(t, &c, 1, &st);
    kvs_chunk_release(c);
    return st;
}

/* While another process holds the eviction lease, this one cannot make room: what fits
 * under the capacity is written, the rest is refused as full — the directory never goes
 * over. Once the lease is free, the next put evicts and is written. */
static void test_writes_during_a_busy_lease_stay_within_capacity(void **state)
{
    (void)state;
    char root[4096], lease[4200];
    test_mkdtemp(root, "tier-lease-busy");
    kvs_chunk *probe = make_chunk(0);
    uint64_t obj = probe->total_size;
    kvs_chunk_release(probe);
    uint64_t cap = 40 * obj;
    kvs_file_tier_options o = {.name = "local_disk", .root = root, .capacity_bytes = cap,
                               .io_depth = 8, .writer_id = "test"};
    kvs_file_tier_tuning tune;
    kvs_file_tier_default_tuning(&tune);
    kvs_tier *t;
    kvs_error err;
    assert_int_equal(kvs_tier_file_open_tuned(&o, &tune, &t, &err), KVS_OK);

    assert_int_equal(put_one(t, 0), KVS_OK); /* creates v1/ */
    /* Another live process is evicting (it scanned before the writes below). */
    snprintf(lease, sizeof lease, "%s/v1/.evict.lease", root);
    FILE *f = fopen(lease, "w");
    assert_non_null(f);
    fprintf(f, "other:1:1:1 %llu\n", (unsigned long long)(kvs_lease_now_ns() + 60000000000ull));
    fclose(f);
    uint32_t written = 1, refused = 0;
    for (uint32_t i = 1; i < 60; i++) {
        kvs_status st = put_one(t, i);
        assert_true(st == KVS_OK || st == KVS_ERR_FULL);
        written += st == KVS_OK;
        refused += st == KVS_ERR_FULL;
        assert_true(dir_bytes(root) <= cap);
    }
    printf("written %u, refused %u\n", written, refused);
    assert_int_equal(written, 40);
    assert_int_equal(refused, 20);
    /* It finishes; the next put of this process evicts and is written. */
    assert_int_equal(unlink(lease), 0);
    assert_int_equal(put_one(t, 60), KVS_OK);
    uint64_t used = dir_bytes(root);
    printf("capacity %llu, used %llu\n", (unsigned long long)cap, (unsigned long long)used);
    assert_true(used <= cap);
    t->methods->close(t);
    test_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_during_a_busy_lease_stay_within_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
