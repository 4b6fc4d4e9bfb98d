/* The gds tier's GPUDirect Storage I/O (ARCHITECTURE.md §5, gds): payloads move between the
 * object files and the registered GPU staging buffer with cuFileRead/cuFileWrite, headers
 * with pread/pwrite through host memory. The objects are byte for byte those of the POSIX
 * path, so nodes with and without GPUs share one directory. */
#ifndef KVSPILL_CACHE_GDS_IO_H
#define KVSPILL_CACHE_GDS_IO_H

#include "cache/gds_staging.h"
#include "kvspill.h"

/* Sets up the path for the directory dir (objects live below it): the cuFile session, the
 * staging buffer of buffer_size bytes, and a probe (a temporary file in dir, opened with
 * O_DIRECT when direct says the tier opens its object files so, registered, written and
 * read back through cuFile). Returns the staging buffer and io_path "cufile (GPUDirect)",
 * "cufile (compat mode)" or "cufile"; or NULL and io_path "posix (no GPUDirect: <the call
 * that failed and why>)", for a tier that then uses its POSIX path. */
kvs_gds_staging *kvs_gds_start(const kvs_gpu_ops *gpu, size_t buffer_size, const char *dir,
                               bool direct, char *io_path, size_t io_path_size);

/* Reads the object open on fd (file_size bytes, at path) into a device chunk: the header
 * by pread and verified as the POSIX path verifies it (namespace, key, tokens of req), the
 * payload by cuFileRead into a staging slot, verified with gpu->xxh3_64. KVS_ERR_CORRUPT
 * for any mismatch or a short read; KVS_ERR_UNSUPPORTED when this read cannot go through
 * cuFile now (no free slot, the GPU cannot be bound to this thread): the caller reads it
 * through its POSIX path instead. */
kvs_status kvs_gds_read_object(kvs_gds_staging *staging, int fd, const char *path,
                               size_t file_size, const kvs_key *ns,
                               const kvs_chunk_request *req, kvs_chunk **out, kvs_error *err);

/* Writes a sealed device chunk to fd (a new file at path): the header by pwrite, the
 * payload by cuFileWrite at the header's end. */
kvs_status kvs_gds_write_object(int fd, const char *path, const kvs_chunk *chunk,
                                kvs_error *err);

#endif
