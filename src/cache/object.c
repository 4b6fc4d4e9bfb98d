/* The chunk object: sizes, the header codec and chunk handles (ARCHITECTURE.md §4, object.h).
 *
 * Header layout, every integer little-endian, offsets in bytes:
 *     0  magic "KVSPILL\0"          8  u32 version          12  u32 header size
 *    16  key[32]                   48  parent[32]           80  namespace[32]
 *   112  u32 chunk index          116  u32 n_tokens
 *   120  u32 n_layers  124  u32 n_kv_heads  128  u32 head_dim  132  u32 dtype
 *   136  u64 payload size         144  u64 payload XXH3-64
 *   152  u64 created (unix ns)    160  writer id[64] (NUL-terminated)
 *   224  u64 header XXH3-64 (over all header_size bytes with this field zeroed)
 *   232  i32 token ids[n_tokens], then zeros up to header_size (a multiple of 4096).
 *
 * The payload is n_layers * 2 segments of kvs_segment_stride bytes each, K then V per
 * layer; the last segment is padded too, so every object is a whole number of 4096-byte
 * blocks and O_DIRECT never has to deal with a partial tail. Bytes are encoded one by one:
 * nothing here casts untrusted bytes to a struct. */
#include "cache/object.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "cache/buffer_pool.h"
#include "cache/error.h"

enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_HEADER_SIZE = 12,
    OFF_KEY = 16,
    OFF_PARENT = 48,
    OFF_NS = 80,
    OFF_CHUNK_INDEX = 112,
    OFF_N_TOKENS = 116,
    OFF_N_LAYERS = 120,
    OFF_N_KV_HEADS = 124,
    OFF_HEAD_DIM = 128,
    OFF_DTYPE = 132,
    OFF_PAYLOAD_SIZE = 136,
    OFF_PAYLOAD_SUM = 144,
    OFF_CREATED = 152,
    OFF_WRITER = 160,
    OFF_HEADER_SUM = 224,
    OFF_TOKENS = 232,
};

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t round_up_align(size_t n)
{
    return (n + KVS_OBJECT_ALIGN - 1) / KVS_OBJECT_ALIGN * KVS_OBJECT_ALIGN;
}

size_t kvs_dtype_size(kvs_dtype dtype)
{
    switch (dtype) {
    case KVS_DTYPE_F32: return 4;
    case KVS_DTYPE_F16: return 2;
    case KVS_DTYPE_BF16: return 2;
    case KVS_DTYPE_INT8: return 1;
    case KVS_DTYPE_FP8_E4M3: return 1;
    case KVS_DTYPE_COUNT: break;
    }
    return 0;
}

static bool dtype_scaled(kvs_dtype dtype)
{
    return dtype == KVS_DTYPE_INT8 || dtype == KVS_DTYPE_FP8_E4M3;
}

const char *kvs_dtype_name(kvs_dtype dtype)
{
    switch (dtype) {
    case KVS_DTYPE_F32: return "f32";
    case KVS_DTYPE_F16: return "f16";
    case KVS_DTYPE_BF16: return "bf16";
    case KVS_DTYPE_INT8: return "int8";
    case KVS_DTYPE_FP8_E4M3: return "fp8_e4m3";
    case KVS_DTYPE_COUNT: break;
    }
    return "unknown";
}

static bool layout_valid(const kvs_layout *layout, uint32_t n_tokens)
{
    return layout && layout->n_layers >= 1 && layout->n_layers <= KVS_OBJECT_MAX_LAYERS &&
           layout->n_kv_heads >= 1 && layout->n_kv_heads <= KVS_OBJECT_MAX_HEADS &&
           layout->head_dim >= 1 && layout->head_dim <= KVS_OBJECT_MAX_HEAD_DIM &&
           kvs_dtype_size(layout->dtype) != 0 && n_tokens >= 1 &&
           n_tokens <= KVS_OBJECT_MAX_TOKENS;
}

