/* Filling kvs_error: every message names the thing and the cause. */
#ifndef KVSPILL_CACHE_ERROR_H
#define KVSPILL_CACHE_ERROR_H

#include "kvspill.h"

/* Sets err (when not NULL) and returns code, so callers can `return kvs_fail(...)`. */
kvs_status kvs_fail(kvs_error *err, kvs_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* kvs_fail with ": strerror(errnum)" appended; code from errnum (ENOSPC/EDQUOT → FULL,
 * ENOENT → NOT_FOUND, ENOMEM → NOMEM, else IO). */
kvs_status kvs_fail_errno(kvs_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
