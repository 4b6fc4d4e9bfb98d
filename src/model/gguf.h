/* GGUF v3 (and v2) reader over mmap (the writer for generated models: tools/gguf_writer.h).
 *
 * The file is untrusted input: gguf_open validates every count, length, offset, size, type
 * and alignment before anything is used, and refuses the file with a message naming what
 * is wrong. After a successful open every accessor is bounds-safe. */
#ifndef KVSPILL_MODEL_GGUF_H
#define KVSPILL_MODEL_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model_error.h"

typedef enum gguf_value_type {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
} gguf_value_type;

/* ggml tensor types (ids as in the GGUF files). */
typedef enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_BF16 = 30,
} ggml_type;

/* Elements per block and bytes per block of a type; 0 for types this reader does not know
 * (a tensor of such a type makes gguf_open fail only when its size cannot be validated). */
uint32_t ggml_type_block_elems(uint32_t type);
uint32_t ggml_type_block_bytes(uint32_t type);
const char *ggml_type_name(uint32_t type);
/* Bytes of a tensor of this type and shape: 0, or -1 when the type is unknown, n_dims is
 * not 1..4, a dimension is 0, ne[0] is not a multiple of the block size or the size
 * overflows. */
int ggml_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne, uint64_t *out);

typedef struct gguf_string {
    const char *ptr; /* not NUL-terminated; points into the mapping */
    uint64_t len;
} gguf_string;

typedef struct gguf_tensor {
    char name[65];      /* NUL-terminated copy (GGUF names are at most 64 bytes) */
    uint32_t n_dims;    /* 1..4 */
    uint64_t ne[4];     /* ne[0] is contiguous; unused dims are 1 */
    uint32_t type;      /* ggml_type */
    uint64_t offset;    /* from the start of the data section */
    uint64_t size;      /* bytes */
    const void *data;   /* into the mapping; validated to lie inside the file */
} gguf_tensor;

typedef struct gguf_file gguf_file;

int gguf_open(const char *path, gguf_file **out, model_error *err) MODEL_MUST_CHECK;
/* Parses an in-memory image (the fuzz harness uses this); the buffer must outlive the file. */
int gguf_open_memory(const void *data, size_t size, gguf_file **out, model_error *err) MODEL_MUST_CHECK;
void gguf_close(gguf_file *gf);

uint32_t gguf_version(const gguf_file *gf);
const char *gguf_path(const gguf_file *gf);
uint64_t gguf_file_size(const gguf_file *gf);

/* Metadata. Keys are looked up by exact name; -1 when absent. */
int64_t gguf_find_key(const gguf_file *gf, const char *key);
uint64_t gguf_n_keys(const gguf_file *gf);
gguf_string gguf_key_name(const gguf_file *gf, int64_t idx);
gguf_value_type gguf_key_type(const gguf_file *gf, int64_t idx);
/* The encoded value of key idx as stored in the file (for copying metadata verbatim). */
int gguf_key_raw(const gguf_file *gf, int64_t idx, const void **val, uint64_t *size);

/* Typed getters: 0 on success, -1 when the key is absent or of an incompatible type (any
 * integer type converts to another integer type when the value fits). */
int gguf_get_u32(const gguf_file *gf, const char *key, uint32_t *out);
int gguf_get_i64(const gguf_file *gf, const char *key, int64_t *out);
int gguf_get_f32(const gguf_file *gf, const char *key, float *out);
int gguf_get_bool(const gguf_file *gf, const char *key, bool *out);
int gguf_get_str(const gguf_file *gf, const char *key, gguf_string *out);
/* A string value as a NUL-terminated malloc'd copy; NULL when absent (or out of memory). */
char *gguf_dup_str(const gguf_file *gf, const char *key);

/* Arrays: element type and count; then element access. */
int gguf_get_arr(const gguf_file *gf, const char *key, gguf_value_type *elem_type, uint64_t *n);
/* Pointer to n packed elements of a fixed-size element type (unaligned access is the
 * caller's concern: copy with memcpy). NULL for string arrays or a missing key. */
const void *gguf_arr_data(const gguf_file *gf, const char *key);
/* The i-th string of a string array (bounds-checked; {NULL,0} when out of range). */
gguf_string gguf_arr_str(const gguf_file *gf, const char *key, uint64_t i);

/* Tensors. */
uint64_t gguf_n_tensors(const gguf_file *gf);
const gguf_tensor *gguf_tensor_at(const gguf_file *gf, uint64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *gf, const char *name);

/* SHA-256 over the metadata and tensor bytes: the model's identity in cache namespaces.
 * Computed at open. */
const uint8_t *gguf_fingerprint(const gguf_file *gf);

#endif