/* The size functions return 0 for a layout out of bounds or sizes that overflow size_t. */
size_t kvs_segment_bytes(const kvs_layout *layout, uint32_t n_tokens)
{
    if (!layout_valid(layout, n_tokens))
        return 0;
    /* A scaled dtype's row: per head an f32 scale, then its one-byte values. */
    size_t n = n_tokens, r, per_head = layout->head_dim * kvs_dtype_size(layout->dtype);
    if (dtype_scaled(layout->dtype))
        per_head += sizeof(float);
    if (__builtin_mul_overflow(n, (size_t)layout->n_kv_heads, &r) ||
        __builtin_mul_overflow(r, per_head, &r))
        return 0;
    return r;
}

size_t kvs_segment_stride(const kvs_layout *layout, uint32_t n_tokens)
{
    size_t seg = kvs_segment_bytes(layout, n_tokens);
    if (seg == 0 || seg > SIZE_MAX - KVS_OBJECT_ALIGN)
        return 0;
    return round_up_align(seg);
}

size_t kvs_payload_bytes(const kvs_layout *layout, uint32_t n_tokens)
{
    size_t stride = kvs_segment_stride(layout, n_tokens), r;
    if (stride == 0 || __builtin_mul_overflow(stride, (size_t)layout->n_layers * 2, &r))
        return 0;
    return r;
}

size_t kvs_object_header_size(uint32_t n_tokens)
{
    return round_up_align(OFF_TOKENS + (size_t)n_tokens * 4);
}

/* Object buffers are recycled through a pool (buffer_pool.h) so that steady-state reads
 * and chunk allocations do not fault in fresh pages. Sanitizer builds keep no idle buffers,
 * so that ASan's quarantine reports a use after free however late it happens. */
#ifdef KVSPILL_SANITIZE
#define OBJECT_POOL_BYTES 0u
#else
#define OBJECT_POOL_BYTES (256u * 1024u * 1024u)
#endif
_Static_assert(KVS_BUFFER_POOL_ALIGN % KVS_OBJECT_ALIGN == 0, "pool buffers suit O_DIRECT");

static kvs_buffer_pool object_pool = KVS_BUFFER_POOL_INITIALIZER(OBJECT_POOL_BYTES);

/* The GPU operations of the open caches that have them, each with how many such caches are
 * open, and the ones object buffers come from now (the first entry's). Allocations and
 * releases take the lock shared; opening and closing a cache take it exclusively, so no
 * buffer is allocated from, or kept idle for, operations whose last cache has closed.
 * Distinct tables are few (one per GPU); past MAX_PIN_OPS a cache's own are not used and
 * its buffers come from another open cache's. */
#define MAX_PIN_OPS 64
/* Writers first: a cache's open or close is not held off by I/O threads that keep
 * allocating (a page-locked allocation can take milliseconds). Never taken recursively. */
static pthread_rwlock_t pin_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
typedef struct pin_entry {
    const kvs_gpu_ops *ops;
    unsigned users;
} pin_entry;
static pin_entry pins[MAX_PIN_OPS];
static size_t n_pins;

/* Caller holds pin_lock. The entry of gpu, or n_pins. */
static size_t pin_find(const kvs_gpu_ops *gpu)
{
    size_t i = 0;
    while (i < n_pins && pins[i].ops != gpu)
        i++;
    return i;
}

void kvs_object_pin_buffers(const kvs_gpu_ops *gpu)
{
    pthread_rwlock_wrlock(&pin_lock);
    size_t i = pin_find(gpu);
    if (i < n_pins)
        pins[i].users++;
    else if (n_pins < MAX_PIN_OPS)
        pins[n_pins++] = (pin_entry){gpu, 1};
    pthread_rwlock_unlock(&pin_lock);
}

void kvs_object_unpin_buffers(const kvs_gpu_ops *gpu)
{
    pthread_rwlock_wrlock(&pin_lock);
    size_t i = pin_find(gpu);
    if (i < n_pins && --pins[i].users == 0) {
        memmove(&pins[i], &pins[i + 1], (n_pins - i - 1) * sizeof pins[0]);
        n_pins--;
        /* Idle page-locked buffers must not outlive the caches whose operations free them. */
        kvs_buffer_pool_trim_pinned(&object_pool, gpu);
    }
    pthread_rwlock_unlock(&pin_lock);
}

