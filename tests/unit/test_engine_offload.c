/* The offload connector through the engine: a cold engine stores its prompts' chunks in a
 * local directory; a new engine on the same directory (a restart) loads them, reports
 * them as cached and produces token-for-token the output of a cache-off engine, for
 * prompts ending inside a chunk, on a chunk boundary, sharing only part of a prefix, and
 * with the in-memory prefix cache covering part of a chunk; with the int8 and fp8 codecs,
 * loads agree with a cache-off engine. Salts, models and codecs never share;
 * corrupted or vanished objects degrade to recomputation; consumers do not store and
 * producers do not load. */
#include <ftw.h>
#include <stdio.h>

#include "engine_fixture.h"

#define CHUNK 32
#define N_GEN 8
#define N_PROMPTS 4

typedef struct setup {
    int32_t *tok;
    uint32_t n;
    int32_t *prompts[N_PROMPTS];
    uint32_t lens[N_PROMPTS];
    fx_run off[N_PROMPTS]; /* cache-off outputs of tiny-f16 */
    char dir[4096], path[4096];
    kvs_config kc;
    bool save_unfull_chunk; /* the connector's setting for the engines a test makes */
    kv_codec codec;         /* the same */
} setup;

static int setup_fn(void **state)
{
    setup *s = calloc(1, sizeof *s);
    s->tok = fixture_ints("tiny-f16.long.tokens.txt", &s->n);
    bool small = fx_sanitized();
    /* Inside a chunk, on a boundary, a prefix shared with prompt 0 for 50 tokens only,
     * and prompt 0's first 48 tokens (one chunk and a half). */
    uint32_t lens[N_PROMPTS] = {small ? 70u : 150u, small ? 64u : 128u, small ? 70u : 150u, 48};
    for (int i = 0; i < N_PROMPTS; i++) {
        s->lens[i] = lens[i];
        s->prompts[i] = malloc(lens[i] * sizeof(int32_t));
        for (uint32_t j = 0; j < lens[i]; j++)
            s->prompts[i][j] = s->tok[j];
    }
    for (uint32_t j = 50; j < s->lens[2]; j++)
        s->prompts[2][j] = (s->tok[j] + 101) % 32000;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    cfg.enable_prefix_caching = false;
    engine *e = fx_engine(&cfg);
    for (int i = 0; i < N_PROMPTS; i++)
        fx_generate(e, &s->off[i], s->prompts[i], s->lens[i], N_GEN, NULL);
    engine_destroy(e);
    *state = s;
    return 0;
}

static int teardown_fn(void **state)
{
    setup *s = *state;
    for (int i = 0; i < N_PROMPTS; i++)
        free(s->prompts[i]);
    free(s->tok);
    free(s);
    return 0;
}

static int per_test_setup(void **state)
{
    setup *s = *state;
    test_mkdtemp(s->dir, "engine-offload");
    kvs_config_init(&s->kc);
    s->save_unfull_chunk = false;
    s->kc.max_local_cpu_size = 64ull << 20;
    snprintf(s->kc.local_disk, sizeof s->kc.local_disk, "%s", s->dir);
    s->kc.max_local_disk_size = 1ull << 30;
    return 0;
}

static int per_test_teardown(void **state)
{
    setup *s = *state;
    test_rmtree(s->dir);
    return 0;
}

static engine *offload_engine(setup *s, const char *model_name, engine_kv_role role, bool apc)
{
    engine_config cfg;
    fx_config(&cfg, s->path, model_name);
    cfg.enable_prefix_caching = apc;
    cfg.kv_role = role;
    cfg.offload = &s->kc;
    cfg.chunk_size = CHUNK;
    cfg.save_unfull_chunk = s->save_unfull_chunk;
    cfg.kv_codec = s->codec;
    cfg.offload_always_load = true;
    return fx_engine(&cfg);
}

/* Runs prompt i; checks the output against the cache-off run; returns cached tokens. */
static uint32_t run_check(setup *s, engine *e, int i, const char *salt)
{
    fx_run r;
    fx_generate(e, &r, s->prompts[i], s->lens[i], N_GEN, salt);
    fx_assert_same_output(&r, &s->off[i]);
    fx_run_destroy(&r);
    return r.cached;
}

static void cold_run(setup *s)
{
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_int_equal(run_check(s, e, 0, NULL), 0);
    /* Prompt 1 is the start of prompt 0, on a chunk boundary: already in the host-memory
     * tier, all of it but the last token (computed for its logits). */
    assert_int_equal(run_check(s, e, 1, NULL), s->lens[1] - 1);
    engine_destroy(e); /* flushes the stores */
}

