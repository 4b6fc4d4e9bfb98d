/* The fake libcufile (fake_cufile.h), built as a shared library by tests/CMakeLists.txt. */
#include "fake_cufile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cufile_api.h"

#define MAX_BUFFERS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fake_cufile_record rec;
static struct {
    const char *base;
    size_t length;
} buffers[MAX_BUFFERS];

typedef struct fake_handle {
    int fd;
    unsigned magic;
} fake_handle;

#define HANDLE_MAGIC 0x6375666cu

/* Counts in FAKE_CUFILE_LOADS how many times the library was loaded into the process (the
 * environment outlives an unload): once loaded, libcufile must stay loaded. */
__attribute__((constructor)) static void count_load(void)
{
    const char *v = getenv("FAKE_CUFILE_LOADS");
    char n[16];
    snprintf(n, sizeof n, "%d", (v ? atoi(v) : 0) + 1);
    setenv("FAKE_CUFILE_LOADS", n, 1);
}

static int injected(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

static CUfileError_t result(int err)
{
    return (CUfileError_t){.err = err, .cu_err = 0};
}

void fake_cufile_record_get(fake_cufile_record *out, int reset)
{
    pthread_mutex_lock(&lock);
    *out = rec;
    if (reset) {
        fake_cufile_record now = rec;
        memset(&rec, 0, sizeof rec);
        rec.drivers_open = now.drivers_open;
        rec.buffers_registered = now.buffers_registered;
        rec.handles_registered = now.handles_registered;
    }
    pthread_mutex_unlock(&lock);
}

CUfileError_t cuFileDriverOpen(void)
{
    int e = injected("FAKE_CUFILE_DRIVER_OPEN_ERROR");
    pthread_mutex_lock(&lock);
    rec.driver_opens++;
    if (!e)
        rec.drivers_open++;
    pthread_mutex_unlock(&lock);
    return result(e);
}

CUfileError_t cuFileDriverClose_v2(void)
{
    pthread_mutex_lock(&lock);
    rec.driver_closes++;
    if (rec.drivers_open > 0)
        rec.drivers_open--;
    else
        rec.misuse++;
    pthread_mutex_unlock(&lock);
    return result(0);
}

CUfileError_t cuFileDriverGetProperties(CUfileDrvProps_t *props)
{
    memset(props, 0, sizeof *props);
    if (!injected("FAKE_CUFILE_COMPAT_MODE")) {
        props->nvfs.major_version = 2;
        props->nvfs.minor_version = 17;
    }
    props->nvfs.max_direct_io_size = 16384;
    return result(0);
}

const char *cufileop_status_error(int err)
{
    return err == 5030 ? "internal error" : NULL; /* NULL: the library's own table */
}

CUfileError_t cuFileHandleRegister(CUfileHandle_t *fh, CUfileDescr_t *descr)
{
    int e = injected("FAKE_CUFILE_HANDLE_REGISTER_ERROR");
    if (e)
        return result(e);
    if (descr->type != CU_FILE_HANDLE_TYPE_OPAQUE_FD || descr->fs_ops)
        return result(5022);
    int flags = fcntl(descr->handle.fd, F_GETFL);
    if (flags < 0)
        return result(5022);
    if (flags & (O_APPEND | O_NONBLOCK | O_NOATIME | O_NOFOLLOW))
        return result(5019);
    if (injected("FAKE_CUFILE_REQUIRE_O_DIRECT") && !(flags & O_DIRECT))
        return result(5020); /* libcufile before 1.7 (CUDA 12.2) */
    struct stat sb;
    if (fstat(descr->handle.fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return result(5018);
    fake_handle *h = malloc(sizeof *h);
    if (!h)
        return result(5043);
    h->fd = descr->handle.fd;
    h->magic = HANDLE_MAGIC;
    pthread_mutex_lock(&lock);
    rec.handle_registers++;
    rec.handles_registered++;
    if (rec.drivers_open == 0)
        rec.misuse++;
    pthread_mutex_unlock(&lock);
    *fh = h;
    return result(0);
}

void cuFileHandleDeregister(CUfileHandle_t fh)
{
    fake_handle *h = fh;
    pthread_mutex_lock(&lock);
    rec.handle_deregisters++;
    rec.handles_registered--;
    if (!h || h->magic != HANDLE_MAGIC)
        rec.misuse++;
    pthread_mutex_unlock(&lock);
    if (h)
        h->magic = 0;
    free(h);
}

CUfileError_t cuFileBufRegister(const void *base, size_t length, int flags)
{
    int e = injected("FAKE_CUFILE_BUF_REGISTER_ERROR");
    if (e)
        return result(e);
    if (flags != 0)
        return result(5022);
    pthread_mutex_lock(&lock);
    int err = 5016;
    for (int i = 0; i < MAX_BUFFERS; i++)
        if (buffers[i].base == base) {
            err = 5023;
            break;
        }
    for (int i = 0; i < MAX_BUFFERS && err == 5016; i++)
        if (!buffers[i].base) {
            buffers[i].base = base;
            buffers[i].length = length;
            rec.buf_registers++;
            rec.buffers_registered++;
            err = 0;
        }
    if (rec.drivers_open == 0)
        rec.misuse++;
    pthread_mutex_unlock(&lock);
    return result(err);
}

CUfileError_t cuFileBufDeregister(const void *base)
{
    pthread_mutex_lock(&lock);
    int err = 5024;
    for (int i = 0; i < MAX_BUFFERS; i++)
        if (buffers[i].base == base) {
            buffers[i].base = NULL;
            rec.buf_deregisters++;
            rec.buffers_registered--;
            err = 0;
            break;
        }
    pthread_mutex_unlock(&lock);
    return result(err);
}

/* Records one transfer; false when it must not touch memory (outside its buffer). */
static bool account(const void *base, size_t size, off_t file_offset, off_t buf_offset,
                    bool write)
{
    bool inside = false, known = false;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_BUFFERS; i++)
        if (buffers[i].base && buffers[i].base == base) {
            known = true;
            inside = buf_offset >= 0 && (size_t)buf_offset + size <= buffers[i].length;
        }
    if (!known || !inside)
        rec.unregistered++;
    if (file_offset % 4096 || buf_offset % 4096 || size % 4096)
        rec.unaligned++;
    if (rec.drivers_open == 0)
        rec.misuse++;
    if (write)
        rec.writes++;
    else
        rec.reads++;
    pthread_mutex_unlock(&lock);
    return !known || inside; /* an unregistered pointer is used as it is, as cuFile would */
}

static void add_bytes(bool write, ssize_t n)
{
    if (n <= 0)
        return;
    pthread_mutex_lock(&lock);
    if (write)
        rec.bytes_written += (uint64_t)n;
    else
        rec.bytes_read += (uint64_t)n;
    pthread_mutex_unlock(&lock);
}

static fake_handle *valid_handle(CUfileHandle_t fh)
{
    fake_handle *h = fh;
    if (h && h->magic == HANDLE_MAGIC)
        return h;
    pthread_mutex_lock(&lock);
    rec.misuse++;
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* cuFileRead and cuFileWrite: pread/pwrite at base + buf_offset, or the error the
 * environment variable `inject` names. */
static ssize_t transfer(CUfileHandle_t fh, char *base, size_t size, off_t file_offset,
                        off_t buf_offset, bool write, const char *inject)
{
    int e = injected(inject);
    fake_handle *h = valid_handle(fh);
    if (!h)
        return -5027;
    if (!account(base, size, file_offset, buf_offset, write))
        return -5014;
    if (e)
        return -e;
    size_t max = (size_t)injected("FAKE_CUFILE_MAX_IO");
    if (max && size > max) /* a short transfer, as at a request-size limit */
        size = max;
    ssize_t r = write ? pwrite(h->fd, base + buf_offset, size, file_offset)
                      : pread(h->fd, base + buf_offset, size, file_offset);
    add_bytes(write, r);
    return r;
}

ssize_t cuFileRead(CUfileHandle_t fh, void *base, size_t size, off_t file_offset,
                   off_t buf_offset)
{
    return transfer(fh, base, size, file_offset, buf_offset, false, "FAKE_CUFILE_READ_ERROR");
}

ssize_t cuFileWrite(CUfileHandle_t fh, const void *base, size_t size, off_t file_offset,
                    off_t buf_offset)
{
    return transfer(fh, (char *)base, size, file_offset, buf_offset, true,
                    "FAKE_CUFILE_WRITE_ERROR");
}
