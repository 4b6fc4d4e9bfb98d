/* libcufile at run time: loaded with dlopen by the first gds tier that asks for it, its
 * driver opened once per process and closed with the last user, so several caches in one
 * process share one cuFile session. */
#ifndef KVSPILL_CACHE_CUFILE_LIB_H
#define KVSPILL_CACHE_CUFILE_LIB_H

#include "cache/cufile_api.h"
#include "kvspill.h"

/* Environment override of the library to load (tests, unusual installs). */
#define KVS_CUFILE_LIB_ENV "KVSPILL_CUFILE_LIB"

/* Loads libcufile ($KVSPILL_CUFILE_LIB, else libcufile.so.0, else libcufile.so) and opens
 * the driver when this is the first user; *api is valid until the matching release.
 * Errors name the library or the call and the cause ("cuFileDriverOpen: error 5001 ..."). */
kvs_status kvs_cufile_acquire(const kvs_cufile_api **api, kvs_error *err);
void kvs_cufile_release(void);

/* The text for a CUfileOpError: the library's own when it exports cufileop_status_error,
 * else ours ("internal error"). cufile.h defines cufileop_status_error static inline, so
 * libcufile normally does not export it and the text is ours. */
const char *kvs_cufile_error_text(const kvs_cufile_api *api, int code);

/* kvs_fail with "<what>: error <code> (<text>)" (and the CUresult for 5011). */
kvs_status kvs_cufile_fail(kvs_error *err, kvs_status code, const kvs_cufile_api *api,
                           CUfileError_t e, const char *what);
/* The same for the return value of cuFileRead/cuFileWrite (< 0: -1 and errno, or a negated
 * CUfileOpError). */
kvs_status kvs_cufile_fail_io(kvs_error *err, const kvs_cufile_api *api, ssize_t ret,
                              int errnum, const char *what);

#endif
