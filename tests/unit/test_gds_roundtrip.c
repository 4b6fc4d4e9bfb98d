/* The gds tier with GPUDirect Storage, on the CPU (fake GPU operations, fake libcufile):
 * device chunks round-trip bit-exact with every payload byte moved by cuFileRead and
 * cuFileWrite at 4096-aligned offsets of the registered buffer; nodes with and without a
 * GPU read each other's objects; the device checksum catches a flipped bit; host tiers
 * get host copies; host buffers come from page-locked memory; nothing leaks. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache/file_path.h"
#include "cache/object.h"
#include "gds_fixture.h"

/* 16 tokens: 512-byte segments, padded to 4096 (the padding is zeroed on the device). */
static const kvs_layout padded = {.n_layers = 2, .n_kv_heads = 2, .head_dim = 8,
                                  .dtype = KVS_DTYPE_F16};
/* 256 tokens: 256 KiB segments, no padding, big enough for the buffer pool. */
static const kvs_layout large = {.n_layers = 2, .n_kv_heads = 8, .head_dim = 64,
                                 .dtype = KVS_DTYPE_F16};

#define STAGING (4u << 20)

/* Checks that a batch loaded chunks [0, n) of the chain with their payloads, on the device
 * or not as on_device says. */
static void check_loaded(kvs_batch *b, size_t n, bool on_device)
{
    assert_int_equal(kvs_batch_loaded(b), n);
    for (size_t i = 0; i < n; i++) {
        kvs_chunk *c = kvs_batch_chunk(b, i);
        assert_int_equal(kvs_chunk_on_device(c), on_device);
        assert_int_equal(fake_gpu_is_device(kvs_chunk_payload(c)), on_device);
        test_check_payload(c, gds_seed(i));
    }
}

static void device_chunks_round_trip(void **state)
{
    gds_env *e = *state;
    gds_chain ch;
    gds_chain_init(&ch, 1, 3, 16, &padded);
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, STAGING);
    assert_string_equal(gds_tier_stats(cache, "gds").io_path, "cufile (GPUDirect)");
    assert_int_equal(atomic_load(&e->g.device_allocs), 1); /* one staging buffer */
    fake_cufile(1);

    kvs_chunk *chunks[3];
    for (size_t i = 0; i < 3; i++)
        chunks[i] = gds_device_chunk(cache, &ch, i);
    gds_put(cache, chunks, 3);
    size_t payload = kvs_payload_bytes(&padded, 16);
    fake_cufile_record w = fake_cufile(1);
    assert_int_equal(w.writes, 3);
    assert_int_equal(w.bytes_written, 3 * payload);
    assert_int_equal(w.unaligned, 0);
    assert_int_equal(w.unregistered, 0);

    kvs_batch *b = gds_get(cache, &ch, 0, 3);
    check_loaded(b, 3, true);
    fake_cufile_record r = fake_cufile(0);
    assert_int_equal(r.reads, 3);
    assert_int_equal(r.bytes_read, 3 * payload);
    assert_int_equal(r.unaligned, 0);
    assert_int_equal(r.unregistered, 0);
    assert_true(atomic_load(&e->g.binds) >= 1);
    kvs_tier_stats s = gds_tier_stats(cache, "gds");
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.corrupt, 0);
    kvs_cache_close(cache);
    /* the loaded chunks still hold their slots, and the buffer, after the cache closed */
    assert_int_equal(atomic_load(&e->g.device_frees), 0);
    test_check_payload(kvs_batch_chunk(b, 2), gds_seed(2));
    kvs_batch_free(b);
    gds_check_released(&e->g);
}

