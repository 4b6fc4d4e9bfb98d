/* GGUF reader: validates the whole file at open, then serves bounds-safe accessors. */
#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC 0x46554747u
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_ARRAY_DEPTH 4
#define GGUF_MAX_KEY_LEN 65535u
#define GGUF_MAX_NAME_LEN 64u

typedef struct gguf_kv {
    gguf_string key;
    uint32_t type;
    const uint8_t *val;      /* the encoded value (after the type field) */
    uint64_t val_size;       /* bytes of the encoded value */
    uint32_t arr_type;       /* arrays only */
    uint64_t arr_n;          /* arrays only */
    uint64_t *str_offsets;   /* string arrays: offset of element i's length field in val */
} gguf_kv;

struct gguf_file {
    char *path;
    const uint8_t *base;
    uint64_t size;
    bool mapped;
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    /* open-addressing name indexes (value = index + 1; 0 = empty) */
    uint64_t *kv_index, *tensor_index;
    uint64_t index_cap_kv, index_cap_tensors;
    uint8_t fingerprint[SHA256_DIGEST_LENGTH];
};

typedef struct type_info {
    const char *name;
    uint32_t elems, bytes;
} type_info;

static const type_info *type_lookup(uint32_t type)
{
    static const type_info table[] = {
        [GGML_TYPE_F32] = {"f32", 1, 4},       [GGML_TYPE_F16] = {"f16", 1, 2},
        [GGML_TYPE_Q4_0] = {"q4_0", 32, 18},   [GGML_TYPE_Q4_1] = {"q4_1", 32, 20},
        [GGML_TYPE_Q5_0] = {"q5_0", 32, 22},   [GGML_TYPE_Q5_1] = {"q5_1", 32, 24},
        [GGML_TYPE_Q8_0] = {"q8_0", 32, 34},   [GGML_TYPE_Q8_1] = {"q8_1", 32, 36},
        [GGML_TYPE_Q2_K] = {"q2_k", 256, 84},  [GGML_TYPE_Q3_K] = {"q3_k", 256, 110},
        [GGML_TYPE_Q4_K] = {"q4_k", 256, 144}, [GGML_TYPE_Q5_K] = {"q5_k", 256, 176},
        [GGML_TYPE_Q6_K] = {"q6_k", 256, 210}, [GGML_TYPE_Q8_K] = {"q8_k", 256, 292},
        [24] = {"i8", 1, 1},                   [25] = {"i16", 1, 2},
        [26] = {"i32", 1, 4},                  [27] = {"i64", 1, 8},
        [28] = {"f64", 1, 8},                  [GGML_TYPE_BF16] = {"bf16", 1, 2},
    };
    if (type >= sizeof table / sizeof table[0] || !table[type].name)
        return NULL;
    return &table[type];
}

uint32_t ggml_type_block_elems(uint32_t type)
{
    const type_info *t = type_lookup(type);
    return t ? t->elems : 0;
}

uint32_t ggml_type_block_bytes(uint32_t type)
{
    const type_info *t = type_lookup(type);
    return t ? t->bytes : 0;
}

const char *ggml_type_name(uint32_t type)
{
    const type_info *t = type_lookup(type);
    return t ? t->name : "unknown";
}

int ggml_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne, uint64_t *out)
{
    const type_info *t = type_lookup(type);
    if (!t || n_dims < 1 || n_dims > 4 || ne[0] == 0 || ne[0] % t->elems)
        return -1;
    uint64_t total = ne[0] / t->elems * t->bytes; /* cannot overflow: bytes <= 292 */
    if (total / t->bytes != ne[0] / t->elems)
        return -1;
    for (uint32_t d = 1; d < n_dims; d++) {
        if (ne[d] == 0 || total > UINT64_MAX / ne[d])
            return -1;
        total *= ne[d];
    }
    if (total > (uint64_t)INT64_MAX)
        return -1;
    *out = total;
    return 0;
}

/* ---- parsing ---- */

