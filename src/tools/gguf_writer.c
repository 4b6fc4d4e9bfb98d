/* GGUF v3 writer: metadata and tensor infos in memory, tensor data copied or streamed. */
#include "tools/gguf_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITER_ALIGNMENT 32u

typedef struct wkv {
    char *key;
    uint32_t type;
    uint8_t *val; /* encoded value */
    size_t size;
} wkv;

typedef struct wtensor {
    char name[65];
    uint32_t n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint64_t size, offset;
    void *data; /* NULL for declared (streamed) tensors */
} wtensor;

struct gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    uint64_t data_size;
    /* streaming state */
    FILE *f;
    char *path, *tmp;
    size_t cur;          /* tensor being streamed */
    uint64_t cur_done;   /* its bytes written so far */
};

gguf_writer *gguf_writer_new(void)
{
    return calloc(1, sizeof(gguf_writer));
}

static void abandon(gguf_writer *w)
{
    if (w->f) {
        fclose(w->f);
        w->f = NULL;
        unlink(w->tmp);
    }
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w)
        return;
    abandon(w);
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].data);
    free(w->kv);
    free(w->t);
    free(w);
}

/* Takes ownership of val. */
static int set_kv(gguf_writer *w, const char *key, uint32_t type, uint8_t *val, size_t size)
{
    if (!val)
        return -1;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (!strcmp(w->kv[i].key, key)) {
            free(w->kv[i].val);
            w->kv[i].type = type;
            w->kv[i].val = val;
            w->kv[i].size = size;
            return 0;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(val);
            return -1;
        }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(val);
        return -1;
    }
    w->kv[w->n_kv++] = (wkv){k, type, val, size};
    return 0;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    if (b)
        memcpy(b, p, n);
    return b;
}

int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{
    return set_kv(w, key, GGUF_VT_UINT32, dup_bytes(&v, 4), 4);
}

int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{
    return set_kv(w, key, GGUF_VT_INT32, dup_bytes(&v, 4), 4);
}

int gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{
    return set_kv(w, key, GGUF_VT_FLOAT32, dup_bytes(&v, 4), 4);
}

int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return set_kv(w, key, GGUF_VT_BOOL, dup_bytes(&b, 1), 1);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v)
{
    uint64_t len = strlen(v);
    uint8_t *val = malloc(8 + len);
    if (val) {
        memcpy(val, &len, 8);
        memcpy(val + 8, v, len);
    }
    return set_kv(w, key, GGUF_VT_STRING, val, 8 + len);
}

static size_t elem_size(gguf_value_type t)
{
    switch (t) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_value_type elem_type,
                        const void *data, uint64_t n)
{
    size_t es = elem_size(elem_type);
    if (!es || n > (SIZE_MAX - 12) / es)
        return -1;
    uint32_t et = elem_type;
    uint8_t *val = malloc(12 + n * es);
    if (val) {
        memcpy(val, &et, 4);
        memcpy(val + 4, &n, 8);
        memcpy(val + 12, data, n * es);
    }
    return set_kv(w, key, GGUF_VT_ARRAY, val, 12 + n * es);
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n)
{
    size_t size = 12;
    for (uint64_t i = 0; i < n; i++)
        size += 8 + strlen(strs[i]);
    uint8_t *val = malloc(size);
    if (val) {
        uint32_t et = GGUF_VT_STRING;
        memcpy(val, &et, 4);
        memcpy(val + 4, &n, 8);
        size_t at = 12;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t len = strlen(strs[i]);
            memcpy(val + at, &len, 8);
            memcpy(val + at + 8, strs[i], len);
            at += 8 + len;
        }
    }
    return set_kv(w, key, GGUF_VT_ARRAY, val, size);
}

int gguf_writer_copy_kv(gguf_writer *w, const gguf_file *src, int64_t idx)
{
    const void *val;
    uint64_t size;
    gguf_string name = gguf_key_name(src, idx);
    if (!name.ptr || gguf_key_raw(src, idx, &val, &size))
        return -1;
    char *key = strndup(name.ptr, name.len);
    if (!key)
        return -1;
    int rc = set_kv(w, key, gguf_key_type(src, idx), dup_bytes(val, size), size);
    free(key);
    return rc;
}

static int add_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                      uint32_t type, const void *data)
{
    uint64_t size;
    if (w->f || strlen(name) == 0 || strlen(name) > 64 || ggml_tensor_nbytes(type, n_dims, ne, &size))
        return -1;
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return -1;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t)
            return -1;
        w->t = t;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < 4; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->type = type;
    t->size = size;
    if (data) {
        if (size > SIZE_MAX || !(t->data = dup_bytes(data, (size_t)size)))
            return -1;
    }
    t->offset = w->data_size;
    w->data_size += size + (WRITER_ALIGNMENT - size % WRITER_ALIGNMENT) % WRITER_ALIGNMENT;
    w->n_t++;
    return 0;
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
                           const uint64_t *ne, uint32_t type, const void *data)
{
    return data ? add_tensor(w, name, n_dims, ne, type, data) : -1;
}

