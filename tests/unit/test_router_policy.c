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
                      "{\"mem\":256,\"local_disk\":128,\"redis\":64},\"resident_tokens\":512,"
                      "\"running\":2,\"waiting\":1,"
                      "\"prefill_tokens_per_s\":2000.0,\"estimated_ttft_s\":0.25}";
    assert_int_equal(kvaware_parse_probe(ok, sizeof ok - 1, &p), 0);
    assert_true(p.answered);
    assert_int_equal(p.prompt_tokens, 600);
    assert_int_equal(p.ram_tokens, 256);
    assert_int_equal(p.other_tokens, 192);
    assert_int_equal(p.resident_tokens, 512);
    assert_int_equal(p.running, 2);
    assert_int_equal(p.waiting, 1);
    assert_true(p.has_estimate);
    assert_float_equal(p.estimated_ttft_s, 0.25, 1e-12);
    assert_float_equal(p.prefill_tps, 2000.0, 1e-9);
    /* a replica without the estimate (or with a rate of 0) answered, but says no time */
    const char old[] = "{\"prompt_tokens\":6,\"cached_tokens\":{},\"estimated_ttft_s\":1,"
                       "\"prefill_tokens_per_s\":0}";
    assert_int_equal(kvaware_parse_probe(old, sizeof old - 1, &p), 0);
    assert_true(p.answered);
    assert_false(p.has_estimate);
    const char *bad[] = {"", "{}", "[1]", "{\"prompt_tokens\":1}", "{\"cached_tokens\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(kvaware_parse_probe(bad[i], strlen(bad[i]), &p), -1);
        assert_false(p.answered);
    }
}

/* A replica's probe as the engine computes it (engine_prefix_lookup): a prompt of 1000
 * tokens, `held` of them in host RAM, `queued` prompt tokens ahead of it, prefilled at
 * 1000 tokens/s; estimated_ttft_s = (queued + 1000 - held) / 1000. */
static kvaware_probe replica(uint64_t held, uint64_t queued, uint64_t running)
{
    return (kvaware_probe){.answered = true, .prompt_tokens = 1000, .ram_tokens = held,
                           .running = running, .has_estimate = true, .prefill_tps = 1000,
                           .estimated_ttft_s = (double)(queued + 1000 - held) / 1000};
}

static void kvaware_weighs_prefix_against_prefill_queue(void **state)
{
    (void)state;
    uint64_t ids[3] = {11, 22, 33};
    bool all[3] = {true, true, true};
    int idle[3] = {0, 0, 0};
    /* backend 1 holds 800 of the prompt's tokens; a queue of 500 tokens there is shorter
     * than the 800 it saves: 0.7 s against 1.0 s at the idle ones */
    kvaware_probe p[3] = {replica(0, 0, 0), replica(800, 500, 1), replica(0, 0, 0)};
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 7), 1);
    /* a queue of 1200 tokens outweighs the prefix: 1.4 s there, an idle replica wins */
    p[1] = replica(800, 1200, 2);
    int rest = router_rendezvous(7, ids, (bool[3]){true, false, true}, 3);
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 7), rest);
    /* the same 1200 tokens queued at the idle ones too: the prefix wins again */
    p[0] = replica(0, 1200, 2);
    p[2] = replica(0, 1200, 2);
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 7), 1);
    /* requests the router sent backend 1 that its report does not count yet (5 in flight,
     * 2 running) each cost this prompt's 200 uncached tokens there: 1.4 + 3 x 0.2 = 2.0 s,
     * still under the others' 2.2 s ... */
    int busy1[3] = {2, 5, 2};
    assert_int_equal(kvaware_pick(p, busy1, ids, all, 3, 7), 1);
    /* ... until 7 are on their way: 1.4 + 5 x 0.2 = 2.4 s > 2.2 s */
    busy1[1] = 7;
    assert_int_equal(kvaware_pick(p, busy1, ids, all, 3, 7),
                     router_rendezvous(7, ids, (bool[3]){true, false, true}, 3));
    /* the same 800 tokens resident in its paged KV cache, none in a tier: the requests on
     * their way cost the same 200 uncached tokens each, not all 1000 (which would be
     * 1.4 + 3 x 1.0 = 4.4 s with 5 in flight) */
    p[1].ram_tokens = 0;
    p[1].resident_tokens = 800;
    busy1[1] = 5;
    assert_int_equal(kvaware_pick(p, busy1, ids, all, 3, 7), 1);
}

static void kvaware_scores_silent_replicas_worst(void **state)
{
    (void)state;
    uint64_t ids[3] = {11, 22, 33};
    bool all[3] = {true, true, true};
    int idle[3] = {0, 0, 0};
    /* backend 0 did not answer: the worst answered (2.5 s) plus a whole prompt (1.0 s)
     * per request and one, so a deep queue elsewhere still beats silence */
    kvaware_probe p[3] = {{.answered = false}, replica(0, 1000, 1), replica(0, 1500, 1)};
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 7), 1);
    /* an answer without an estimate (an older replica) counts as silence */
    p[1].has_estimate = false;
    assert_int_equal(kvaware_pick(p, idle, ids, all, 3, 7), 2);
    /* ineligible (load-capped, unhealthy) backends are never picked */
    bool not2[3] = {true, true, false};
    assert_int_equal(kvaware_pick(p, idle, ids, not2, 3, 7),
                     router_rendezvous(7, ids, (bool[3]){true, true, false}, 3));
    bool none[3] = {false, false, false};
    assert_int_equal(kvaware_pick(p, idle, ids, none, 3, 7), -1);
    /* nobody answered: the router's own counts, ties by rendezvous */
    kvaware_probe silent[3] = {{.answered = false}, {.answered = false}, {.answered = false}};
    int busy0[3] = {3, 0, 0};
    assert_int_equal(kvaware_pick(silent, busy0, ids, all, 3, 7),
                     router_rendezvous(7, ids, (bool[3]){false, true, true}, 3));
    /* a cold prompt at equally idle replicas: rendezvous of the key, the same each time */
    kvaware_probe cold[3] = {replica(0, 0, 0), replica(0, 0, 0), replica(0, 0, 0)};
    assert_int_equal(kvaware_pick(cold, idle, ids, all, 3, 99), router_rendezvous(99, ids, all, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rendezvous_moves_only_removed_keys),
        cmocka_unit_test(prefix_hash_reads_first_blocks),
        cmocka_unit_test(load_cap_skips_overloaded),
        cmocka_unit_test(kvaware_probe_answers),
        cmocka_unit_test(kvaware_weighs_prefix_against_prefill_queue),
        cmocka_unit_test(kvaware_scores_silent_replicas_worst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
