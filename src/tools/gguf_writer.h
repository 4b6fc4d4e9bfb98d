/* A GGUF v3 writer for generated models (`kvspill model gen`, tests): keys and tensors in
 * memory, written to a temp name and renamed, or streamed for models larger than memory. */
#ifndef KVSPILL_TOOLS_GGUF_WRITER_H
#define KVSPILL_TOOLS_GGUF_WRITER_H

#include "model/gguf.h"
#include "model/model_error.h"

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Arrays of a fixed-size element type (copied). */
int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_value_type elem_type,
                        const void *data, uint64_t n);
int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Adds a tensor; the data is copied. */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
                           const uint64_t *ne, uint32_t type, const void *data);
/* Writes the file (to a temp name, then rename). Every tensor must have been added with
 * its data. Setting a key again replaces its value. */
int gguf_writer_write(gguf_writer *w, const char *path, model_error *err) MODEL_MUST_CHECK;
/* Copies key idx of src (name, type and value) into w. */
int gguf_writer_copy_kv(gguf_writer *w, const gguf_file *src, int64_t idx);

/* Streaming, for models larger than memory: declare tensors without data; begin writes the
 * header and tensor infos to PATH.tmp.PID; stream appends tensor bytes in declaration
 * order, in chunks of any size (padding between tensors is added); finish checks that
 * every byte arrived, syncs and renames to PATH. gguf_writer_free abandons an unfinished
 * write and removes the temp file. */
int gguf_writer_declare_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
                               const uint64_t *ne, uint32_t type);
int gguf_writer_begin(gguf_writer *w, const char *path, model_error *err) MODEL_MUST_CHECK;
int gguf_writer_stream(gguf_writer *w, const void *data, size_t n, model_error *err) MODEL_MUST_CHECK;
int gguf_writer_finish(gguf_writer *w, model_error *err) MODEL_MUST_CHECK;

#endif