uint8_t *kvs_object_alloc_buffer(size_t size)
{
    size_t n = size == 0 ? KVS_OBJECT_ALIGN : round_up_align(size);
    if (n < size)
        return NULL;
    pthread_rwlock_rdlock(&pin_lock);
    uint8_t *buf = kvs_buffer_pool_get_pinned(&object_pool, n, n_pins ? pins[0].ops : NULL);
    pthread_rwlock_unlock(&pin_lock);
    return buf;
}

void kvs_object_free_buffer(uint8_t *buf)
{
    const kvs_gpu_ops *from = kvs_buffer_pool_pinned_of(buf);
    if (!from) {
        kvs_buffer_pool_put(&object_pool, buf);
        return;
    }
    pthread_rwlock_rdlock(&pin_lock);
    bool keep = pin_find(from) < n_pins;
    if (keep)
        kvs_buffer_pool_put(&object_pool, buf);
    pthread_rwlock_unlock(&pin_lock);
    if (!keep) /* its caches are closed: straight back to the operations it came from */
        kvs_buffer_pool_free(buf);
}

static uint64_t header_checksum(const uint8_t *buf, size_t header_size)
{
    XXH3_state_t st;
    static const uint8_t zero[8];
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, buf, OFF_HEADER_SUM);
    XXH3_64bits_update(&st, zero, sizeof zero);
    XXH3_64bits_update(&st, buf + OFF_HEADER_SUM + 8, header_size - OFF_HEADER_SUM - 8);
    return XXH3_64bits_digest(&st);
}

static uint64_t now_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kvs_object_seal(kvs_chunk *chunk)
{
    if (chunk->sealed || chunk->external)
        return;
    kvs_object_seal_with_sum(chunk, XXH3_64bits(chunk->buf + chunk->header_size,
                                                chunk->info.payload_size));
}

void kvs_object_seal_with_sum(kvs_chunk *chunk, uint64_t payload_sum)
{
    if (chunk->sealed)
        return;
    const kvs_chunk_info *in = &chunk->info;
    uint8_t *h = chunk->buf;
    memset(h, 0, chunk->header_size);
    memcpy(h + OFF_MAGIC, KVS_OBJECT_MAGIC, 8);
    put_le32(h + OFF_VERSION, KVS_OBJECT_VERSION);
    put_le32(h + OFF_HEADER_SIZE, (uint32_t)chunk->header_size);
    memcpy(h + OFF_KEY, in->key.b, KVS_KEY_BYTES);
    memcpy(h + OFF_PARENT, in->parent.b, KVS_KEY_BYTES);
    memcpy(h + OFF_NS, in->ns.b, KVS_KEY_BYTES);
    put_le32(h + OFF_CHUNK_INDEX, in->chunk_index);
    put_le32(h + OFF_N_TOKENS, in->n_tokens);
    put_le32(h + OFF_N_LAYERS, in->layout.n_layers);
    put_le32(h + OFF_N_KV_HEADS, in->layout.n_kv_heads);
    put_le32(h + OFF_HEAD_DIM, in->layout.head_dim);
    put_le32(h + OFF_DTYPE, (uint32_t)in->layout.dtype);
    put_le64(h + OFF_PAYLOAD_SIZE, in->payload_size);
    put_le64(h + OFF_PAYLOAD_SUM, payload_sum);
    put_le64(h + OFF_CREATED, in->created_unix_ns);
    memcpy(h + OFF_WRITER, in->writer_id, sizeof in->writer_id);
    h[OFF_WRITER + sizeof in->writer_id - 1] = 0;
    for (uint32_t i = 0; i < in->n_tokens; i++)
        put_le32(h + OFF_TOKENS + 4 * (size_t)i, (uint32_t)chunk->tokens[i]);
    put_le64(h + OFF_HEADER_SUM, header_checksum(h, chunk->header_size));
    chunk->sealed = true;
}

