/* GPUDirect Storage I/O of the gds tier (gds_io.h). Every transfer registers the file
 * handle, moves the bytes and deregisters it: a handle per object file is what cuFile
 * expects (LMCache does the same), and files are opened without O_NOFOLLOW/O_NOATIME,
 * which cuFileHandleRegister refuses (5019). */
#include "cache/gds_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cufile_lib.h"
#include "cache/device_chunk.h"
#include "cache/error.h"
#include "cache/object.h"

#define PROBE_BYTES 4096u

static kvs_status register_fd(const kvs_cufile_api *api, int fd, const char *path,
                              CUfileHandle_t *fh, kvs_error *err)
{
    CUfileDescr_t descr;
    memset(&descr, 0, sizeof descr);
    descr.type = CU_FILE_HANDLE_TYPE_OPAQUE_FD;
    descr.handle.fd = fd;
    CUfileError_t e = api->handle_register(fh, &descr);
    if (e.err == CU_FILE_SUCCESS)
        return KVS_OK;
    char what[KVS_PATH_MAX + 32];
    snprintf(what, sizeof what, "cuFileHandleRegister %s", path);
    return kvs_cufile_fail(err, KVS_ERR_IO, api, e, what);
}

/* Moves bytes between fd at file_offset and the staging buffer at buf_offset, through cuFile
 * with the registered base pointer; short transfers are continued, and a read that meets the
 * end of the file is a short (corrupt) object. */
static kvs_status transfer(kvs_gds_staging *s, int fd, const char *path, bool write,
                           size_t file_offset, size_t buf_offset, size_t bytes, kvs_error *err)
{
    const kvs_cufile_api *api = kvs_gds_staging_api(s);
    void *base = kvs_gds_staging_base(s);
    CUfileHandle_t fh;
    kvs_status st = register_fd(api, fd, path, &fh, err);
    if (st != KVS_OK)
        return st;
    const char *call = write ? "cuFileWrite" : "cuFileRead";
    char what[KVS_PATH_MAX + 32];
    snprintf(what, sizeof what, "%s %s", call, path);
    for (size_t done = 0; done < bytes;) {
        off_t at = (off_t)(file_offset + done), in_buf = (off_t)(buf_offset + done);
        ssize_t r = write ? api->write(fh, base, bytes - done, at, in_buf)
                          : api->read(fh, base, bytes - done, at, in_buf);
        if (r == -1 && errno == EINTR)
            continue;
        if (r < 0) {
            st = kvs_cufile_fail_io(err, api, r, errno, what);
            break;
        }
        if (r == 0) {
            st = kvs_fail(err, write ? KVS_ERR_IO : KVS_ERR_CORRUPT, "%s: short %s (%zu of %zu "
                          "bytes)", what, write ? "write" : "file", done, bytes);
            break;
        }
        done += (size_t)r;
    }
    api->handle_deregister(fh);
    return st;
}

/* ---- start and probe ---------------------------------------------------------------- */

/* The probe's 4 KiB: written from the staging buffer, the buffer cleared, read back and
 * compared in host memory. */
static kvs_status probe_bytes(kvs_gds_staging *s, int fd, const char *path, kvs_error *err)
{
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(s);
    uint8_t pattern[PROBE_BYTES], back[PROBE_BYTES];
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 31u + 7u);
    void *base = kvs_gds_staging_base(s);
    if (gpu->copy_to_device(gpu->user, base, pattern, sizeof pattern) != 0)
        return kvs_fail(err, KVS_ERR_IO, "probe %s: copy_to_device failed", path);
    kvs_status st = transfer(s, fd, path, true, 0, 0, sizeof pattern, err);
    if (st != KVS_OK)
        return st;
    memset(back, 0, sizeof back);
    if (gpu->copy_to_device(gpu->user, base, back, sizeof back) != 0)
        return kvs_fail(err, KVS_ERR_IO, "probe %s: copy_to_device failed", path);
    if ((st = transfer(s, fd, path, false, 0, 0, sizeof back, err)) != KVS_OK)
        return st;
    if (gpu->copy_to_host(gpu->user, back, base, sizeof back) != 0)
        return kvs_fail(err, KVS_ERR_IO, "probe %s: copy_to_host failed", path);
    if (memcmp(back, pattern, sizeof back) != 0)
        return kvs_fail(err, KVS_ERR_IO, "probe %s: bytes read back through cuFile differ "
                        "from those written", path);
    return KVS_OK;
}