static void test_restart_loads(void **state)
{
    setup *s = *state;
    cold_run(s);
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    /* Ends inside a chunk: every full chunk. On a boundary: all but the last token. */
    assert_int_equal(run_check(s, e, 0, NULL), (s->lens[0] - 1) / CHUNK * CHUNK);
    assert_int_equal(run_check(s, e, 1, NULL), s->lens[1] - 1);
    /* Shares 50 tokens with prompt 0: one chunk. */
    assert_int_equal(run_check(s, e, 2, NULL), CHUNK);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_true(st.offload_loaded_tokens > 0);
    assert_int_equal(st.offload_loaded_tokens, st.offload_hit_tokens);
    assert_true(st.offload_load.count >= 3);
    assert_true(st.offload.tiers[0].hits + st.offload.tiers[1].hits > 0);
    engine_destroy(e);
}

static void test_prefix_cache_then_offload(void **state)
{
    setup *s = *state;
    cold_run(s);
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, true);
    /* 48 tokens: chunk 0 loads, tokens 32..47 computed; blocks 0-2 enter the prefix cache. */
    assert_int_equal(run_check(s, e, 3, NULL), CHUNK);
    /* Prompt 0: blocks 0-2 (48 tokens) from memory, the rest of chunk 1 and the later
     * chunks from the directory. */
    assert_int_equal(run_check(s, e, 0, NULL), (s->lens[0] - 1) / CHUNK * CHUNK);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.prefix_cache_hits, 48);
    assert_int_equal(st.offload_loaded_tokens, CHUNK + (s->lens[0] - 1) / CHUNK * CHUNK - 48);
    engine_destroy(e);
}

/* A codec (kv_codec int8, fp8): a restart loads every full chunk as with none, the output
 * agrees with the cache-off run (quantized KV: the first token equal, and at least 6 of 8
 * -- printed), and an engine without the codec never reads its chunks (the namespace holds
 * the dtype), nor one with the codec chunks written without. */
static void test_codec_restart(void **state)
{
    setup *s = *state;
    const kv_codec codecs[] = {KV_CODEC_INT8, KV_CODEC_FP8};
    char base[sizeof s->kc.local_disk];
    snprintf(base, sizeof base, "%s", s->kc.local_disk);
    for (int k = 0; k < 2; k++) {
        snprintf(s->kc.local_disk, sizeof s->kc.local_disk, "%.4000s/%s", base,
                 kv_codec_name(codecs[k]));
        s->codec = codecs[k];
        engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
        fx_run r;
        fx_generate(e, &r, s->prompts[0], s->lens[0], N_GEN, NULL);
        assert_int_equal(r.cached, 0);
        engine_destroy(e);
        e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
        fx_generate(e, &r, s->prompts[0], s->lens[0], N_GEN, NULL);
        assert_int_equal(r.cached, (s->lens[0] - 1) / CHUNK * CHUNK);
        engine_stats st;
        engine_get_stats(e, &st);
        assert_int_equal(st.offload_loaded_tokens, r.cached);
        uint32_t same = 0;
        for (uint32_t i = 0; i < r.n_out && i < s->off[0].n_out; i++)
            same += r.out[i] == s->off[0].out[i];
        printf("kv_codec %s: %u of %u greedy tokens as with the cache off\n",
               kv_codec_name(codecs[k]), same, s->off[0].n_out);
        assert_int_equal(r.n_out, s->off[0].n_out);
        assert_int_equal(r.out[0], s->off[0].out[0]);
        assert_true(same >= 6);
        engine_destroy(e);
        s->codec = KV_CODEC_NONE;
        e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
        assert_int_equal(run_check(s, e, 0, NULL), 0); /* stores none's chunks beside */
        engine_destroy(e);
        s->codec = codecs[k];
        e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
        fx_generate(e, &r, s->prompts[1], s->lens[1], N_GEN, NULL);
        assert_int_equal(r.cached, s->lens[1] - 1); /* its own chunks, of the codec */
        engine_destroy(e);
    }
    s->codec = KV_CODEC_NONE;
    snprintf(s->kc.local_disk, sizeof s->kc.local_disk, "%s", base);
}