kvs_status kvs_object_parse_header(const uint8_t *buf, size_t len, kvs_chunk_info *info,
                                   size_t *header_size, int32_t *tokens, kvs_error *err)
{
    if (!buf || len < OFF_TOKENS)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: short (%zu bytes)", len);
    if (memcmp(buf + OFF_MAGIC, KVS_OBJECT_MAGIC, 8) != 0)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: bad magic");
    uint32_t version = get_le32(buf + OFF_VERSION);
    if (version != KVS_OBJECT_VERSION)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: unsupported version %u (want %u)",
                        version, KVS_OBJECT_VERSION);
    uint32_t n_tokens = get_le32(buf + OFF_N_TOKENS);
    if (n_tokens == 0 || n_tokens > KVS_OBJECT_MAX_TOKENS)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: token count %u out of range",
                        n_tokens);
    size_t hsize = get_le32(buf + OFF_HEADER_SIZE);
    if (hsize != kvs_object_header_size(n_tokens))
        return kvs_fail(err, KVS_ERR_CORRUPT,
                        "object header: size %zu does not match %u tokens", hsize, n_tokens);
    if (hsize > len)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: %zu bytes, only %zu present",
                        hsize, len);
    if (get_le64(buf + OFF_HEADER_SUM) != header_checksum(buf, hsize))
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: checksum mismatch");

    kvs_chunk_info in;
    memset(&in, 0, sizeof in);
    memcpy(in.key.b, buf + OFF_KEY, KVS_KEY_BYTES);
    memcpy(in.parent.b, buf + OFF_PARENT, KVS_KEY_BYTES);
    memcpy(in.ns.b, buf + OFF_NS, KVS_KEY_BYTES);
    in.chunk_index = get_le32(buf + OFF_CHUNK_INDEX);
    in.n_tokens = n_tokens;
    in.layout.n_layers = get_le32(buf + OFF_N_LAYERS);
    in.layout.n_kv_heads = get_le32(buf + OFF_N_KV_HEADS);
    in.layout.head_dim = get_le32(buf + OFF_HEAD_DIM);
    uint32_t dtype = get_le32(buf + OFF_DTYPE);
    if (dtype >= KVS_DTYPE_COUNT)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: unknown dtype %u", dtype);
    in.layout.dtype = (kvs_dtype)dtype;
    if (!layout_valid(&in.layout, n_tokens))
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: layout %u layers x %u heads x %u "
                        "dims out of range", in.layout.n_layers, in.layout.n_kv_heads,
                        in.layout.head_dim);
    uint64_t payload = get_le64(buf + OFF_PAYLOAD_SIZE);
    size_t expect = kvs_payload_bytes(&in.layout, n_tokens);
    if (expect == 0 || payload != expect)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: payload size %llu does not match "
                        "the layout (%zu)", (unsigned long long)payload, expect);
    in.payload_size = payload;
    in.created_unix_ns = get_le64(buf + OFF_CREATED);
    memcpy(in.writer_id, buf + OFF_WRITER, sizeof in.writer_id);
    if (in.writer_id[sizeof in.writer_id - 1] != 0)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object header: writer id not terminated");

    if (tokens)
        for (uint32_t i = 0; i < n_tokens; i++)
            tokens[i] = (int32_t)get_le32(buf + OFF_TOKENS + 4 * (size_t)i);
    if (info)
        *info = in;
    if (header_size)
        *header_size = hsize;
    return KVS_OK;
}

static void chunk_free(kvs_chunk *chunk)
{
    if (chunk->external)
        chunk->external->ops->release(chunk);
    kvs_object_free_buffer(chunk->buf);
    free(chunk->tokens);
    free(chunk);
}

/* Checks everything but the payload a reader must check once the header parsed; the
 * caller frees on error. */
static kvs_status verify_header(size_t len, const kvs_chunk_info *in, size_t hsize,
                                const int32_t *own_tokens, const kvs_key *ns,
                                const kvs_key *key, const int32_t *tokens, uint32_t n_tokens,
                                kvs_error *err)
{
    if (len != hsize + in->payload_size)
        return kvs_fail(err, KVS_ERR_CORRUPT, "object: %zu bytes, header says %llu", len,
                        (unsigned long long)(hsize + in->payload_size));
    if (ns && !kvs_key_equal(ns, &in->ns))
        return kvs_fail(err, KVS_ERR_CORRUPT, "object: belongs to another namespace");
    if (key && !kvs_key_equal(key, &in->key))
        return kvs_fail(err, KVS_ERR_CORRUPT, "object: holds another key");
    kvs_key chained;
    kvs_key_next(&in->parent, own_tokens, in->n_tokens, &chained);
    if (!kvs_key_equal(&chained, &in->key))
        return kvs_fail(err, KVS_ERR_CORRUPT, "object: key is not the chain key of its tokens");
    if (tokens && (n_tokens != in->n_tokens ||
                   memcmp(tokens, own_tokens, (size_t)n_tokens * sizeof *tokens) != 0))
        return kvs_fail(err, KVS_ERR_CORRUPT, "object: holds other tokens than expected");
    return KVS_OK;
}

