/* The directory estimate (cache/file_estimate.h): taking another process's usage record
 * forgets only this process's writes made before that record's scan began, never the later
 * ones; its own scans go by the monotonic clock, so a stepped wall clock cannot keep the
 * directory "full"; a full log errs high; claims and releases balance. */
#include "testutil.h"

#include "cache/file_estimate.h"

static void test_claims_hold_room_until_published_or_released(void **state)
{
    (void)state;
    kvs_dir_estimate e;
    kvs_estimate_init(&e, 100);
    assert_true(kvs_estimate_claim(&e, 60));
    assert_false(kvs_estimate_claim(&e, 41)); /* the 60 in flight count */
    assert_true(kvs_estimate_claim(&e, 40));
    kvs_estimate_release(&e, 40);
    assert_int_equal(kvs_estimate_bytes(&e), 60);
    kvs_estimate_publish(&e, 60, 1000, 1000);
    assert_int_equal(kvs_estimate_bytes(&e), 60);
    assert_int_equal(kvs_estimate_unscanned(&e), 60);
    kvs_estimate_release(&e, 5); /* nothing in flight: saturates, takes nothing published */
    assert_int_equal(kvs_estimate_bytes(&e), 60);
    kvs_estimate_destroy(&e);
}

/* Writes at t = 10, 20, 30; a record of a scan that began at 25 saw the first two. */
static void test_a_record_keeps_the_writes_after_its_scan(void **state)
{
    (void)state;
    kvs_dir_estimate e;
    kvs_estimate_init(&e, 1000);
    kvs_estimate_own_scan(&e, 100, 5, 5);
    for (uint64_t at = 10; at <= 30; at += 10) {
        assert_true(kvs_estimate_claim(&e, 10));
        kvs_estimate_publish(&e, 10, at, at);
    }
    assert_int_equal(kvs_estimate_bytes(&e), 130);
    assert_true(kvs_estimate_take_record(&e, 50, 25));
    assert_int_equal(kvs_estimate_bytes(&e), 60); /* 50 + the write at 30 */
    assert_int_equal(kvs_estimate_unscanned(&e), 10);
    /* An older record is not taken; our own scan always is. */
    assert_false(kvs_estimate_take_record(&e, 0, 20));
    assert_int_equal(kvs_estimate_bytes(&e), 60);
    kvs_estimate_own_scan(&e, 70, 40, 40);
    assert_int_equal(kvs_estimate_bytes(&e), 70);
    assert_int_equal(kvs_estimate_unscanned(&e), 0);
    kvs_estimate_destroy(&e);
}

/* More writes than the log holds: the oldest merge into later entries, so after a record
 * in the middle the estimate is at least the true figure and the total is exact. */
static void test_a_full_log_errs_high(void **state)
{
    (void)state;
    kvs_dir_estimate e;
    kvs_estimate_init(&e, UINT64_MAX / 2);
    uint64_t writes = 3 * KVS_ESTIMATE_LOG;
    for (uint64_t i = 1; i <= writes; i++) {
        assert_true(kvs_estimate_claim(&e, 1));
        kvs_estimate_publish(&e, 1, i, i);
    }
    assert_int_equal(kvs_estimate_unscanned(&e), writes);
    uint64_t mid = writes / 2;
    assert_true(kvs_estimate_take_record(&e, 0, mid)); /* saw the writes at 1 .. mid-1 */
    uint64_t exact = writes - (mid - 1);
    assert_true(kvs_estimate_bytes(&e) >= exact);
    assert_true(kvs_estimate_bytes(&e) <= writes);
    kvs_estimate_own_scan(&e, 0, writes + 1, writes + 1);
    assert_int_equal(kvs_estimate_bytes(&e), 0);
    kvs_estimate_destroy(&e);
}

/* The wall clock stepped an hour ahead, then back: writes made while it was ahead carry
 * realtime stamps later than any scan for the next hour. A record does not drop them (errs
 * high); this process's own scan, by the monotonic clock, does. (By realtime they stayed
 * counted, the directory looked full, and every put rescanned it: the torture's clock phase
 * left a replica unable to stop within 60 s.) */
static void test_a_stepped_clock_cannot_keep_the_directory_full(void **state)
{
    (void)state;
    const uint64_t hour = 3600ull * 1000000000ull;
    kvs_dir_estimate e;
    kvs_estimate_init(&e, 100);
    kvs_estimate_own_scan(&e, 0, 1, 1000);
    assert_true(kvs_estimate_claim(&e, 60));
    kvs_estimate_publish(&e, 60, 10, 1000 + hour); /* clock ahead */
    assert_true(kvs_estimate_claim(&e, 30));
    kvs_estimate_publish(&e, 30, 20, 2000); /* and back */
    assert_true(kvs_estimate_take_record(&e, 0, 3000));
    assert_int_equal(kvs_estimate_bytes(&e), 90);
    assert_false(kvs_estimate_claim(&e, 20));
    kvs_estimate_own_scan(&e, 40, 30, 4000); /* a scan of ours saw both */
    assert_int_equal(kvs_estimate_bytes(&e), 40);
    assert_true(kvs_estimate_claim(&e, 60));
    kvs_estimate_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_hold_room_until_published_or_released),
        cmocka_unit_test(test_a_record_keeps_the_writes_after_its_scan),
        cmocka_unit_test(test_a_full_log_errs_high),
        cmocka_unit_test(test_a_stepped_clock_cannot_keep_the_directory_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