static void test_salt_and_model_isolate(void **state)
{
    setup *s = *state;
    cold_run(s);
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_int_equal(run_check(s, e, 0, "tenant"), 0);
    engine_destroy(e);
    e = offload_engine(s, "tiny-f32", ENGINE_KV_BOTH, false);
    fx_run r;
    fx_generate(e, &r, s->prompts[0], s->lens[0], N_GEN, NULL);
    assert_int_equal(r.cached, 0);
    engine_destroy(e);
    /* The salted run stored its own chunks: the same salt now hits. */
    e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_true(run_check(s, e, 0, "tenant") > 0);
    engine_destroy(e);
}

static int damage(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".kvc") != 0)
        return 0;
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, sb->st_size - 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, sb->st_size - 100, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    return 0;
}

static void test_corrupt_objects_recompute(void **state)
{
    setup *s = *state;
    cold_run(s);
    assert_int_equal(nftw(s->dir, damage, 16, FTW_PHYS), 0);
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_int_equal(run_check(s, e, 0, NULL), 0);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.offload_loaded_tokens, 0);
    uint64_t corrupt = 0;
    for (uint32_t i = 0; i < st.offload.n_tiers; i++)
        corrupt += st.offload.tiers[i].corrupt;
    assert_true(corrupt > 0);
    engine_destroy(e);
}

/* The .kvc files under the test directory, in the order note_file first saw them. */
#define MAX_FILES 64
static char seen[MAX_FILES][4096];
static size_t n_seen;

static int note_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".kvc") != 0)
        return 0;
    for (size_t i = 0; i < n_seen; i++)
        if (!strcmp(seen[i], path))
            return 0;
    assert_true(n_seen < MAX_FILES);
    snprintf(seen[n_seen++], sizeof seen[0], "%s", path);
    return 0;
}

/* Generates the first n tokens of prompt 0 on a fresh engine and flushes its stores. */
static void store_prefix(setup *s, uint32_t n)
{
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    fx_run r;
    fx_generate(e, &r, s->prompts[0], n, 1, NULL);
    fx_run_destroy(&r);
    engine_destroy(e);
}

/* Chunk 1 of prompt 0 is corrupt while chunks 0 and 2.. are fine: the load (one batch per
 * chunk here) keeps chunk 0, ends at chunk 1 and leaves the later batches unused. */
static void test_corrupt_middle_chunk_truncates(void **state)
{
    setup *s = *state;
    n_seen = 0;
    store_prefix(s, CHUNK + 1); /* chunk 0 */
    assert_int_equal(nftw(s->dir, note_file, 16, FTW_PHYS), 0);
    assert_int_equal(n_seen, 1);
    store_prefix(s, 2 * CHUNK + 1); /* chunk 1 */
    assert_int_equal(nftw(s->dir, note_file, 16, FTW_PHYS), 0);
    assert_int_equal(n_seen, 2);
    store_prefix(s, s->lens[0]); /* chunks 2.. (0 and 1 are found, not stored again) */
    struct stat sb;
    assert_int_equal(stat(seen[1], &sb), 0);
    damage(seen[1], &sb, FTW_F, NULL);
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_int_equal(run_check(s, e, 0, NULL), CHUNK);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.offload_loaded_tokens, CHUNK);
    assert_int_equal(st.offload_hit_tokens, (s->lens[0] - 1) / CHUNK * CHUNK);
    uint64_t corrupt = 0;
    for (uint32_t i = 0; i < st.offload.n_tiers; i++)
        corrupt += st.offload.tiers[i].corrupt;
    assert_true(corrupt > 0);
    engine_destroy(e);
}

static void test_directory_vanishes(void **state)
{
    setup *s = *state;
    cold_run(s);
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    test_rmtree(s->dir);
    assert_int_equal(run_check(s, e, 0, NULL), 0);
    /* What prompt 0 stored still serves from host memory. */
    assert_int_equal(run_check(s, e, 1, NULL), s->lens[1] - 1);
    engine_destroy(e);
}

static void test_roles(void **state)
{
    setup *s = *state;
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_CONSUMER, false);
    assert_int_equal(run_check(s, e, 0, NULL), 0);
    engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.offload_stored_chunks, 0);
    assert_int_equal(st.offload.puts, 0);
    engine_destroy(e);
    e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_int_equal(run_check(s, e, 0, NULL), 0); /* the consumer left nothing */
    engine_destroy(e);
    e = offload_engine(s, "tiny-f16", ENGINE_KV_PRODUCER, false);
    assert_int_equal(run_check(s, e, 0, NULL), 0);
    engine_get_stats(e, &st);
    assert_int_equal(st.offload_loaded_tokens, 0);
    assert_int_equal(st.offload.puts, 0); /* already stored: not stored again */
    assert_int_equal(run_check(s, e, 1, NULL), 0);
    engine_destroy(e);
    e = offload_engine(s, "tiny-f16", ENGINE_KV_CONSUMER, false);
    assert_int_equal(run_check(s, e, 1, NULL), s->lens[1] - 1);
    engine_destroy(e);
}