static void nodes_with_and_without_gpu_share_objects(void **state)
{
    gds_env *e = *state;
    gds_chain by_gpu, by_cpu;
    gds_chain_init(&by_gpu, 2, 2, 256, &large);
    gds_chain_init(&by_cpu, 3, 2, 16, &padded);
    kvs_cache *gpu = gds_cache(e->dir, &e->g.ops, false, STAGING);
    kvs_cache *cpu = gds_cache(e->dir, NULL, false, 0);

    kvs_chunk *chunks[2] = {gds_device_chunk(gpu, &by_gpu, 0), gds_device_chunk(gpu, &by_gpu, 1)};
    gds_put(gpu, chunks, 2);
    kvs_batch *b = gds_get(cpu, &by_gpu, 0, 2);
    check_loaded(b, 2, false); /* written with cuFileWrite, read with io_uring */
    kvs_batch_free(b);

    chunks[0] = gds_host_chunk(&by_cpu, 0);
    chunks[1] = gds_host_chunk(&by_cpu, 1);
    gds_put(cpu, chunks, 2);
    fake_cufile(1);
    b = gds_get(gpu, &by_cpu, 0, 2);
    check_loaded(b, 2, true); /* written with io_uring, read with cuFileRead */
    assert_int_equal(fake_cufile(0).reads, 2);
    kvs_batch_free(b);
    assert_int_equal(gds_tier_stats(cpu, "gds").corrupt, 0);
    assert_int_equal(gds_tier_stats(gpu, "gds").corrupt, 0);
    kvs_cache_close(cpu);
    kvs_cache_close(gpu);
    gds_check_released(&e->g);
}

/* Flips one payload byte of chunk i's object file. */
static void flip_payload_bit(const char *dir, const gds_chain *ch, size_t i)
{
    char path[4096];
    assert_true(kvs_file_object_path(path, sizeof path, dir, &ch->ns, &ch->keys[i]));
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    long at = (long)kvs_object_header_size(ch->per) + 100;
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    int byte = fgetc(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    fputc(byte ^ 0x10, f);
    fclose(f);
}

static void device_checksum_catches_a_flipped_bit(void **state)
{
    gds_env *e = *state;
    char path[4096];
    gds_chain ch;
    gds_chain_init(&ch, 4, 2, 16, &padded);
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, STAGING);
    kvs_chunk *chunks[2] = {gds_device_chunk(cache, &ch, 0), gds_device_chunk(cache, &ch, 1)};
    gds_put(cache, chunks, 2);
    flip_payload_bit(e->dir, &ch, 1);
    int sums = atomic_load(&e->g.checksums);
    fake_cufile(1);
    kvs_batch *b = gds_get(cache, &ch, 0, 2);
    assert_int_equal(kvs_batch_loaded(b), 1);
    assert_int_equal(kvs_batch_item_status(b, 1), KVS_ERR_CORRUPT);
    kvs_batch_free(b);
    assert_int_equal(fake_cufile(0).reads, 2);             /* the payload came via cuFile */
    assert_int_equal(atomic_load(&e->g.checksums), sums + 2); /* and was checked on the GPU */
    kvs_tier_stats s = gds_tier_stats(cache, "gds");
    assert_int_equal(s.corrupt, 1);
    assert_int_equal(s.hits, 1);
    assert_non_null(strstr(s.last_error, "checksum mismatch"));
    assert_true(kvs_file_object_path(path, sizeof path, e->dir, &ch.ns, &ch.keys[1]));
    assert_int_not_equal(access(path, F_OK), 0); /* removed */
    kvs_cache_close(cache);
    gds_check_released(&e->g);
}

/* cuFileRead and cuFileWrite may move fewer bytes than asked: the rest is asked for again
 * from where they stopped, and the objects are the same. */
static void short_transfers_are_continued(void **state)
{
    gds_env *e = *state;
    gds_chain ch;
    gds_chain_init(&ch, 10, 2, 256, &large);
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, STAGING);
    kvs_chunk *chunks[2] = {gds_device_chunk(cache, &ch, 0), gds_device_chunk(cache, &ch, 1)};
    setenv("FAKE_CUFILE_MAX_IO", "65536", 1);
    fake_cufile(1);
    gds_put(cache, chunks, 2);
    kvs_batch *b = gds_get(cache, &ch, 0, 2);
    unsetenv("FAKE_CUFILE_MAX_IO");
    check_loaded(b, 2, true);
    kvs_batch_free(b);
    size_t payload = kvs_payload_bytes(&large, 256);
    fake_cufile_record r = fake_cufile(0);
    assert_int_equal(r.writes, 2 * payload / 65536);
    assert_int_equal(r.reads, 2 * payload / 65536);
    assert_int_equal(r.bytes_written, 2 * payload);
    assert_int_equal(r.bytes_read, 2 * payload);
    assert_int_equal(r.unaligned, 0);
    assert_int_equal(gds_tier_stats(cache, "gds").corrupt, 0);
    kvs_cache_close(cache);
    gds_check_released(&e->g);
}

