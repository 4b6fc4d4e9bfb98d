/* A GPU node and a CPU node share one cache directory (docs/gds.md): chunks a CPU node
 * wrote through the POSIX file tier load on the GPU node (through cuFile into the staging
 * buffer when libcufile works, else through pinned memory) and scatter into the CUDA
 * backend's KV blocks bit-exactly; chunks the GPU node gathers from its blocks and stores
 * (cuFileWrite from a device chunk, or a host chunk on the POSIX path) load on the CPU node
 * with the same bytes. The gds tier's io_path is printed: which path ran depends on the
 * machine (libcufile, nvidia-fs, the file system). */
#include "engine/gpu_ops.h"
#include "gpu_fixture.h"
#include "kvspill.h"

#define CHUNK 64u
#define N_CHUNKS 3u
#define MAX_POS (CHUNK * N_CHUNKS)

static fixture_model fm;
static backend *gpu;
static kvs_layout layout;
static size_t row_bytes, seg_stride, payload_bytes;

static int setup(void **state)
{
    gpu_require_device();
    gpu_tmp_setup(state);
    gpu_gen_model(&fm, "share-f16", GGML_TYPE_F16, MODEL_GEN_UNIFORM);
    gpu = gpu_cuda_backend(fm.m);
    const model_hparams *hp = &fm.m->hp;
    layout = (kvs_layout){hp->n_layer, hp->n_head_kv, hp->head_dim, KVS_DTYPE_F16};
    row_bytes = (size_t)hp->n_head_kv * hp->head_dim * 2;
    seg_stride = kvs_segment_stride(&layout, CHUNK);
    payload_bytes = kvs_payload_bytes(&layout, CHUNK);
    return 0;
}

static int teardown(void **state)
{
    backend_destroy(gpu);
    fixture_free(&fm);
    return gpu_tmp_teardown(state);
}

/* A cache on dir's gds tier only; gpu_ops NULL is a CPU node. */
static kvs_cache *open_node(const char *dir, const kvs_gpu_ops *gpu_ops)
{
    kvs_config cfg;
    kvs_config_init(&cfg);
    cfg.local_cpu = false;
    snprintf(cfg.gds_path, sizeof cfg.gds_path, "%s", dir);
    cfg.max_gds_size = 256ull << 20;
    cfg.cufile_buffer_size = 64ull << 20;
    cfg.gpu = gpu_ops;
    kvs_cache *c = NULL;
    kvs_error err;
    if (kvs_cache_open(&cfg, &c, &err) != KVS_OK)
        fail_msg("open %s: %s", dir, err.msg);
    if (gpu_ops) {
        kvs_stats st;
        kvs_cache_stats(c, &st);
        print_message("  gds tier on the GPU node: %s\n", st.tiers[0].io_path);
    }
    return c;
}

typedef struct chain {
    kvs_key ns;
    int32_t tokens[MAX_POS];
    kvs_chunk_request req[N_CHUNKS];
} chain;

static void make_chain(chain *ch, const char *salt)
{
    kvs_namespace_desc desc = {.layout = layout, .tp_size = 1, .cache_salt = salt};
    kvs_error err;
    assert_int_equal(kvs_namespace_id(&desc, &ch->ns, &err), KVS_OK);
    gpu_tokens(ch->tokens, MAX_POS, fm.m->hp.n_vocab, 7);
    kvs_key parent = ch->ns;
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        kvs_chunk_request *r = &ch->req[i];
        *r = (kvs_chunk_request){.chunk_index = i, .tokens = ch->tokens + i * CHUNK,
                                 .n_tokens = CHUNK};
        kvs_key_next(&parent, r->tokens, CHUNK, &r->key);
        parent = r->key;
    }
}

static kvs_status new_chunk(kvs_cache *c, const chain *ch, uint32_t i, bool device,
                            kvs_chunk **out)
{
    kvs_error err;
    const kvs_key *parent = i ? &ch->req[i - 1].key : &ch->ns;
    if (device)
        return kvs_chunk_new_device(c, &ch->ns, parent, &ch->req[i].key, i, ch->req[i].tokens,
                                    CHUNK, &layout, out, &err);
    return kvs_chunk_new(&ch->ns, parent, &ch->req[i].key, i, ch->req[i].tokens, CHUNK,
                         &layout, out, &err);
}

static void put_all(kvs_cache *c, kvs_chunk **chunks)
{
    kvs_batch *b = NULL;
    kvs_error err;
    assert_int_equal(kvs_put_async(c, chunks, N_CHUNKS, &b, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, -1), KVS_OK);
    assert_int_equal(kvs_batch_loaded(b), N_CHUNKS);
    kvs_batch_free(b);
    assert_int_equal(kvs_cache_flush(c, -1, &err), KVS_OK);
}

static kvs_batch *get_all(kvs_cache *c, const chain *ch)
{
    kvs_batch *b = NULL;
    kvs_error err;
    assert_int_equal(kvs_get_async(c, &ch->ns, ch->req, N_CHUNKS, &b, &err), KVS_OK);
    assert_int_equal(kvs_batch_wait(b, -1), KVS_OK);
    assert_int_equal(kvs_batch_loaded(b), N_CHUNKS);
    return b;
}