static void test_save_decode_cache(void **state)
{
    setup *s = *state;
    engine_config cfg;
    fx_config(&cfg, s->path, "tiny-f16");
    cfg.enable_prefix_caching = false;
    cfg.kv_role = ENGINE_KV_BOTH;
    cfg.offload = &s->kc;
    cfg.chunk_size = CHUNK;
    cfg.save_unfull_chunk = s->save_unfull_chunk;
    cfg.kv_codec = s->codec;
    cfg.offload_always_load = true;
    cfg.save_decode_cache = true;
    engine *e = fx_engine(&cfg);
    fx_run r;
    fx_generate(e, &r, s->prompts[3], 48, 40, NULL); /* 88 tokens: two full chunks */
    engine_destroy(e);
    int32_t conv[88];
    memcpy(conv, s->prompts[3], 48 * sizeof *conv);
    memcpy(conv + 48, r.out, 40 * sizeof *conv);
    /* The next turn's prompt: the conversation so far plus a few tokens. */
    for (int i = 0; i < 8; i++)
        conv[80 + i] = s->tok[200 + i];
    e = offload_engine(s, "tiny-f16", ENGINE_KV_CONSUMER, false);
    fx_run t;
    fx_generate(e, &t, conv, 88, 4, NULL);
    assert_int_equal(t.cached, 2 * CHUNK);
    engine_destroy(e);
}

/* With save_unfull_chunk the prompt's trailing partial chunk is stored too: the same
 * prompt again loads all of it but the last token, where only its full chunks load
 * without; a prompt that only shares the full chunks does not match the partial one. */
static void test_save_unfull_chunk(void **state)
{
    setup *s = *state;
    s->save_unfull_chunk = true;
    uint32_t full_only = (s->lens[0] - 1) / CHUNK * CHUNK;
    assert_true(s->lens[0] % CHUNK != 0 && full_only < s->lens[0] - 1);
    engine *e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_int_equal(run_check(s, e, 0, NULL), 0);
    assert_int_equal(run_check(s, e, 0, NULL), s->lens[0] - 1); /* from the memory tier */
    engine_destroy(e);
    e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false); /* from the directory */
    assert_int_equal(run_check(s, e, 0, NULL), s->lens[0] - 1);
    /* Prompt 3 is prompt 0's first 48 tokens: chunk 0, and a partial chunk of its own. */
    assert_int_equal(run_check(s, e, 3, NULL), CHUNK);
    assert_int_equal(run_check(s, e, 3, NULL), s->lens[3] - 1);
    engine_destroy(e);
    s->save_unfull_chunk = false; /* a reader without it asks for full chunks only */
    e = offload_engine(s, "tiny-f16", ENGINE_KV_BOTH, false);
    assert_int_equal(run_check(s, e, 0, NULL), full_only);
    engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restart_loads, per_test_setup, per_test_teardown),
        cmocka_unit_test_setup_teardown(test_prefix_cache_then_offload, per_test_setup,
                                        per_test_teardown),
        cmocka_unit_test_setup_teardown(test_codec_restart, per_test_setup, per_test_teardown),
        cmocka_unit_test_setup_teardown(test_salt_and_model_isolate, per_test_setup,
                                        per_test_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_objects_recompute, per_test_setup,
                                        per_test_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_chunk_truncates, per_test_setup,
                                        per_test_teardown),
        cmocka_unit_test_setup_teardown(test_directory_vanishes, per_test_setup,
                                        per_test_teardown),
        cmocka_unit_test_setup_teardown(test_roles, per_test_setup, per_test_teardown),
        cmocka_unit_test_setup_teardown(test_save_decode_cache, per_test_setup,
                                        per_test_teardown),
        cmocka_unit_test_setup_teardown(test_save_unfull_chunk, per_test_setup,
                                        per_test_teardown),
    };
    return cmocka_run_group_tests(tests, setup_fn, teardown_fn);
}
