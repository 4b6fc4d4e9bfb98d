/* A process that cannot evict because another one holds the lease never takes the
 * directory over its capacity: it refuses what does not fit, and once the lease is free its
 * next put rescans and evicts. (Writes made during a busy lease used to be forgotten, so a
 * directory shared by two servers stayed over capacity until another 10% was written.)
 * Another process's usage record, newer than its own scan, gives it the room back, and takes
 * none of the room this process's writes after that record's scan use. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cache/file_lease.h"
#include "cache/kvs_admin.h"
#include "cache/file_usage.h"
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

static uint64_t object_size(void)
{
    kvs_chunk *probe = make_chunk(0);
    uint64_t size = probe->total_size;
    kvs_chunk_release(probe);
    return size;
}

/* Another live process holds the eviction lease (for a minute). */
static void hold_lease(const char *root, char *lease, size_t size)
{
    snprintf(lease, size, "%s/v1/.evict.lease", root);
    FILE *f = fopen(lease, "w");
    assert_non_null(f);
    fprintf(f, "other:1:1:1 %llu\n", (unsigned long long)(kvs_lease_now_ns() + 60000000000ull));
    fclose(f);
}

/* The other process never finishes its pass in these tests: wait only 1 ms for it. */
static kvs_tier *open_tier(const char *root, uint64_t cap)
{
    kvs_file_tier_options o = {.name = "local_disk", .root = root, .capacity_bytes = cap,
                               .io_depth = 8, .writer_id = "test"};
    kvs_file_tier_tuning tune;
    kvs_file_tier_default_tuning(&tune);
    tune.lease_wait_ns = 1000000;
    kvs_tier *t;
    kvs_error err;
    assert_int_equal(kvs_tier_file_open_tuned(&o, &tune, &t, &err), KVS_OK);
    return t;
}

/* While another process holds the eviction lease, this one cannot make room: what fits
 * under the capacity is written, the rest is refused as full — the directory never goes
 * over. Once the lease is free, the next put evicts and is written. */
static void test_writes_during_a_busy_lease_stay_within_capacity(void **state)
{
    (void)state;
    char root[4096], lease[4200];
    test_mkdtemp(root, "tier-lease-busy");
    uint64_t obj = object_size();
    uint64_t cap = 40 * obj;
    kvs_tier *t = open_tier(root, cap);

    assert_int_equal(put_one(t, 0), KVS_OK); /* creates v1/ */
    /* Another live process is evicting (it scanned before the writes below). */
    hold_lease(root, lease, sizeof lease);
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

/* The other process's pass ends and leaves its usage record while it still holds the
 * lease: this process takes the record's figure and writes again, without a scan of its
 * own; a record older than its own scan is not taken. */
static void test_a_newer_usage_record_makes_room(void **state)
{
    (void)state;
    char root[4096], lease[4200];
    test_mkdtemp(root, "tier-usage");
    uint64_t obj = object_size();
    uint64_t cap = 10 * obj;
    kvs_tier *t = open_tier(root, cap);
    kvs_error err;
    assert_int_equal(put_one(t, 0), KVS_OK);
    kvs_evict_report rep;
    assert_int_equal(kvs_tier_file_evict_now(t, &rep, &err), KVS_OK); /* our own scan */
    kvs_usage_record old_rec;
    assert_true(kvs_file_usage_read(root, &old_rec));
    assert_int_equal(old_rec.used_bytes, obj);
    assert_int_equal(old_rec.objects, 1);

    hold_lease(root, lease, sizeof lease);
    uint32_t i = 1;
    while (put_one(t, i) == KVS_OK)
        i++;
    assert_int_equal(i, 10); /* full by its own count */
    /* A record older than our scan says nothing new. */
    kvs_usage_record stale = {0, 0, old_rec.at_ns - 1};
    assert_int_equal(kvs_file_usage_write(root, &stale, &err), KVS_OK);
    assert_int_equal(put_one(t, 100), KVS_ERR_FULL);
    /* The other process evicted down to 4 objects' worth and says so. */
    kvs_usage_record rec = {4 * obj, 4, kvs_lease_now_ns()};
    assert_int_equal(kvs_file_usage_write(root, &rec, &err), KVS_OK);
    for (uint32_t k = 0; k < 6; k++)
        assert_int_equal(put_one(t, 200 + k), KVS_OK);
    assert_int_equal(put_one(t, 300), KVS_ERR_FULL);
    assert_int_equal(unlink(lease), 0);
    t->methods->close(t);
    test_rmtree(root);
}

/* The record's scan began after our first write and before the next two: those two are not
 * in its figure and stay counted. (All three were forgotten before, and three servers on one
 * directory took it ~27% over its capacity in the soak.) */
static void test_a_record_does_not_forget_later_writes(void **state)
{
    (void)state;
    char root[4096], lease[4200];
    test_mkdtemp(root, "tier-usage-later");
    uint64_t obj = object_size();
    uint64_t cap = 10 * obj;
    kvs_tier *t = open_tier(root, cap);
    kvs_error err;
    kvs_evict_report rep;
    assert_int_equal(put_one(t, 0), KVS_OK);
    assert_int_equal(kvs_tier_file_evict_now(t, &rep, &err), KVS_OK);
    hold_lease(root, lease, sizeof lease);
    assert_int_equal(put_one(t, 1), KVS_OK);
    nanosleep(&(struct timespec){0, 2000000}, NULL);
    uint64_t scan_began = kvs_lease_now_ns();
    nanosleep(&(struct timespec){0, 2000000}, NULL);
    assert_int_equal(put_one(t, 2), KVS_OK);
    assert_int_equal(put_one(t, 3), KVS_OK);
    /* The other process's pass: 4 objects' worth then (it evicted some of ours). */
    kvs_usage_record rec = {4 * obj, 4, scan_began};
    assert_int_equal(kvs_file_usage_write(root, &rec, &err), KVS_OK);
    uint32_t more = 0;
    while (put_one(t, 100 + more) == KVS_OK)
        more++;
    assert_int_equal(more, 4); /* 4 + the 2 unseen + 4 = 10 */
    assert_int_equal(unlink(lease), 0);
    t->methods->close(t);
    test_rmtree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_during_a_busy_lease_stay_within_capacity),
        cmocka_unit_test(test_a_newer_usage_record_makes_room),
        cmocka_unit_test(test_a_record_does_not_forget_later_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