kvs_status kvs_object_from_header(uint8_t *buf, size_t header_len, size_t object_len,
                                  const kvs_key *ns, const kvs_key *key, const int32_t *tokens,
                                  uint32_t n_tokens, uint64_t *payload_sum, kvs_chunk **out,
                                  kvs_error *err)
{
    *out = NULL;
    kvs_chunk_info info;
    size_t hsize;
    kvs_status st = kvs_object_parse_header(buf, header_len, &info, &hsize, NULL, err);
    if (st != KVS_OK) {
        kvs_object_free_buffer(buf);
        return st;
    }
    kvs_chunk *c = calloc(1, sizeof *c);
    int32_t *own = malloc((size_t)info.n_tokens * sizeof *own);
    if (!c || !own) {
        free(c);
        free(own);
        kvs_object_free_buffer(buf);
        return kvs_fail(err, KVS_ERR_NOMEM, "object: out of memory for %u tokens",
                        info.n_tokens);
    }
    kvs_object_parse_header(buf, header_len, NULL, NULL, own, NULL);
    c->buf = buf;
    c->tokens = own;
    c->info = info;
    c->header_size = hsize;
    c->total_size = object_len;
    c->sealed = true;
    atomic_init(&c->refs, 1);
    st = verify_header(object_len, &info, hsize, own, ns, key, tokens, n_tokens, err);
    if (st != KVS_OK) {
        chunk_free(c);
        return st;
    }
    *payload_sum = get_le64(buf + OFF_PAYLOAD_SUM);
    *out = c;
    return KVS_OK;
}

kvs_status kvs_object_from_bytes(uint8_t *buf, size_t len, const kvs_key *ns,
                                 const kvs_key *key, const int32_t *tokens,
                                 uint32_t n_tokens, kvs_chunk **out, kvs_error *err)
{
    uint64_t sum;
    kvs_status st = kvs_object_from_header(buf, len, len, ns, key, tokens, n_tokens, &sum, out,
                                           err);
    if (st != KVS_OK)
        return st;
    kvs_chunk *c = *out;
    if (sum != XXH3_64bits(c->buf + c->header_size, c->info.payload_size)) {
        *out = NULL;
        chunk_free(c);
        return kvs_fail(err, KVS_ERR_CORRUPT, "object payload: checksum mismatch");
    }
    return KVS_OK;
}

size_t kvs_object_peek_header_size(const uint8_t *buf, size_t len)
{
    if (len < OFF_HEADER_SIZE + 4 || memcmp(buf + OFF_MAGIC, KVS_OBJECT_MAGIC, 8) != 0)
        return 0;
    size_t hsize = get_le32(buf + OFF_HEADER_SIZE);
    return hsize <= kvs_object_header_size(KVS_OBJECT_MAX_TOKENS) ? hsize : 0;
}

static void default_writer_id(char *out, size_t size)
{
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = 0;
    snprintf(out, size, "%.40s:%ld", host, (long)getpid());
}

