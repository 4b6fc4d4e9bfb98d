/* The load-or-compute plan and its estimates, on hand-computed cases: everything fast
 * loads everything; a fast prefix before a slow tail loads the prefix only; a slow chunk
 * that later fast chunks make up for is loaded with them; everything slower than compute
 * loads nothing; measurements move the estimates (split over tiers in proportion, bounds
 * only in their direction) and with them the plan; the time-to-first-token estimate counts
 * the steps' decode tokens. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "engine/load_plan.h"

/* 1 MB and 100 tokens a chunk, computed at 1000 tokens/s: 0.1 s per chunk. */
#define MB 1000000u
#define TOK 100u

static load_est est(double mem_bps, double disk_bps)
{
    load_est e;
    memset(&e, 0, sizeof e);
    e.tier_bps[0] = mem_bps;
    e.tier_bps[1] = disk_bps;
    e.tier_bps[2] = e.tier_bps[3] = 1e6;
    e.compute_tps = 1000;
    return e;
}

static void test_all_fast_loads_all(void **state)
{
    (void)state;
    load_est e = est(1e9, 1e8); /* 0.001 s and 0.01 s a chunk */
    load_item items[] = {{0, MB, TOK}, {0, MB, TOK}, {1, MB, TOK}, {1, MB, TOK}};
    double load_s, compute_s;
    assert_int_equal(load_plan(&e, items, 4, &load_s, &compute_s), 4);
    assert_float_equal(load_s, 0.022, 1e-12);
    assert_float_equal(compute_s, 0.4, 1e-12);
}

static void test_fast_prefix_slow_tail(void **state)
{
    (void)state;
    load_est e = est(1e9, 1e6); /* the disk: 1 s a chunk, ten times the compute */
    load_item items[] = {{0, MB, TOK}, {0, MB, TOK}, {1, MB, TOK}, {1, MB, TOK}};
    double load_s, compute_s;
    assert_int_equal(load_plan(&e, items, 4, &load_s, &compute_s), 2);
    assert_float_equal(load_s, 0.002, 1e-12);
    assert_float_equal(compute_s, 0.2, 1e-12);
    /* A chunk the prefix cache mostly holds saves few tokens: not worth 1 s alone. */
    load_item partial[] = {{1, MB, 10}};
    assert_int_equal(load_plan(&e, partial, 1, &load_s, &compute_s), 0);
    assert_float_equal(load_s, 0, 0);
    assert_float_equal(compute_s, 0, 0);
}

static void test_slow_head_made_up_later(void **state)
{
    (void)state;
    load_est e = est(1e9, 5e6); /* the disk: 0.2 s a chunk */
    load_item items[] = {{1, MB, TOK}, {0, MB, TOK}, {0, MB, TOK}, {0, MB, TOK}};
    double load_s, compute_s;
    /* Cumulative load 0.2, 0.201, 0.202, 0.203 against compute 0.1, 0.2, 0.3, 0.4. */
    assert_int_equal(load_plan(&e, items, 4, &load_s, &compute_s), 4);
    assert_float_equal(load_s, 0.203, 1e-12);
    assert_int_equal(load_plan(&e, items, 2, &load_s, &compute_s), 0);
    /* A chunk on no known tier ends the hit. */
    items[2].tier = -1;
    assert_int_equal(load_plan(&e, items, 4, &load_s, &compute_s), 0);
}

static void test_all_slow_loads_nothing(void **state)
{
    (void)state;
    load_est e = est(1e6, 1e6);
    load_item items[] = {{0, MB, TOK}, {1, MB, TOK}, {1, MB, TOK}};
    double load_s = -1, compute_s = -1;
    assert_int_equal(load_plan(&e, items, 3, &load_s, &compute_s), 0);
    assert_float_equal(load_s, 0, 0);
    assert_float_equal(compute_s, 0, 0);
    assert_int_equal(load_plan(&e, items, 0, &load_s, &compute_s), 0);
}