typedef struct cursor {
    const uint8_t *base;
    uint64_t size, pos;
    const char *path;
    model_error *err;
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

static int need(cursor *c, uint64_t n, const char *what)
{
    if (n > remaining(c))
        return model_fail(c->err, "%s: truncated at offset %llu reading %s (%llu bytes needed, %llu left)",
                          c->path, (unsigned long long)c->pos, what, (unsigned long long)n,
                          (unsigned long long)remaining(c));
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what)
{
    if (need(c, 4, what))
        return -1;
    memcpy(v, c->base + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what)
{
    if (need(c, 8, what))
        return -1;
    memcpy(v, c->base + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int rd_str(cursor *c, gguf_string *s, uint64_t max_len, const char *what)
{
    uint64_t len;
    if (rd_u64(c, &len, what))
        return -1;
    if (len > remaining(c))
        return model_fail(c->err, "%s: %s at offset %llu has length %llu, past end of file (%llu bytes left)",
                          c->path, what, (unsigned long long)(c->pos - 8), (unsigned long long)len,
                          (unsigned long long)remaining(c));
    if (len > max_len)
        return model_fail(c->err, "%s: %s at offset %llu is %llu bytes long (limit %llu)", c->path,
                          what, (unsigned long long)(c->pos - 8), (unsigned long long)len,
                          (unsigned long long)max_len);
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return 0;
}

static uint32_t scalar_size(uint32_t vt)
{
    switch (vt) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

/* Smallest encoding of one element of a type, to bound counts by the bytes left. */
static uint64_t min_elem_size(uint32_t vt)
{
    if (vt == GGUF_VT_STRING)
        return 8;
    if (vt == GGUF_VT_ARRAY)
        return 12;
    return scalar_size(vt);
}

static int skip_value(cursor *c, uint32_t vt, int depth, const char *key);

static int skip_array(cursor *c, int depth, const char *key, uint32_t *elem_type, uint64_t *n)
{
    if (depth > GGUF_MAX_ARRAY_DEPTH)
        return model_fail(c->err, "%s: key %s: arrays nested deeper than %d", c->path, key,
                          GGUF_MAX_ARRAY_DEPTH);
    if (rd_u32(c, elem_type, "array element type") || rd_u64(c, n, "array length"))
        return -1;
    if (*elem_type >= GGUF_VT_COUNT)
        return model_fail(c->err, "%s: key %s: invalid array element type %u", c->path, key,
                          *elem_type);
    if (*n > remaining(c) / min_elem_size(*elem_type))
        return model_fail(c->err, "%s: key %s: array of %llu elements cannot fit in the %llu bytes left",
                          c->path, key, (unsigned long long)*n, (unsigned long long)remaining(c));
    uint32_t sz = scalar_size(*elem_type);
    if (sz && *elem_type != GGUF_VT_BOOL) {
        c->pos += *n * sz;
        return 0;
    }
    for (uint64_t i = 0; i < *n; i++)
        if (skip_value(c, *elem_type, depth + 1, key))
            return -1;
    return 0;
}

static int skip_value(cursor *c, uint32_t vt, int depth, const char *key)
{
    if (vt == GGUF_VT_STRING) {
        gguf_string s;
        return rd_str(c, &s, UINT64_MAX, "string value");
    }
    if (vt == GGUF_VT_ARRAY) {
        uint32_t et;
        uint64_t n;
        return skip_array(c, depth, key, &et, &n);
    }
    uint32_t sz = scalar_size(vt);
    if (!sz)
        return model_fail(c->err, "%s: key %s: invalid value type %u", c->path, key, vt);
    if (need(c, sz, "value"))
        return -1;
    if (vt == GGUF_VT_BOOL && c->base[c->pos] > 1)
        return model_fail(c->err, "%s: key %s: bool value %u is neither 0 nor 1", c->path, key,
                          c->base[c->pos]);
    c->pos += sz;
    return 0;
}

static uint64_t hash_name(const char *p, uint64_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t index_cap_for(uint64_t n)
{
    uint64_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    return cap;
}

/* Finds name in an index; returns the slot (empty or matching). */
static uint64_t index_slot(const uint64_t *index, uint64_t cap, const char *name, uint64_t len,
                           gguf_string (*name_of)(const gguf_file *, uint64_t), const gguf_file *gf)
{
    uint64_t slot = hash_name(name, len) & (cap - 1);
    while (index[slot]) {
        gguf_string s = name_of(gf, index[slot] - 1);
        if (s.len == len && memcmp(s.ptr, name, len) == 0)
            return slot;
        slot = (slot + 1) & (cap - 1);
    }
    return slot;
}

static gguf_string kv_name_of(const gguf_file *gf, uint64_t i) { return gf->kv[i].key; }

static gguf_string tensor_name_of(const gguf_file *gf, uint64_t i)
{
    return (gguf_string){gf->tensors[i].name, strlen(gf->tensors[i].name)};
}

static int parse_kv(gguf_file *gf, cursor *c, uint64_t i)
{
    gguf_kv *kv = &gf->kv[i];
    char what[64];
    snprintf(what, sizeof what, "key %llu name", (unsigned long long)i);
    if (rd_str(c, &kv->key, GGUF_MAX_KEY_LEN, what))
        return -1;
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 100 ? kv->key.len : 100), kv->key.ptr);
    if (kv->key.len == 0 || memchr(kv->key.ptr, 0, kv->key.len))
        return model_fail(c->err, "%s: key %llu has an empty name or one with a NUL byte", c->path,
                          (unsigned long long)i);
    uint64_t slot = index_slot(gf->kv_index, gf->index_cap_kv, kv->key.ptr, kv->key.len, kv_name_of, gf);
    if (gf->kv_index[slot])
        return model_fail(c->err, "%s: duplicate key %s", c->path, key);
    if (rd_u32(c, &kv->type, "value type"))
        return -1;
    if (kv->type >= GGUF_VT_COUNT)
        return model_fail(c->err, "%s: key %s: invalid value type %u", c->path, key, kv->type);
    kv->val = c->base + c->pos;
    uint64_t start = c->pos;
    if (kv->type == GGUF_VT_ARRAY) {
        if (skip_array(c, 1, key, &kv->arr_type, &kv->arr_n))
            return -1;
        if (kv->arr_type == GGUF_VT_STRING) {
            kv->str_offsets = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *kv->str_offsets);
            if (!kv->str_offsets)
                return model_fail(c->err, "%s: key %s: out of memory", c->path, key);
            uint64_t off = 12;
            for (uint64_t j = 0; j < kv->arr_n; j++) {
                uint64_t len;
                kv->str_offsets[j] = off;
                memcpy(&len, kv->val + off, 8);
                off += 8 + len; /* validated by skip_array */
            }
        }
    } else if (skip_value(c, kv->type, 1, key)) {
        return -1;
    }
    kv->val_size = c->pos - start;
    gf->kv_index[slot] = i + 1;
    return 0;
}

static int parse_tensor_info(gguf_file *gf, cursor *c, uint64_t i)
{
    gguf_tensor *t = &gf->tensors[i];
    gguf_string name;
    char what[64];
    snprintf(what, sizeof what, "tensor %llu name", (unsigned long long)i);
    if (rd_str(c, &name, GGUF_MAX_NAME_LEN, what))
        return -1;
    if (name.len == 0 || memchr(name.ptr, 0, name.len))
        return model_fail(c->err, "%s: tensor %llu has an empty name or one with a NUL byte",
                          c->path, (unsigned long long)i);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = '\0';
    uint64_t slot = index_slot(gf->tensor_index, gf->index_cap_tensors, t->name, name.len,
                               tensor_name_of, gf);
    if (gf->tensor_index[slot])
        return model_fail(c->err, "%s: duplicate tensor name %s", c->path, t->name);
    if (rd_u32(c, &t->n_dims, "tensor n_dims"))
        return -1;
    if (t->n_dims < 1 || t->n_dims > 4)
        return model_fail(c->err, "%s: tensor %s: n_dims %u not in 1..4", c->path, t->name, t->n_dims);
    for (uint32_t d = 0; d < 4; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims) {
            if (rd_u64(c, &t->ne[d], "tensor dimension"))
                return -1;
            if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX)
                return model_fail(c->err, "%s: tensor %s: dimension %u is %llu", c->path, t->name,
                                  d, (unsigned long long)t->ne[d]);
        }
    }
    if (rd_u32(c, &t->type, "tensor type") || rd_u64(c, &t->offset, "tensor offset"))
        return -1;
    uint32_t blk = ggml_type_block_elems(t->type);
    if (!blk)
        return model_fail(c->err, "%s: tensor %s: unknown type %u", c->path, t->name, t->type);
    if (t->ne[0] % blk)
        return model_fail(c->err, "%s: tensor %s: ne[0] = %llu not a multiple of the %s block size %u",
                          c->path, t->name, (unsigned long long)t->ne[0], ggml_type_name(t->type), blk);
    if (ggml_tensor_nbytes(t->type, t->n_dims, t->ne, &t->size))
        return model_fail(c->err, "%s: tensor %s: size of [%llu, %llu, %llu, %llu] overflows",
                          c->path, t->name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                          (unsigned long long)t->ne[2], (unsigned long long)t->ne[3]);
    gf->tensor_index[slot] = i + 1;
    return 0;
}

static int get_alignment(gguf_file *gf, model_error *err, uint32_t *align)
{
    *align = GGUF_DEFAULT_ALIGNMENT;
    if (gguf_find_key(gf, "general.alignment") < 0)
        return 0;
    if (gguf_get_u32(gf, "general.alignment", align) || *align == 0 || *align % 8)
        return model_fail(err, "%s: general.alignment must be a nonzero multiple of 8 (uint32)",
                          gf->path);
    return 0;
}

static int parse(gguf_file *gf, model_error *err)
{
    cursor c = {gf->base, gf->size, 0, gf->path, err};
    uint32_t magic;
    if (rd_u32(&c, &magic, "magic"))
        return -1;
    if (magic != GGUF_MAGIC)
        return model_fail(err, "%s: not a GGUF file (magic %02x %02x %02x %02x)", gf->path,
                          gf->base[0], gf->base[1], gf->base[2], gf->base[3]);
    if (rd_u32(&c, &gf->version, "version"))
        return -1;
    if (gf->version != 2 && gf->version != 3)
        return model_fail(err, "%s: unsupported GGUF version %u%s", gf->path, gf->version,
                          (gf->version & 0xffff) == 0 ? " (big-endian file?)" : " (need 2 or 3)");
    if (rd_u64(&c, &gf->n_tensors, "tensor count") || rd_u64(&c, &gf->n_kv, "metadata count"))
        return -1;
    /* A key needs >= 13 bytes (length, type, 1-byte value); a tensor info >= 32. */
    if (gf->n_kv > remaining(&c) / 13)
        return model_fail(err, "%s: metadata count %llu cannot fit in a %llu-byte file", gf->path,
                          (unsigned long long)gf->n_kv, (unsigned long long)gf->size);
    if (gf->n_tensors > remaining(&c) / 32)
        return model_fail(err, "%s: tensor count %llu cannot fit in a %llu-byte file", gf->path,
                          (unsigned long long)gf->n_tensors, (unsigned long long)gf->size);
    gf->kv = calloc(gf->n_kv ? gf->n_kv : 1, sizeof *gf->kv);
    gf->tensors = calloc(gf->n_tensors ? gf->n_tensors : 1, sizeof *gf->tensors);
    gf->index_cap_kv = index_cap_for(gf->n_kv);
    gf->index_cap_tensors = index_cap_for(gf->n_tensors);
    gf->kv_index = calloc(gf->index_cap_kv, sizeof *gf->kv_index);
    gf->tensor_index = calloc(gf->index_cap_tensors, sizeof *gf->tensor_index);
    if (!gf->kv || !gf->tensors || !gf->kv_index || !gf->tensor_index)
        return model_fail(err, "%s: out of memory", gf->path);
    for (uint64_t i = 0; i < gf->n_kv; i++) {
        if (parse_kv(gf, &c, i))
            return -1;
    }
    uint32_t align;
    if (get_alignment(gf, err, &align))
        return -1;
    for (uint64_t i = 0; i < gf->n_tensors; i++)
        if (parse_tensor_info(gf, &c, i))
            return -1;
    uint64_t data_start = c.pos + (align - c.pos % align) % align;
    if (gf->n_tensors && data_start > gf->size)
        return model_fail(err, "%s: tensor data section starts at %llu, past end of file (%llu)",
                          gf->path, (unsigned long long)data_start, (unsigned long long)gf->size);
    for (uint64_t i = 0; i < gf->n_tensors; i++) {
        gguf_tensor *t = &gf->tensors[i];
        if (t->offset % align)
            return model_fail(err, "%s: tensor %s: offset %llu not aligned to %u", gf->path,
                              t->name, (unsigned long long)t->offset, align);
        uint64_t avail = gf->size - data_start;
        if (t->offset > avail || t->size > avail - t->offset)
            return model_fail(err, "%s: tensor %s: data [%llu, %llu) past end of file (%llu)",
                              gf->path, t->name, (unsigned long long)(data_start + t->offset),
                              (unsigned long long)(data_start + t->offset + (t->size < avail ? t->size : avail)),
                              (unsigned long long)gf->size);
        t->data = gf->base + data_start + t->offset;
    }
    /* The whole file: header, metadata, tensor infos and tensor data (padding is zeros). */
    SHA256(gf->base, gf->size, gf->fingerprint);
    return 0;
}

static int finish_open(gguf_file *gf, gguf_file **out, model_error *err)
{
    if (parse(gf, err)) {
        gguf_close(gf);
        return -1;
    }
    *out = gf;
    return 0;
}

int gguf_open_memory(const void *data, size_t size, gguf_file **out, model_error *err)
{
    *out = NULL;
    gguf_file *gf = calloc(1, sizeof *gf);
    if (!gf || !(gf->path = strdup("<memory>"))) {
        free(gf);
        return model_fail(err, "<memory>: out of memory");
    }
    gf->base = data;
    gf->size = size;
    return finish_open(gf, out, err);
}

int gguf_open(const char *path, gguf_file **out, model_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return model_fail(err, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return model_fail(err, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return model_fail(err, "%s: not a regular file", path);
    }
    gguf_file *gf = calloc(1, sizeof *gf);
    if (!gf || !(gf->path = strdup(path))) {
        free(gf);
        close(fd);
        return model_fail(err, "%s: out of memory", path);
    }
    gf->size = (uint64_t)st.st_size;
    if (gf->size > 0) {
        void *map = mmap(NULL, gf->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            gguf_close(gf);
            return model_fail(err, "%s: mmap: %s", path, strerror(e));
        }
        gf->base = map;
        gf->mapped = true;
    } else {
        gf->base = (const uint8_t *)"";
    }
    close(fd);
    return finish_open(gf, out, err);
}

void gguf_close(gguf_file *gf)
{
    if (!gf)
        return;
    if (gf->kv)
        for (uint64_t i = 0; i < gf->n_kv; i++)
            free(gf->kv[i].str_offsets);
    free(gf->kv);
    free(gf->tensors);
    free(gf->kv_index);
    free(gf->tensor_index);
    if (gf->mapped)
        munmap((void *)gf->base, gf->size);
    free(gf->path);
    free(gf);
}

/* ---- accessors ---- */

uint32_t gguf_version(const gguf_file *gf) { return gf->version; }
const char *gguf_path(const gguf_file *gf) { return gf->path; }
uint64_t gguf_file_size(const gguf_file *gf) { return gf->size; }
const uint8_t *gguf_fingerprint(const gguf_file *gf) { return gf->fingerprint; }
uint64_t gguf_n_keys(const gguf_file *gf) { return gf->n_kv; }
uint64_t gguf_n_tensors(const gguf_file *gf) { return gf->n_tensors; }

int64_t gguf_find_key(const gguf_file *gf, const char *key)
{
    uint64_t slot = index_slot(gf->kv_index, gf->index_cap_kv, key, strlen(key), kv_name_of, gf);
    return gf->kv_index[slot] ? (int64_t)(gf->kv_index[slot] - 1) : -1;
}

gguf_string gguf_key_name(const gguf_file *gf, int64_t idx)
{
    if (idx < 0 || (uint64_t)idx >= gf->n_kv)
        return (gguf_string){NULL, 0};
    return gf->kv[idx].key;
}

gguf_value_type gguf_key_type(const gguf_file *gf, int64_t idx)
{
    if (idx < 0 || (uint64_t)idx >= gf->n_kv)
        return GGUF_VT_COUNT;
    return (gguf_value_type)gf->kv[idx].type;
}

int gguf_key_raw(const gguf_file *gf, int64_t idx, const void **val, uint64_t *size)
{
    if (idx < 0 || (uint64_t)idx >= gf->n_kv)
        return -1;
    *val = gf->kv[idx].val;
    *size = gf->kv[idx].val_size;
    return 0;
}

static const gguf_kv *find(const gguf_file *gf, const char *key)
{
    int64_t i = gguf_find_key(gf, key);
    return i < 0 ? NULL : &gf->kv[i];
}

/* Reads an integer value of any integer type as a sign flag plus magnitude-safe pair. */
static int read_int(const gguf_kv *kv, bool *neg, uint64_t *mag)
{
    const uint8_t *p = kv->val;
    int64_t s;
    *neg = false;
    switch (kv->type) {
    case GGUF_VT_UINT8: *mag = p[0]; return 0;
    case GGUF_VT_UINT16: { uint16_t v; memcpy(&v, p, 2); *mag = v; return 0; }
    case GGUF_VT_UINT32: { uint32_t v; memcpy(&v, p, 4); *mag = v; return 0; }
    case GGUF_VT_UINT64: memcpy(mag, p, 8); return 0;
    case GGUF_VT_INT8: s = (int8_t)p[0]; break;
    case GGUF_VT_INT16: { int16_t v; memcpy(&v, p, 2); s = v; break; }
    case GGUF_VT_INT32: { int32_t v; memcpy(&v, p, 4); s = v; break; }
    case GGUF_VT_INT64: memcpy(&s, p, 8); break;
    default: return -1;
    }
    *neg = s < 0;
    *mag = *neg ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    return 0;
}

int gguf_get_u32(const gguf_file *gf, const char *key, uint32_t *out)
{
    const gguf_kv *kv = find(gf, key);
    bool neg;
    uint64_t mag;
    if (!kv || read_int(kv, &neg, &mag) || (neg && mag) || mag > UINT32_MAX)
        return -1;
    *out = (uint32_t)mag;
    return 0;
}

int gguf_get_i64(const gguf_file *gf, const char *key, int64_t *out)
{
    const gguf_kv *kv = find(gf, key);
    bool neg;
    uint64_t mag;
    if (!kv || read_int(kv, &neg, &mag))
        return -1;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)mag;
    }
    return 0;
}