/* A temporary file in dir, opened as the tier opens its object files (with O_DIRECT when
 * direct), probed, removed: what passes the probe is what the objects get. Its name is
 * short: it appears in io_path when the probe fails. */
static kvs_status probe(kvs_gds_staging *s, const char *dir, bool direct, kvs_error *err)
{
    static atomic_uint probes;
    char path[KVS_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/.gds.%ld.%u", dir, (long)getpid(),
                 atomic_fetch_add(&probes, 1)) >= (int)sizeof path)
        return kvs_fail(err, KVS_ERR_INVALID, "cache directory path too long: %s", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | (direct ? O_DIRECT : 0), 0600);
    if (fd < 0)
        return kvs_fail_errno(err, errno, "create %s", path);
    kvs_status st = probe_bytes(s, fd, path, err);
    close(fd);
    unlink(path);
    return st;
}

/* How cuFile moves bytes, as far as the driver tells: without the nvidia-fs driver (its
 * version 0.0) or with compat mode forced, through its POSIX compat mode. */
static const char *cufile_mode(const kvs_cufile_api *api)
{
    const char *force = getenv("CUFILE_FORCE_COMPAT_MODE");
    if (force && !strcmp(force, "true"))
        return "cufile (compat mode)";
    CUfileDrvProps_t props;
    memset(&props, 0, sizeof props);
    if (!api->driver_get_properties || api->driver_get_properties(&props).err != CU_FILE_SUCCESS)
        return "cufile";
    if (props.nvfs.major_version == 0 && props.nvfs.minor_version == 0)
        return "cufile (compat mode)";
    return "cufile (GPUDirect)";
}

kvs_gds_staging *kvs_gds_start(const kvs_gpu_ops *gpu, size_t buffer_size, const char *dir,
                               bool direct, char *io_path, size_t io_path_size)
{
    kvs_error err;
    kvs_gds_staging *s = NULL;
    kvs_status st = kvs_gds_staging_open(gpu, buffer_size, &s, &err);
    if (st == KVS_OK && (st = probe(s, dir, direct, &err)) != KVS_OK) {
        kvs_gds_staging_unref(s);
        s = NULL;
    }
    if (st != KVS_OK)
        snprintf(io_path, io_path_size, "posix (no GPUDirect: %s)", err.msg);
    else
        snprintf(io_path, io_path_size, "%s", cufile_mode(kvs_gds_staging_api(s)));
    return s;
}

/* ---- objects ------------------------------------------------------------------------ */

/* want bytes from the start of fd into a new aligned host buffer. */
static kvs_status read_start(int fd, const char *path, size_t want, uint8_t **out,
                             kvs_error *err)
{
    uint8_t *buf = kvs_object_alloc_buffer(want);
    if (!buf)
        return kvs_fail(err, KVS_ERR_NOMEM, "get %s: cannot allocate %zu bytes", path, want);
    ssize_t r = pread(fd, buf, want, 0);
    if (r != (ssize_t)want) {
        int errnum = errno;
        kvs_object_free_buffer(buf);
        if (r < 0)
            return kvs_fail_errno(err, errnum, "read %s", path);
        return kvs_fail(err, KVS_ERR_CORRUPT, "read %s: short file (%zd of %zu header bytes)",
                        path, r, want);
    }
    *out = buf;
    return KVS_OK;
}

/* The header of the object on fd into host memory: one block, then all of it when the
 * header says it is longer and the file holds that much (else the header check says what
 * is wrong). A size that is not whole blocks is not read (the header check calls it
 * corrupt): from an O_DIRECT file that read would fail with EINVAL, an I/O error that
 * would keep the corrupt object. *len gets the bytes read. */
