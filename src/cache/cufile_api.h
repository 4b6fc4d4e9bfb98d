/* The part of NVIDIA's cuFile API (GPUDirect Storage, cufile.h) the gds tier uses, declared
 * here from the public API reference so that the library builds without CUDA: libcufile is
 * found at run time with dlopen (cufile_lib.h). Layouts are those of cufile.h on LP64 Linux
 * (x86-64, aarch64); enums are ints. */
#ifndef KVSPILL_CACHE_CUFILE_API_H
#define KVSPILL_CACHE_CUFILE_API_H

#include <stddef.h>
#include <sys/types.h>

/* CUfileOpError: 0 or 5000 + n. The codes the gds tier tells apart; cufile_lib.c names
 * the others. */
enum {
    CU_FILE_SUCCESS = 0,
    CUFILEOP_BASE_ERR = 5000,
    CU_FILE_IO_NOT_SUPPORTED = 5008,   /* file system cannot do GDS and compat mode is off */
    CU_FILE_CUDA_DRIVER_ERROR = 5011,  /* cu_err holds the CUresult */
    CU_FILE_INVALID_FILE_OPEN_FLAG = 5019,
    CU_FILE_INTERNAL_ERROR = 5030,     /* overlayfs/tmpfs, no /run/udev: see cufile.log */
    CU_FILE_IO_MAX_ERROR = 5050,
};

/* Returned by value (8 bytes, in a register on SysV x86-64). */
typedef struct CUfileError {
    int err;    /* CUfileOpError */
    int cu_err; /* CUresult, meaningful when err == CU_FILE_CUDA_DRIVER_ERROR */
} CUfileError_t;

typedef void *CUfileHandle_t;

enum { CU_FILE_HANDLE_TYPE_OPAQUE_FD = 1 };

/* Zeroed, then type = CU_FILE_HANDLE_TYPE_OPAQUE_FD and handle.fd set; fs_ops NULL (it is
 * for user-space file systems only). sizeof 24. */
typedef struct CUfileDescr {
    int type;
    union {
        int fd;
        void *handle;
    } handle;
    const void *fs_ops;
} CUfileDescr_t;

/* cuFileDriverGetProperties. KiB-valued fields are KiB. sizeof 56. */
typedef struct CUfileDrvProps {
    struct {
        unsigned major_version; /* nvidia-fs; 0.0 when it is not loaded (compat mode only) */
        unsigned minor_version;
        size_t poll_thresh_size;
        size_t max_direct_io_size;
        unsigned dstatusflags;  /* file systems nvidia-fs supports, by bit */
        unsigned dcontrolflags; /* CU_FILE_USE_POLL_MODE, CU_FILE_ALLOW_COMPAT_MODE bits */
    } nvfs;
    unsigned fflags;
    unsigned max_device_cache_size;
    unsigned per_buffer_cache_size;
    unsigned max_device_pinned_mem_size;
    unsigned max_batch_io_size;
    unsigned max_batch_io_timeout_msecs;
} CUfileDrvProps_t;

_Static_assert(sizeof(CUfileError_t) == 8, "CUfileError_t is two ints");
_Static_assert(sizeof(CUfileDescr_t) == 24, "CUfileDescr_t as in cufile.h on LP64");
_Static_assert(sizeof(CUfileDrvProps_t) == 56, "CUfileDrvProps_t as in cufile.h on LP64");

/* The entry points, looked up with dlsym. The optional ones are NULL when the library does
 * not export them. cuFileRead/cuFileWrite return the bytes moved, -1 with errno set for a
 * file system error, or the negated CUfileOpError. bufPtr_base must be the pointer given
 * to cuFileBufRegister; the position inside the buffer is bufPtr_offset. */
typedef struct kvs_cufile_api {
    CUfileError_t (*driver_open)(void);
    CUfileError_t (*driver_close)(void); /* cuFileDriverClose_v2, else cuFileDriverClose */
    CUfileError_t (*handle_register)(CUfileHandle_t *fh, CUfileDescr_t *descr);
    void (*handle_deregister)(CUfileHandle_t fh);
    CUfileError_t (*buf_register)(const void *base, size_t length, int flags);
    CUfileError_t (*buf_deregister)(const void *base);
    ssize_t (*read)(CUfileHandle_t fh, void *base, size_t size, off_t file_offset,
                    off_t buf_offset);
    ssize_t (*write)(CUfileHandle_t fh, const void *base, size_t size, off_t file_offset,
                     off_t buf_offset);
    /* optional */
    CUfileError_t (*driver_get_properties)(CUfileDrvProps_t *props);
    const char *(*op_status_error)(int err); /* cufileop_status_error */
} kvs_cufile_api;

#endif