int gguf_get_f32(const gguf_file *gf, const char *key, float *out)
{
    const gguf_kv *kv = find(gf, key);
    if (!kv)
        return -1;
    if (kv->type == GGUF_VT_FLOAT32) {
        memcpy(out, kv->val, 4);
        return 0;
    }
    if (kv->type == GGUF_VT_FLOAT64) {
        double d;
        memcpy(&d, kv->val, 8);
        *out = (float)d;
        return 0;
    }
    return -1;
}

int gguf_get_bool(const gguf_file *gf, const char *key, bool *out)
{
    const gguf_kv *kv = find(gf, key);
    if (!kv || kv->type != GGUF_VT_BOOL)
        return -1;
    *out = kv->val[0] != 0;
    return 0;
}

int gguf_get_str(const gguf_file *gf, const char *key, gguf_string *out)
{
    const gguf_kv *kv = find(gf, key);
    if (!kv || kv->type != GGUF_VT_STRING)
        return -1;
    memcpy(&out->len, kv->val, 8);
    out->ptr = (const char *)kv->val + 8;
    return 0;
}

char *gguf_dup_str(const gguf_file *gf, const char *key)
{
    gguf_string gs;
    if (gguf_get_str(gf, key, &gs) != 0)
        return NULL;
    char *s = malloc(gs.len + 1);
    if (s) {
        memcpy(s, gs.ptr, gs.len);
        s[gs.len] = 0;
    }
    return s;
}

