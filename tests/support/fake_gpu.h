/* GPU operations for the gds tests: "device" memory is ordinary host memory, copies are
 * memcpy, the device checksum is XXH3_64bits; every call is counted, so tests can check
 * that the library frees what it allocates and binds its I/O threads. Also reads the fake
 * libcufile's record of calls (fake_cufile.h). */
#ifndef KVSPILL_FAKE_GPU_H
#define KVSPILL_FAKE_GPU_H

#include <stdatomic.h>

#include "fake_cufile.h"
#include "kvspill.h"

typedef struct fake_gpu {
    kvs_gpu_ops ops;
    atomic_int host_allocs, host_frees;
    atomic_int device_allocs, device_frees;
    atomic_int binds, copies_to_host, copies_to_device, checksums;
} fake_gpu;

void fake_gpu_init(fake_gpu *g);
/* Whether p is inside memory from a fake device_alloc that is still allocated. */
int fake_gpu_is_device(const void *p);

/* The fake libcufile's record ($KVSPILL_CUFILE_LIB); reset afterwards when reset. Fails
 * the test when the library cannot be loaded. */
fake_cufile_record fake_cufile(int reset);

#endif