static kvs_status read_header(int fd, const char *path, size_t file_size, uint8_t **out,
                              size_t *len, kvs_error *err)
{
    kvs_status st = read_start(fd, path, KVS_OBJECT_ALIGN, out, err);
    if (st != KVS_OK)
        return st;
    *len = KVS_OBJECT_ALIGN;
    size_t hsize = kvs_object_peek_header_size(*out, KVS_OBJECT_ALIGN);
    if (hsize > KVS_OBJECT_ALIGN && hsize % KVS_OBJECT_ALIGN == 0 && hsize <= file_size) {
        kvs_object_free_buffer(*out);
        *out = NULL;
        if ((st = read_start(fd, path, hsize, out, err)) != KVS_OK)
            return st;
        *len = hsize;
    }
    return KVS_OK;
}

kvs_status kvs_gds_read_object(kvs_gds_staging *staging, int fd, const char *path,
                               size_t file_size, const kvs_key *ns,
                               const kvs_chunk_request *req, kvs_chunk **out, kvs_error *err)
{
    *out = NULL;
    const kvs_gpu_ops *gpu = kvs_gds_staging_gpu(staging);
    kvs_status st = kvs_gpu_bind_thread(gpu, err);
    if (st != KVS_OK)
        return KVS_ERR_UNSUPPORTED;
    uint8_t *header;
    size_t header_len;
    if ((st = read_header(fd, path, file_size, &header, &header_len, err)) != KVS_OK)
        return st;
    kvs_chunk *c;
    uint64_t sum;
    kvs_error verr;
    st = kvs_object_from_header(header, header_len, file_size, ns, &req->key, req->tokens,
                                req->n_tokens, &sum, &c, &verr);
    if (st != KVS_OK)
        return kvs_fail(err, st, "get %s: %s", path, verr.msg);
    kvs_gds_slot slot;
    if (!kvs_gds_slot_alloc(staging, c->info.payload_size, &slot)) {
        kvs_chunk_release(c);
        return kvs_fail(err, KVS_ERR_UNSUPPORTED, "get %s: no free slot in the GPU staging "
                        "buffer", path);
    }
    if ((st = kvs_device_attach(c, staging, &slot, err)) != KVS_OK) {
        kvs_chunk_release(c);
        return st;
    }
    st = transfer(staging, fd, path, false, c->header_size, slot.offset, c->info.payload_size,
                  err);
    uint64_t got = 0;
    int rc = 0;
    if (st == KVS_OK &&
        (rc = gpu->xxh3_64(gpu->user, kvs_device_payload_ptr(c), c->info.payload_size, &got)))
        st = kvs_fail(err, KVS_ERR_IO, "get %s: checksum on the GPU: error %d", path, rc);
    else if (st == KVS_OK && got != sum)
        st = kvs_fail(err, KVS_ERR_CORRUPT, "get %s: object payload: checksum mismatch", path);
    if (st != KVS_OK) {
        kvs_chunk_release(c);
        return st;
    }
    *out = c;
    return KVS_OK;
}

kvs_status kvs_gds_write_object(int fd, const char *path, const kvs_chunk *chunk,
                                kvs_error *err)
{
    kvs_gds_staging *s = kvs_device_of(chunk)->staging;
    kvs_status st = kvs_gpu_bind_thread(kvs_gds_staging_gpu(s), err);
    if (st != KVS_OK)
        return st;
    ssize_t w = pwrite(fd, chunk->buf, chunk->header_size, 0);
    if (w < 0)
        return kvs_fail_errno(err, errno, "write %s", path);
    if ((size_t)w != chunk->header_size)
        return kvs_fail(err, KVS_ERR_IO, "write %s: short write (%zd of %zu header bytes)", path,
                        w, chunk->header_size);
    return transfer(s, fd, path, true, chunk->header_size, kvs_device_of(chunk)->slot.offset,
                    chunk->info.payload_size, err);
}
