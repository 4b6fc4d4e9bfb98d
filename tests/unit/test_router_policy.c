/* Router routing math: rendezvous hashing is stable under backend removal (only the
 * removed backend's keys move), prefix hashing looks at the first K full blocks only, the
 * load cap skips overloaded backends, and kvaware weighs held chunks against load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router/router_hash.h"
#include "router/router_kvaware.h"

static void rendezvous_moves_only_removed_keys(void **state)
{
    (void)state;
    uint64_t ids[4] = {11, 22, 33, 44};
    bool all[4] = {true, true, true, true}, three[4] = {true, true, false, true};
    int counts[4] = {0};
    for (uint64_t k = 0; k < 4000; k++) {
        uint64_t key = router_hash_bytes(1, &k, sizeof k);
        int before = router_rendezvous(key, ids, all, 4);
        int after = router_rendezvous(key, ids, three, 4);
        assert_in_range(before, 0, 3);
        counts[before]++;
        if (before != 2)
            assert_int_equal(before, after);
        else
            assert_int_not_equal(after, 2);
    }
    for (int i = 0; i < 4; i++) /* roughly even: each within 25% of 1000 */
        assert_in_range(counts[i], 750, 1250);
    bool none[4] = {false};
    assert_int_equal(router_rendezvous(1, ids, none, 4), -1);
}

static void prefix_hash_reads_first_blocks(void **state)
{
    (void)state;
    char a[2048], b[2048];
    memset(a, 'x', sizeof a);
    memcpy(b, a, sizeof b);
    b[1500] = 'y'; /* past 4 blocks of 256 */
    assert_true(router_prefix_hash(a, sizeof a, 256, 4) == router_prefix_hash(b, sizeof b, 256, 4));
    b[100] = 'y'; /* inside the first block */
    assert_true(router_prefix_hash(a, sizeof a, 256, 4) != router_prefix_hash(b, sizeof b, 256, 4));
    /* Prompts of different lengths sharing their full blocks hash the same. */
    assert_true(router_prefix_hash(a, 600, 256, 4) == router_prefix_hash(a, 700, 256, 4));
    /* Shorter than one block: the whole text. */
    assert_true(router_prefix_hash("abc", 3, 256, 4) != router_prefix_hash("abd", 3, 256, 4));
}

static void load_cap_skips_overloaded(void **state)
{
    (void)state;
    int load[3] = {10, 0, 2};
    bool ok[3] = {true, true, true};
    router_load_cap(load, ok, 3, 1.5); /* mean 4, cap 7 */
    assert_false(ok[0]);
    assert_true(ok[1] && ok[2]);
    int even[3] = {3, 3, 3};
    bool ok2[3] = {true, false, true};
    router_load_cap(even, ok2, 3, 1.5);
    assert_true(ok2[0] && !ok2[1] && ok2[2]);
}

static void kvaware_probe_answers(void **state)
{
    (void)state;
    kvaware_probe p;
    const char ok[] = "{\"prompt_tokens\":600,\"chunk_tokens\":64,\"cached_tokens\":"
                      "{\"mem\":256,\"local_disk\":128,\"redis\":64},\"running\":2,\"waiting\":1}";
    assert_int_equal(kvaware_parse_probe(ok, sizeof ok - 1, &p), 0);
    assert_true(p.answered);
    assert_int_equal(p.prompt_tokens, 600);
    assert_int_equal(p.chunk_tokens, 64);
    assert_int_equal(p.ram_tokens, 256);
    assert_int_equal(p.other_tokens, 192);
    assert_int_equal(p.running, 2);
    assert_int_equal(p.waiting, 1);
    const char *bad[] = {"", "{}", "[1]", "{\"prompt_tokens\":1}", "{\"cached_tokens\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kvaware_parse_probe(bad[i], strlen(bad[i]), &p), -1);
        assert_false(p.answered);
    }
}

static void kvaware_weighs_overlap_against_load(void **state)
{
    (void)state;
    uint64_t ids[3] = {11, 22, 33};
    bool all[3] = {true, true, true};
    int idle[3] = {0, 0, 0};
    /* 10 chunks; backend 1 holds 8 in RAM, backend 2 holds 8 on disk (worth 4) */
    kvaware_probe p[3] = {{true, 640, 64, 0, 0, 0, 0}, {true, 640, 64, 512, 0, 0, 0},
                          {true, 640, 64, 0, 512, 0, 0}};
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 1.0, 7), 1);
    /* backend 1 busy with 7 requests: 2 + 7 > 6 + 0 (backend 2) */
    p[1].running = 5;
    p[1].waiting = 2;
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 1.0, 7), 2);
    /* a larger weight makes the held chunks worth the wait: 20 + 7 < 60 */
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 10.0, 7), 1);
    /* the router's own count stands in when it is higher than the replica's report */
    p[1].running = p[1].waiting = 0;
    int busy1[3] = {0, 9, 0};
    assert_int_equal(kvaware_pick(p, busy1, ids, all, 3, 1.0, 7), 2);
    /* unanswered and ineligible backends */
    bool not1[3] = {true, false, true};
    assert_int_equal(kvaware_pick(p, idle, ids, not1, 3, 1.0, 7), 2);
    bool none[3] = {false, false, false};
    assert_int_equal(kvaware_pick(p, idle, ids, none, 3, 1.0, 7), -1);
    /* nobody holds anything: rendezvous of the key among all, the same answer each time */
    kvaware_probe cold[3] = {{true, 640, 64, 0, 0, 0, 0}, {false, 0, 0, 0, 0, 0, 0},
                             {true, 640, 64, 0, 0, 0, 0}};
    int rv = router_rendezvous(99, ids, (bool[3]){true, false, true}, 3);
    assert_int_equal(kvaware_pick(cold, idle, ids, all, 3, 1.0, 99), rv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rendezvous_moves_only_removed_keys),
        cmocka_unit_test(prefix_hash_reads_first_blocks),
        cmocka_unit_test(load_cap_skips_overloaded),
        cmocka_unit_test(kvaware_probe_answers),
        cmocka_unit_test(kvaware_weighs_overlap_against_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