/* Overwrites the header-size field (bytes 12..15, little-endian) of chunk i's object. */
static void set_header_size(const char *dir, const gds_chain *ch, size_t i, uint32_t size)
{
    char path[4096];
    assert_true(kvs_file_object_path(path, sizeof path, dir, &ch->ns, &ch->keys[i]));
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    uint8_t le[4] = {(uint8_t)size, (uint8_t)(size >> 8), (uint8_t)(size >> 16),
                     (uint8_t)(size >> 24)};
    assert_int_equal(fseek(f, 12, SEEK_SET), 0);
    assert_int_equal(fwrite(le, 1, sizeof le, f), sizeof le);
    fclose(f);
}

/* A header whose size field is not a multiple of 4096 is a corrupt object (a miss, counted,
 * removed), as on the POSIX path; reading that many header bytes from an O_DIRECT file
 * fails with EINVAL, which must not turn it into an I/O error that keeps the object. */
static void unaligned_header_size_is_corrupt(void **state)
{
    gds_env *e = *state;
    char path[4096];
    gds_chain ch;
    gds_chain_init(&ch, 8, 1, 16, &padded);
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, STAGING);
    kvs_chunk *chunk = gds_device_chunk(cache, &ch, 0);
    gds_put(cache, &chunk, 1);
    set_header_size(e->dir, &ch, 0, KVS_OBJECT_ALIGN + 100);
    kvs_batch *b = gds_get(cache, &ch, 0, 1);
    assert_int_equal(kvs_batch_item_status(b, 0), KVS_ERR_CORRUPT);
    kvs_batch_free(b);
    kvs_tier_stats s = gds_tier_stats(cache, "gds");
    assert_int_equal(s.corrupt, 1);
    assert_int_equal(s.get_errors, 0);
    assert_true(kvs_file_object_path(path, sizeof path, e->dir, &ch.ns, &ch.keys[0]));
    assert_int_not_equal(access(path, F_OK), 0); /* removed */
    kvs_cache_close(cache);
    gds_check_released(&e->g);
}

static void cufile_read_error_is_an_io_error(void **state)
{
    gds_env *e = *state;
    char path[4096];
    gds_chain ch;
    gds_chain_init(&ch, 7, 1, 16, &padded);
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, false, STAGING);
    kvs_chunk *chunk = gds_device_chunk(cache, &ch, 0);
    gds_put(cache, &chunk, 1);
    setenv("FAKE_CUFILE_READ_ERROR", "5044", 1);
    kvs_batch *b = gds_get(cache, &ch, 0, 1);
    unsetenv("FAKE_CUFILE_READ_ERROR");
    assert_int_equal(kvs_batch_item_status(b, 0), KVS_ERR_IO);
    kvs_batch_free(b);
    kvs_tier_stats s = gds_tier_stats(cache, "gds");
    assert_int_equal(s.get_errors, 1);
    assert_int_equal(s.corrupt, 0);
    assert_non_null(strstr(s.last_error, "cuFileRead "));
    assert_non_null(strstr(s.last_error, ": error 5044 (I/O error)"));
    assert_true(kvs_file_object_path(path, sizeof path, e->dir, &ch.ns, &ch.keys[0]));
    assert_int_equal(access(path, F_OK), 0); /* kept: the bytes may well be fine */
    b = gds_get(cache, &ch, 0, 1);
    check_loaded(b, 1, true);
    kvs_batch_free(b);
    kvs_cache_close(cache);
    gds_check_released(&e->g);
}

static void host_tiers_get_host_copies(void **state)
{
    gds_env *e = *state;
    gds_chain ch;
    gds_chain_init(&ch, 5, 2, 256, &large);
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, true, STAGING);
    kvs_chunk *chunks[2] = {gds_device_chunk(cache, &ch, 0), gds_device_chunk(cache, &ch, 1)};
    gds_put(cache, chunks, 2);
    assert_int_equal(fake_cufile(0).unregistered, 0);
    kvs_batch *b = gds_get(cache, &ch, 0, 2);
    check_loaded(b, 2, false); /* from memory: the host copies, same bytes */
    assert_int_equal(kvs_batch_item_tier(b, 0), 0);
    assert_int_equal(kvs_batch_item_tier(b, 1), 0);
    kvs_batch_free(b);
    assert_int_equal(gds_tier_stats(cache, "gds").puts, 2); /* and the device chunks on disk */
    kvs_cache_close(cache);

    /* A new process: the hit comes from the gds tier onto the device, then from memory once
     * the promotion (after the hit was served) is done. */
    cache = gds_cache(e->dir, &e->g.ops, true, STAGING);
    b = gds_get(cache, &ch, 0, 2);
    check_loaded(b, 2, true);
    assert_int_equal(kvs_batch_item_tier(b, 0), 1);
    kvs_batch_free(b);
    for (int waited = 0; gds_tier_stats(cache, "mem").objects < 2; waited++) {
        assert_true(waited < 5000);
        usleep(1000);
    }
    b = gds_get(cache, &ch, 0, 2);
    check_loaded(b, 2, false);
    assert_int_equal(kvs_batch_item_tier(b, 0), 0);
    kvs_batch_free(b);
    kvs_cache_close(cache);
    gds_check_released(&e->g);
}