int gguf_writer_declare_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
                               const uint64_t *ne, uint32_t type)
{
    return add_tensor(w, name, n_dims, ne, type, NULL);
}

static int put(gguf_writer *w, const void *p, size_t n, model_error *err)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return model_fail(err, "%s: write: %s", w->tmp, strerror(errno));
    return 0;
}

static int put_pad(gguf_writer *w, uint64_t written, model_error *err)
{
    static const uint8_t zeros[WRITER_ALIGNMENT];
    return put(w, zeros, (WRITER_ALIGNMENT - written % WRITER_ALIGNMENT) % WRITER_ALIGNMENT, err);
}

static int put_str(gguf_writer *w, const char *s, model_error *err)
{
    uint64_t len = strlen(s);
    return put(w, &len, 8, err) || put(w, s, len, err) ? -1 : 0;
}

int gguf_writer_begin(gguf_writer *w, const char *path, model_error *err)
{
    if (w->f)
        return model_fail(err, "%s: a write is already in progress (%s)", path, w->path);
    size_t tlen = strlen(path) + 32;
    w->path = strdup(path);
    w->tmp = malloc(tlen);
    if (!w->path || !w->tmp) {
        abandon(w);
        return model_fail(err, "%s: out of memory", path);
    }
    snprintf(w->tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        int e = errno;
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", w->tmp);
        abandon(w);
        return model_fail(err, "%s: %s", tmp, strerror(e));
    }
    uint32_t magic = 0x46554747u, version = 3;
    uint64_t n_t = w->n_t, n_kv = w->n_kv;
    uint64_t pos = 24;
    if (put(w, &magic, 4, err) || put(w, &version, 4, err) || put(w, &n_t, 8, err) ||
        put(w, &n_kv, 8, err))
        goto fail;
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        if (put_str(w, kv->key, err) || put(w, &kv->type, 4, err) || put(w, kv->val, kv->size, err))
            goto fail;
        pos += 8 + strlen(kv->key) + 4 + kv->size;
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        if (put_str(w, t->name, err) || put(w, &t->n_dims, 4, err) ||
            put(w, t->ne, 8 * (size_t)t->n_dims, err) || put(w, &t->type, 4, err) ||
            put(w, &t->offset, 8, err))
            goto fail;
        pos += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    if (put_pad(w, pos, err))
        goto fail;
    w->cur = 0;
    w->cur_done = 0;
    return 0;
fail:
    abandon(w);
    return -1;
}

int gguf_writer_stream(gguf_writer *w, const void *data, size_t n, model_error *err)
{
    if (!w->f)
        return model_fail(err, "gguf writer: stream without begin");
    const uint8_t *p = data;
    while (n > 0) {
        if (w->cur >= w->n_t) {
            int rc = model_fail(err, "%s: %zu bytes more than the declared tensors hold", w->path, n);
            abandon(w);
            return rc;
        }
        wtensor *t = &w->t[w->cur];
        uint64_t left = t->size - w->cur_done;
        size_t chunk = n < left ? n : (size_t)left;
        if (put(w, p, chunk, err)) {
            abandon(w);
            return -1;
        }
        p += chunk;
        n -= chunk;
        w->cur_done += chunk;
        if (w->cur_done == t->size) {
            if (put_pad(w, t->size, err)) {
                abandon(w);
                return -1;
            }
            w->cur++;
            w->cur_done = 0;
        }
    }
    return 0;
}

int gguf_writer_finish(gguf_writer *w, model_error *err)
{
    if (!w->f)
        return model_fail(err, "gguf writer: finish without begin");
    if (w->cur < w->n_t) {
        int rc = model_fail(err, "%s: tensor %s incomplete (%llu of %llu bytes written)", w->path,
                            w->t[w->cur].name, (unsigned long long)w->cur_done,
                            (unsigned long long)w->t[w->cur].size);
        abandon(w);
        return rc;
    }
    int rc = 0;
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        rc = model_fail(err, "%s: %s", w->tmp, strerror(errno));
    if (fclose(w->f) != 0 && rc == 0)
        rc = model_fail(err, "%s: %s", w->tmp, strerror(errno));
    w->f = NULL;
    if (rc == 0 && rename(w->tmp, w->path) != 0)
        rc = model_fail(err, "%s: rename from %s: %s", w->path, w->tmp, strerror(errno));
    if (rc != 0)
        unlink(w->tmp);
    abandon(w);
    return rc;
}

int gguf_writer_write(gguf_writer *w, const char *path, model_error *err)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (!w->t[i].data)
            return model_fail(err, "%s: tensor %s was declared without data", path, w->t[i].name);
    if (gguf_writer_begin(w, path, err))
        return -1;
    for (size_t i = 0; i < w->n_t; i++)
        if (gguf_writer_stream(w, w->t[i].data, (size_t)w->t[i].size, err))
            return -1;
    return gguf_writer_finish(w, err);
}
