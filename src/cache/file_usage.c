#include "cache/file_usage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache/error.h"
#include "cache/file_path.h"

static bool usage_path(char *out, size_t size, const char *root)
{
    return snprintf(out, size, "%s/v1/.usage", root) < (int)size;
}

kvs_status kvs_file_usage_write(const char *root, const kvs_usage_record *rec, kvs_error *err)
{
    char path[KVS_PATH_MAX], temp[KVS_PATH_MAX + 32], text[96];
    if (!usage_path(path, sizeof path, root))
        return kvs_fail(err, KVS_ERR_INVALID, "usage record: path too long under %s", root);
    snprintf(temp, sizeof temp, "%s.%ld.tmp", path, (long)getpid());
    int n = snprintf(text, sizeof text, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", rec->used_bytes,
                     rec->objects, rec->at_ns);
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return kvs_fail_errno(err, errno, "create %s", temp);
    bool ok = write(fd, text, (size_t)n) == n;
    int saved = errno;
    close(fd);
    if (ok && rename(temp, path) == 0)
        return KVS_OK;
    if (ok)
        saved = errno;
    unlink(temp);
    return kvs_fail_errno(err, saved ? saved : EIO, "write %s", path);
}

bool kvs_file_usage_read(const char *root, kvs_usage_record *out)
{
    char path[KVS_PATH_MAX], text[96];
    if (!usage_path(path, sizeof path, root))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return false;
    text[n] = 0;
    kvs_usage_record r;
    if (sscanf(text, "%" SCNu64 " %" SCNu64 " %" SCNu64, &r.used_bytes, &r.objects, &r.at_ns) != 3)
        return false;
    *out = r;
    return true;
}