kvs_status kvs_object_new_chunk(const kvs_key *ns, const kvs_key *parent, const kvs_key *key,
                                uint32_t chunk_index, const int32_t *tokens, uint32_t n_tokens,
                                const kvs_layout *layout, bool with_payload, kvs_chunk **out,
                                kvs_error *err)
{
    *out = NULL;
    if (!ns || !parent || !key || !tokens || !layout)
        return kvs_fail(err, KVS_ERR_INVALID, "chunk: missing argument");
    if (!layout_valid(layout, n_tokens))
        return kvs_fail(err, KVS_ERR_INVALID, "chunk: %u tokens of %u layers x %u heads x %u "
                        "dims (%s) out of range", n_tokens, layout->n_layers,
                        layout->n_kv_heads, layout->head_dim, kvs_dtype_name(layout->dtype));
    kvs_key chained;
    kvs_key_next(parent, tokens, n_tokens, &chained);
    if (!kvs_key_equal(&chained, key))
        return kvs_fail(err, KVS_ERR_INVALID, "chunk %u: key is not the chain key of its tokens "
                        "under the parent", chunk_index);
    size_t payload = kvs_payload_bytes(layout, n_tokens);
    size_t hsize = kvs_object_header_size(n_tokens);
    if (payload == 0 || payload > SIZE_MAX - hsize)
        return kvs_fail(err, KVS_ERR_INVALID, "chunk %u: payload size overflows", chunk_index);
    size_t bytes = with_payload ? hsize + payload : hsize;
    kvs_chunk *c = calloc(1, sizeof *c);
    int32_t *own = malloc((size_t)n_tokens * sizeof *own);
    uint8_t *buf = kvs_object_alloc_buffer(bytes);
    if (!c || !own || !buf) {
        free(c);
        free(own);
        kvs_object_free_buffer(buf);
        return kvs_fail(err, KVS_ERR_NOMEM, "chunk %u: cannot allocate %zu bytes", chunk_index,
                        bytes);
    }
    memset(buf, 0, bytes);
    memcpy(own, tokens, (size_t)n_tokens * sizeof *own);
    atomic_init(&c->refs, 1);
    c->info.key = *key;
    c->info.parent = *parent;
    c->info.ns = *ns;
    c->info.chunk_index = chunk_index;
    c->info.n_tokens = n_tokens;
    c->info.layout = *layout;
    c->info.payload_size = payload;
    c->info.created_unix_ns = now_unix_ns();
    default_writer_id(c->info.writer_id, sizeof c->info.writer_id);
    c->header_size = hsize;
    c->total_size = hsize + payload;
    c->buf = buf;
    c->tokens = own;
    c->sealed = false;
    *out = c;
    return KVS_OK;
}

kvs_status kvs_chunk_new(const kvs_key *ns, const kvs_key *parent, const kvs_key *key,
                         uint32_t chunk_index, const int32_t *tokens, uint32_t n_tokens,
                         const kvs_layout *layout, kvs_chunk **out, kvs_error *err)
{
    if (!out)
        return kvs_fail(err, KVS_ERR_INVALID, "chunk: NULL output pointer");
    return kvs_object_new_chunk(ns, parent, key, chunk_index, tokens, n_tokens, layout, true,
                                out, err);
}

kvs_chunk *kvs_chunk_ref(kvs_chunk *chunk)
{
    if (chunk)
        atomic_fetch_add_explicit(&chunk->refs, 1, memory_order_relaxed);
    return chunk;
}

void kvs_chunk_release(kvs_chunk *chunk)
{
    if (chunk && atomic_fetch_sub_explicit(&chunk->refs, 1, memory_order_acq_rel) == 1)
        chunk_free(chunk);
}

const kvs_chunk_info *kvs_chunk_get_info(const kvs_chunk *chunk)
{
    return &chunk->info;
}

const int32_t *kvs_chunk_tokens(const kvs_chunk *chunk)
{
    return chunk->tokens;
}

/* The payload: in host memory after the header, or external. */
static uint8_t *payload_of(const kvs_chunk *chunk)
{
    return chunk->external ? chunk->external->ops->data(chunk) : chunk->buf + chunk->header_size;
}

bool kvs_chunk_on_device(const kvs_chunk *chunk)
{
    return chunk && chunk->external != NULL;
}

const void *kvs_chunk_payload(const kvs_chunk *chunk)
{
    return payload_of(chunk);
}

const uint8_t *kvs_chunk_object_bytes(const kvs_chunk *chunk, size_t *size)
{
    *size = chunk->total_size;
    return chunk->buf;
}

/* NULL for a layer or kv out of range. */
const void *kvs_chunk_segment(const kvs_chunk *chunk, uint32_t layer, int kv)
{
    if (layer >= chunk->info.layout.n_layers || (kv != 0 && kv != 1))
        return NULL;
    size_t stride = kvs_segment_stride(&chunk->info.layout, chunk->info.n_tokens);
    return payload_of(chunk) + ((size_t)layer * 2 + (size_t)kv) * stride;
}

void *kvs_chunk_segment_mut(kvs_chunk *chunk, uint32_t layer, int kv)
{
    return (void *)kvs_chunk_segment(chunk, layer, kv);
}
