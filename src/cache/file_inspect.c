/* Reading single objects of a cache directory outside the tier (kvs_admin.h): the header
 * alone, or the whole object verified against the namespace and key its path names. */
#include "cache/kvs_admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/error.h"
#include "cache/object.h"

static kvs_status read_prefix(int fd, const char *path, uint8_t *buf, size_t want, size_t *got,
                              kvs_error *err)
{
    *got = 0;
    while (*got < want) {
        ssize_t r = pread(fd, buf + *got, want - *got, (off_t)*got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return kvs_fail_errno(err, errno, "read %s", path);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return KVS_OK;
}

static kvs_status open_object(const char *path, int *fd, uint64_t *size, kvs_error *err)
{
    *size = 0; /* set on every path: gcc -O3 cannot see that a failure returns non-OK */
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return kvs_fail_errno(err, errno, "open %s", path);
    struct stat sb;
    if (fstat(*fd, &sb) != 0) {
        kvs_status st = kvs_fail_errno(err, errno, "stat %s", path);
        close(*fd);
        return st;
    }
    *size = (uint64_t)sb.st_size;
    return KVS_OK;
}

kvs_status kvs_file_read_header(const char *path, kvs_chunk_info *info, kvs_error *err)
{
    int fd;
    uint64_t size;
    kvs_status st = open_object(path, &fd, &size, err);
    if (st != KVS_OK)
        return st;
    /* The first block holds the header of any chunk up to ~960 tokens; longer ones need
     * a second read of the size the first block announces. */
    size_t want = KVS_OBJECT_ALIGN;
    uint8_t *buf = NULL;
    for (int pass = 0; pass < 2 && st == KVS_OK; pass++) {
        size_t got;
        free(buf);
        buf = malloc(want);
        if (!buf) {
            st = kvs_fail(err, KVS_ERR_NOMEM, "read %s: out of memory", path);
            break;
        }
        st = read_prefix(fd, path, buf, want, &got, err);
        if (st != KVS_OK)
            break;
        kvs_error perr;
        st = kvs_object_parse_header(buf, got, info, NULL, NULL, &perr);
        if (st == KVS_OK)
            break;
        size_t max = kvs_object_header_size(KVS_OBJECT_MAX_TOKENS);
        if (pass == 0 && got == want && size > want) {
            want = size < max ? (size_t)size : max;
            st = KVS_OK;
            continue;
        }
        st = kvs_fail(err, st, "%s: %s", path, perr.msg);
    }
    free(buf);
    close(fd);
    return st;
}

kvs_status kvs_file_verify_object(const char *path, const kvs_key *ns, const kvs_key *key,
                                  kvs_chunk_info *info, kvs_error *err)
{
    int fd;
    uint64_t size;
    kvs_status st = open_object(path, &fd, &size, err);
    if (st != KVS_OK)
        return st;
    if (size > (1ull << 31)) {
        close(fd);
        return kvs_fail(err, KVS_ERR_CORRUPT, "%s: %llu bytes is not an object's size", path,
                        (unsigned long long)size);
    }
    uint8_t *buf = kvs_object_alloc_buffer((size_t)size);
    size_t got = 0;
    if (!buf)
        st = kvs_fail(err, KVS_ERR_NOMEM, "read %s: out of memory", path);
    else
        st = read_prefix(fd, path, buf, (size_t)size, &got, err);
    close(fd);
    if (st != KVS_OK) {
        kvs_object_free_buffer(buf);
        return st;
    }
    kvs_chunk *c;
    kvs_error verr;
    st = kvs_object_from_bytes(buf, got, ns, key, NULL, 0, &c, &verr);
    if (st != KVS_OK)
        return kvs_fail(err, st, "%s: %s", path, verr.msg);
    if (info)
        *info = *kvs_chunk_get_info(c);
    kvs_chunk_release(c);
    return KVS_OK;
}
