#include "cache/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kvs_status_str(kvs_status s)
{
    switch (s) {
    case KVS_OK: return "ok";
    case KVS_ERR_INVALID: return "invalid argument";
    case KVS_ERR_NOMEM: return "out of memory";
    case KVS_ERR_IO: return "i/o error";
    case KVS_ERR_NOT_FOUND: return "not found";
    case KVS_ERR_CORRUPT: return "corrupt object";
    case KVS_ERR_FULL: return "full";
    case KVS_ERR_DROPPED: return "dropped";
    case KVS_ERR_TIMEOUT: return "timed out";
    case KVS_ERR_UNSUPPORTED: return "unsupported";
    case KVS_ERR_CLOSED: return "closed";
    case KVS_ERR_REMOTE: return "remote error";
    }
    return "unknown status";
}

kvs_status kvs_fail(kvs_error *err, kvs_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

static kvs_status status_from_errno(int errnum)
{
    switch (errnum) {
    case ENOSPC:
    case EDQUOT: return KVS_ERR_FULL;
    case ENOENT: return KVS_ERR_NOT_FOUND;
    case ENOMEM: return KVS_ERR_NOMEM;
    default: return KVS_ERR_IO;
    }
}

kvs_status kvs_fail_errno(kvs_error *err, int errnum, const char *fmt, ...)
{
    kvs_status code = status_from_errno(errnum);
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
        err->code = code;
    }
    return code;
}
