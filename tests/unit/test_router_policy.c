/* Router routing math: rendezvous hashing is stable under backend removal (only the
 * removed backend's keys move), prefix hashing looks at the first K full blocks only, and
 * the load cap skips overloaded backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router/router_hash.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rendezvous_moves_only_removed_keys),
        cmocka_unit_test(prefix_hash_reads_first_blocks),
        cmocka_unit_test(load_cap_skips_overloaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
