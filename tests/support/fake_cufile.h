/* The fake libcufile (fake_cufile.c): the cuFile entry points the gds tier uses, done with
 * pread/pwrite on "device" memory that is ordinary host memory, so the gds path runs and
 * is checked on any machine. Tests point KVSPILL_CUFILE_LIB at it and read its record of
 * calls with fake_cufile_record (fake_gpu.h does the dlopen/dlsym).
 *
 * Errors are injected through the environment, read at each call:
 *   FAKE_CUFILE_DRIVER_OPEN_ERROR=<code>    cuFileDriverOpen fails with it
 *   FAKE_CUFILE_BUF_REGISTER_ERROR=<code>   cuFileBufRegister fails with it
 *   FAKE_CUFILE_HANDLE_REGISTER_ERROR=<code> cuFileHandleRegister fails with it (5030: what
 *                                           overlayfs and tmpfs give)
 *   FAKE_CUFILE_READ_ERROR=<code>, FAKE_CUFILE_WRITE_ERROR=<code>  I/O returns -code
 *   FAKE_CUFILE_COMPAT_MODE=1               the driver properties report no nvidia-fs
 *   FAKE_CUFILE_MAX_IO=<bytes>              cuFileRead/cuFileWrite move at most that many
 *                                           bytes a call (short transfers)
 *   FAKE_CUFILE_REQUIRE_O_DIRECT=1          cuFileHandleRegister refuses a file opened
 *                                           without O_DIRECT (5020), as before GDS 1.7
 * cuFileHandleRegister refuses files opened with O_APPEND, O_NONBLOCK, O_NOATIME or
 * O_NOFOLLOW (5019), as libcufile does,
 * and it counts in FAKE_CUFILE_LOADS the times it was loaded into the process. */
#ifndef KVSPILL_FAKE_CUFILE_H
#define KVSPILL_FAKE_CUFILE_H

#include <stdint.h>

typedef struct fake_cufile_record {
    unsigned driver_opens, driver_closes;
    unsigned handle_registers, handle_deregisters;
    unsigned buf_registers, buf_deregisters;
    unsigned reads, writes;
    uint64_t bytes_read, bytes_written;
    /* I/O whose file offset, buffer offset or size is not a multiple of 4096 */
    unsigned unaligned;
    /* I/O whose base pointer is not a registered buffer's base, or past its end */
    unsigned unregistered;
    /* calls made while the driver was not open, or on a handle not registered */
    unsigned misuse;
    int drivers_open;       /* now: cuFileDriverOpen calls not yet closed */
    int buffers_registered; /* now */
    int handles_registered; /* now */
} fake_cufile_record;

/* Copies the record out; then clears its counters when reset (not what is registered now). */
void fake_cufile_record_get(fake_cufile_record *out, int reset);
typedef void (*fake_cufile_record_fn)(fake_cufile_record *out, int reset);

#endif
