/* Writes made while another process holds the eviction lease still count: once the lease
 * is free, the next put rescans and evicts. (They used to be forgotten, so a directory
 * shared by two servers stayed over capacity until another 10% had been written.) */
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

static void put_one(kvs_tier *t, uint32_t i, uint64_t *obj_size)
{
    kvs_chunk *c = make_chunk(i);
    kvs_status st;
    t->methods->put(t, &c, 1, &st);
    assert_int_equal(st, KVS_OK);
    *obj_size = c->total_size;
    kvs_chunk_release(c);
}

static void test_writes_during_a_busy_lease_are_not_forgotten(void **state)
{
    (void)state;
    char root[4096], lease[4200];
    test_mkdtemp(root, "tier-lease-busy");
    uint64_t obj;
    kvs_chunk *probe = make_chunk(0);
    obj = probe->total_size;
    kvs_chunk_release(probe);
    uint64_t cap = 40 * obj;
    kvs_file_tier_options o = {.name = "local_disk", .root = root, .capacity_bytes = cap,
                               .io_depth = 8, .writer_id = "test"};
    kvs_file_tier_tuning tune;
    kvs_file_tier_default_tuning(&tune);
    kvs_tier *t;
    kvs_error err;
    assert_int_equal(kvs_tier_file_open_tuned(&o, &tune, &t, &err), KVS_OK);

    put_one(t, 0, &obj); /* creates v1/ */
    /* Another live process is evicting (it scanned before the writes below). */
    snprintf(lease, sizeof lease, "%s/v1/.evict.lease", root);
    FILE *f = fopen(lease, "w");
    assert_non_null(f);
    fprintf(f, "other:1:1:1 %llu\n", (unsigned long long)(kvs_lease_now_ns() + 60000000000ull));
    fclose(f);
    for (uint32_t i = 1; i < 60; i++)
        put_one(t, i, &obj);
    assert_true(dir_bytes(root) > cap);
    /* It finishes; the next put of this process must see the directory is over capacity. */
    assert_int_equal(unlink(lease), 0);
    put_one(t, 60, &obj);
    uint64_t used = dir_bytes(root);
    printf("capacity %llu, used %llu\n", (unsigned long long)cap, (unsigned long long)used);
    assert_true(used <= cap);
    t->methods->close(t);
    test_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_during_a_busy_lease_are_not_forgotten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