int gguf_get_arr(const gguf_file *gf, const char *key, gguf_value_type *elem_type, uint64_t *n)
{
    const gguf_kv *kv = find(gf, key);
    if (!kv || kv->type != GGUF_VT_ARRAY)
        return -1;
    *elem_type = (gguf_value_type)kv->arr_type;
    *n = kv->arr_n;
    return 0;
}

const void *gguf_arr_data(const gguf_file *gf, const char *key)
{
    const gguf_kv *kv = find(gf, key);
    if (!kv || kv->type != GGUF_VT_ARRAY || !scalar_size(kv->arr_type))
        return NULL;
    return kv->val + 12;
}

gguf_string gguf_arr_str(const gguf_file *gf, const char *key, uint64_t i)
{
    const gguf_kv *kv = find(gf, key);
    if (!kv || kv->type != GGUF_VT_ARRAY || kv->arr_type != GGUF_VT_STRING || i >= kv->arr_n)
        return (gguf_string){NULL, 0};
    gguf_string s;
    memcpy(&s.len, kv->val + kv->str_offsets[i], 8);
    s.ptr = (const char *)kv->val + kv->str_offsets[i] + 8;
    return s;
}

const gguf_tensor *gguf_tensor_at(const gguf_file *gf, uint64_t i)
{
    return i < gf->n_tensors ? &gf->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *gf, const char *name)
{
    size_t len = strlen(name);
    if (len > GGUF_MAX_NAME_LEN)
        return NULL;
    uint64_t slot = index_slot(gf->tensor_index, gf->index_cap_tensors, name, len, tensor_name_of, gf);
    return gf->tensor_index[slot] ? &gf->tensors[gf->tensor_index[slot] - 1] : NULL;
}