/* Copies chunk i's positions between the sequence's blocks and a payload. */
static void transfer(kv_cache *kv, uint32_t i, void *payload, bool on_device, bool to_blocks)
{
    kv_xfer x = {kv->ops->block_table(kv, 0), i * CHUNK, i * CHUNK, (i + 1) * CHUNK, payload,
                 seg_stride, on_device, to_blocks, KV_CODEC_NONE};
    uint64_t fence;
    model_error err = {{0}};
    if (gpu->ops->kv_transfer(gpu, kv, &x, 1, &fence, &err) || gpu->ops->wait(gpu, fence, &err))
        fail_msg("%s", err.msg);
}

/* The rows of every segment of a payload, without the padding between segments. */
static void expect_same_rows(const uint8_t *a, const uint8_t *b)
{
    for (uint32_t s = 0; s < 2 * layout.n_layers; s++)
        assert_memory_equal(a + s * seg_stride, b + s * seg_stride, CHUNK * row_bytes);
}

static kv_cache *fresh_kv(void)
{
    kv_cache *kv = gpu_kv(gpu, fm.m, 1, MAX_POS, KV_F16);
    model_error err = {{0}};
    assert_int_equal(kv->ops->reserve(kv, 0, MAX_POS, &err), 0);
    return kv;
}

static void test_cpu_node_writes_gpu_node_reads(void **state)
{
    (void)state;
    char dir[4096];
    test_path(dir, gpu_tmp_dir, "cpu-to-gpu");
    chain ch;
    make_chain(&ch, "cpu to gpu");
    kvs_cache *cpu = open_node(dir, NULL);
    kvs_chunk *chunks[N_CHUNKS];
    uint8_t *written = malloc(N_CHUNKS * payload_bytes);
    assert_non_null(written);
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        assert_int_equal(new_chunk(cpu, &ch, i, false, &chunks[i]), KVS_OK);
        test_fill_random(kvs_chunk_segment_mut(chunks[i], 0, 0), payload_bytes, 100 + i);
        memcpy(written + i * payload_bytes, kvs_chunk_payload(chunks[i]), payload_bytes);
    }
    put_all(cpu, chunks);
    kvs_cache_close(cpu);

    kvs_cache *node = open_node(dir, engine_gpu_ops(gpu));
    kvs_batch *b = get_all(node, &ch);
    kv_cache *kv = fresh_kv();
    uint8_t *back = calloc(1, payload_bytes);
    assert_non_null(back);
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        kvs_chunk *c = kvs_batch_chunk(b, i);
        transfer(kv, i, (void *)kvs_chunk_payload(c), kvs_chunk_on_device(c), true);
        transfer(kv, i, back, false, false);
        expect_same_rows(back, written + i * payload_bytes);
        print_message("  chunk %u: %s payload scattered into the GPU's blocks exactly\n", i,
                      kvs_chunk_on_device(c) ? "device" : "host");
    }
    kvs_batch_free(b);
    kv_cache_destroy(kv);
    kvs_cache_close(node);
    free(back);
    free(written);
}

static void test_gpu_node_writes_cpu_node_reads(void **state)
{
    (void)state;
    char dir[4096];
    test_path(dir, gpu_tmp_dir, "gpu-to-cpu");
    chain ch;
    make_chain(&ch, "gpu to cpu");
    kv_cache *kv = fresh_kv();
    /* The GPU's blocks get known bytes: scattered from random host payloads. */
    uint8_t *rows = malloc(N_CHUNKS * payload_bytes);
    assert_non_null(rows);
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        test_fill_random(rows + i * payload_bytes, payload_bytes, 200 + i);
        transfer(kv, i, rows + i * payload_bytes, false, true);
    }
    kvs_cache *node = open_node(dir, engine_gpu_ops(gpu));
    kvs_chunk *chunks[N_CHUNKS];
    uint32_t on_device = 0;
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        kvs_status st = new_chunk(node, &ch, i, true, &chunks[i]);
        if (st == KVS_ERR_UNSUPPORTED || st == KVS_ERR_FULL)
            st = new_chunk(node, &ch, i, false, &chunks[i]);
        assert_int_equal(st, KVS_OK);
        bool dev = kvs_chunk_on_device(chunks[i]);
        on_device += dev;
        transfer(kv, i, kvs_chunk_segment_mut(chunks[i], 0, 0), dev, false);
    }
    put_all(node, chunks);
    kvs_cache_close(node);
    print_message("  %u of %u chunks stored from device memory\n", on_device, N_CHUNKS);

    kvs_cache *cpu = open_node(dir, NULL);
    kvs_batch *b = get_all(cpu, &ch);
    for (uint32_t i = 0; i < N_CHUNKS; i++) {
        kvs_chunk *c = kvs_batch_chunk(b, i);
        assert_false(kvs_chunk_on_device(c));
        expect_same_rows(kvs_chunk_payload(c), rows + i * payload_bytes);
    }
    kvs_batch_free(b);
    kvs_cache_close(cpu);
    kv_cache_destroy(kv);
    free(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_node_writes_gpu_node_reads),
        cmocka_unit_test(test_gpu_node_writes_cpu_node_reads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