static void test_estimates_follow_measurements(void **state)
{
    (void)state;
    load_est e = est(1e9, 1e8);
    load_item items[] = {{0, MB, TOK}, {1, MB, TOK}, {1, MB, TOK}};
    double load_s, compute_s;
    assert_int_equal(load_plan(&e, items, 3, &load_s, &compute_s), 3);

    /* One tier: 1 MB in 0.1 s is 1e7 B/s; a quarter of the way from 1e8. */
    uint64_t disk_only[KVS_MAX_TIERS] = {0, MB, 0, 0};
    load_est_observe(&e, disk_only, 0.1, LOAD_EXACT);
    assert_float_equal(e.tier_bps[1], 7.75e7, 1);
    assert_float_equal(e.tier_bps[0], 1e9, 0);

    /* Two tiers, 1 s expected each, 4 s measured: both scaled by a half, a quarter way. */
    e = est(1e9, 1e8);
    uint64_t both[KVS_MAX_TIERS] = {1000 * MB, 100 * MB, 0, 0};
    load_est_observe(&e, both, 4.0, LOAD_EXACT);
    assert_float_equal(e.tier_bps[0], 8.75e8, 1);
    assert_float_equal(e.tier_bps[1], 8.75e7, 1);

    /* "At most 4 s" says nothing against 2 s expected; "at most 1 s" raises. */
    e = est(1e9, 1e8);
    load_est_observe(&e, both, 4.0, LOAD_AT_MOST);
    assert_float_equal(e.tier_bps[1], 1e8, 0);
    load_est_observe(&e, both, 1.0, LOAD_AT_MOST);
    assert_float_equal(e.tier_bps[1], 1.25e8, 1);
    /* "At least 1 s" says nothing against 1.6 s expected now; "at least 16 s" lowers. */
    load_est_observe(&e, both, 1.0, LOAD_AT_LEAST);
    assert_float_equal(e.tier_bps[1], 1.25e8, 1);
    load_est_observe(&e, both, 16.0, LOAD_AT_LEAST);
    assert_float_equal(e.tier_bps[1], 1.25e8 * 0.775, 1);

    /* Repeated slow disk loads (1 MB in 2 s) bring the plan down to the memory chunk. */
    e = est(1e9, 1e8);
    for (int i = 0; i < 40; i++)
        load_est_observe(&e, disk_only, 2.0, LOAD_EXACT);
    assert_true(e.tier_bps[1] < 1e6);
    assert_int_equal(load_plan(&e, items, 3, &load_s, &compute_s), 1);

    /* Prefill: the first measurement (512 tokens in 0.256 s) replaces the prior of 1000;
     * the next (4000 tokens/s) moves the average a quarter of the way; no time, no sample. */
    assert_false(e.compute_measured);
    load_est_note_compute(&e, 512, 0);
    assert_false(e.compute_measured);
    load_est_note_compute(&e, 512, 0.256);
    assert_true(e.compute_measured);
    assert_float_equal(e.compute_tps, 2000, 1e-9);
    load_est_note_compute(&e, 512, 0.128);
    assert_float_equal(e.compute_tps, 2500, 1e-9);
    load_est_note_compute(&e, 512, 0);
    assert_float_equal(e.compute_tps, 2500, 1e-9);
}

/* At 1000 tokens/s, steps of 512 tokens. */
static void test_ttft_counts_decode_per_step(void **state)
{
    (void)state;
    load_est e = est(1e9, 1e8);
    /* idle: the prompt's own 300 tokens, plus the load */
    assert_float_equal(ttft_estimate_s(&e, 0, 300, 0, 512, 0.05), 0.35, 1e-12);
    /* 12 sequences decoding: 500 prefill tokens a step; 1200 tokens (700 queued + 500)
     * take 3 steps, each with 12 decode tokens: (1200 + 36) / 1000 */
    assert_float_equal(ttft_estimate_s(&e, 700, 500, 12, 512, 0), 1.236, 1e-12);
    /* nothing to prefill (all held) still waits one step of the decoders */
    assert_float_equal(ttft_estimate_s(&e, 0, 0, 12, 512, 0), 0.012, 1e-12);
    /* more decoders than the step holds: one prefill token a step */
    assert_float_equal(ttft_estimate_s(&e, 0, 2, 600, 512, 0), (2 + 2 * 600) / 1000.0, 1e-12);
}

static void test_priors_by_tier_kind(void **state)
{
    (void)state;
    kvs_stats st;
    memset(&st, 0, sizeof st);
    st.n_tiers = 4;
    const char *names[] = {"mem", "local_disk", "gds", "redis"};
    for (int i = 0; i < 4; i++)
        snprintf(st.tiers[i].name, sizeof st.tiers[i].name, "%s", names[i]);
    load_est e;
    load_est_init(&e, &st);
    assert_true(e.tier_bps[0] >= 4 * e.tier_bps[1]);
    assert_true(e.tier_bps[1] == e.tier_bps[2]);
    assert_true(e.tier_bps[2] > e.tier_bps[3]);
    assert_true(e.compute_tps > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_fast_loads_all),
        cmocka_unit_test(test_fast_prefix_slow_tail),
        cmocka_unit_test(test_slow_head_made_up_later),
        cmocka_unit_test(test_all_slow_loads_nothing),
        cmocka_unit_test(test_estimates_follow_measurements),
        cmocka_unit_test(test_priors_by_tier_kind),
        cmocka_unit_test(test_ttft_counts_decode_per_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