static void host_buffers_are_page_locked_while_a_gpu_cache_is_open(void **state)
{
    gds_env *e = *state;
    gds_chain ch;
    gds_chain_init(&ch, 6, 2, 256, &large);
    kvs_cache *cache = gds_cache(e->dir, &e->g.ops, true, STAGING);
    int before = atomic_load(&e->g.host_allocs);
    kvs_chunk *chunks[2] = {gds_host_chunk(&ch, 0), gds_host_chunk(&ch, 1)};
    assert_int_equal(atomic_load(&e->g.host_allocs), before + 2);
    gds_put(cache, chunks, 2);
    kvs_cache_close(cache);
    gds_check_released(&e->g); /* idle page-locked buffers went back with the last GPU cache */

    before = atomic_load(&e->g.host_allocs);
    kvs_chunk *plain = gds_host_chunk(&ch, 0); /* no GPU cache open: the heap */
    assert_int_equal(atomic_load(&e->g.host_allocs), before);
    kvs_chunk_release(plain);
}

/* Two caches with their own GPU operations: when the first closes, the idle page-locked
 * buffers from its operations go back to them, new buffers come from the second's, and a
 * buffer of the first's released after it closed goes straight back to them (the caller
 * may drop operations once their cache is closed and its chunks released). */
static void pinned_buffers_go_back_when_their_cache_closes(void **state)
{
    gds_env *e = *state;
    fake_gpu *ga = &e->g;
    fake_gpu gb;
    fake_gpu_init(&gb);
    gds_chain ch;
    gds_chain_init(&ch, 9, 3, 256, &large);
    kvs_cache *a = gds_cache(e->dir, &ga->ops, false, STAGING);
    kvs_chunk *late = gds_host_chunk(&ch, 0); /* released after a closed */
    kvs_cache *b = gds_cache(e->dir, &gb.ops, false, STAGING);
    assert_int_equal(fake_cufile(0).drivers_open, 1); /* one cuFile session for both */
    assert_int_equal(fake_cufile(0).buffers_registered, 2);
    kvs_chunk_release(gds_host_chunk(&ch, 1)); /* idle in the pool (no pool under ASan) */
    kvs_cache_close(a);
    assert_int_equal(fake_cufile(0).drivers_open, 1); /* b still uses it */
    assert_int_equal(atomic_load(&ga->host_allocs), atomic_load(&ga->host_frees) + 1);

    int a_allocs = atomic_load(&ga->host_allocs), b_allocs = atomic_load(&gb.host_allocs);
    kvs_chunk *now = gds_host_chunk(&ch, 2);
    assert_int_equal(atomic_load(&ga->host_allocs), a_allocs);
    assert_int_equal(atomic_load(&gb.host_allocs), b_allocs + 1);
    kvs_chunk_release(late);
    assert_int_equal(atomic_load(&ga->host_allocs), atomic_load(&ga->host_frees));
    kvs_chunk_release(now);
    kvs_cache_close(b);
    gds_check_released(ga);
    gds_check_released(&gb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        GDS_TEST(device_chunks_round_trip),
        GDS_TEST(nodes_with_and_without_gpu_share_objects),
        GDS_TEST(device_checksum_catches_a_flipped_bit),
        GDS_TEST(short_transfers_are_continued),
        GDS_TEST(unaligned_header_size_is_corrupt),
        GDS_TEST(cufile_read_error_is_an_io_error),
        GDS_TEST(host_tiers_get_host_copies),
        GDS_TEST(host_buffers_are_page_locked_while_a_gpu_cache_is_open),
        GDS_TEST(pinned_buffers_go_back_when_their_cache_closes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
