#include "cache/file_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/error.h"
#include "cache/file_path.h"

uint64_t kvs_lease_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads "<token> <expiry>" from path; false when absent or unreadable. */
static bool read_lease(const char *path, char *token, size_t token_size, uint64_t *expiry)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char *space = strchr(buf, ' ');
    if (!space || (size_t)(space - buf) >= token_size)
        return false;
    memcpy(token, buf, (size_t)(space - buf));
    token[space - buf] = 0;
    char *end;
    unsigned long long e = strtoull(space + 1, &end, 10);
    if (end == space + 1)
        return false;
    *expiry = e;
    return true;
}

static bool write_lease(int fd, const kvs_lease *lease, uint64_t expiry)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s %" PRIu64 "\n", lease->token, expiry);
    return ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n;
}

static kvs_status create_lease(kvs_lease *lease, bool *acquired, kvs_error *err)
{
    int fd = open(lease->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            return KVS_OK;
        kvs_status st = kvs_fail_errno(err, errno, "create lease %s", lease->path);
        return st == KVS_ERR_NOT_FOUND ? KVS_ERR_IO : st;
    }
    uint64_t now = kvs_lease_now_ns();
    bool ok = write_lease(fd, lease, now + lease->ttl_ns);
    close(fd);
    if (!ok) {
        unlink(lease->path);
        return kvs_fail(err, KVS_ERR_IO, "write lease %s: %s", lease->path, strerror(errno));
    }
    lease->renew_at_ns = now + lease->ttl_ns / 2;
    *acquired = true;
    return KVS_OK;
}

/* Moves an expired lease aside, then checks it moved the lease it judged expired (and not
 * a fresh one created meanwhile); a fresh one is put back. */
static void remove_expired(const kvs_lease *lease, const char *stale_token)
{
    char aside[KVS_PATH_MAX + 64];
    snprintf(aside, sizeof aside, "%s.%ld.stale", lease->path, (long)getpid());
    if (rename(lease->path, aside) != 0)
        return;
    char token[128];
    uint64_t expiry;
    if (read_lease(aside, token, sizeof token, &expiry) && strcmp(token, stale_token) != 0 &&
        expiry > kvs_lease_now_ns())
        (void)link(aside, lease->path); /* EEXIST: someone else already holds a new one */
    unlink(aside);
}

kvs_status kvs_lease_acquire(kvs_lease *lease, const char *root, const char *owner,
                             uint64_t ttl_ns, bool *acquired, kvs_error *err)
{
    static unsigned nonce;
    *acquired = false;
    memset(lease, 0, sizeof *lease);
    if (snprintf(lease->path, sizeof lease->path, "%s/v1/.evict.lease", root) >=
        (int)sizeof lease->path)
        return kvs_fail(err, KVS_ERR_INVALID, "cache directory path too long: %s", root);
    char safe_owner[64];
    size_t i = 0;
    for (const char *p = owner ? owner : "kvspill"; *p && i < sizeof safe_owner - 1; p++)
        safe_owner[i++] = (*p == ' ' || *p == '\n') ? '_' : *p;
    safe_owner[i] = 0;
    snprintf(lease->token, sizeof lease->token, "%s:%ld:%u:%" PRIu64, safe_owner,
             (long)getpid(), __atomic_add_fetch(&nonce, 1, __ATOMIC_RELAXED),
             (uint64_t)(kvs_lease_now_ns() % 1000000007ull));
    lease->ttl_ns = ttl_ns;
    kvs_status st = create_lease(lease, acquired, err);
    if (st != KVS_OK || *acquired)
        return st;
    char token[128] = "";
    uint64_t expiry;
    if (!read_lease(lease->path, token, sizeof token, &expiry)) {
        /* Empty or unreadable: its holder is writing it now, or died between create and
         * write; the file's age tells which. */
        struct stat sb;
        if (stat(lease->path, &sb) != 0)
            return create_lease(lease, acquired, err);
        expiry = (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec +
                 ttl_ns;
    }
    if (expiry > kvs_lease_now_ns())
        return KVS_OK; /* a live holder */
    remove_expired(lease, token);
    return create_lease(lease, acquired, err);
}

static bool still_mine(const kvs_lease *lease)
{
    char token[128];
    uint64_t expiry;
    return read_lease(lease->path, token, sizeof token, &expiry) &&
           strcmp(token, lease->token) == 0;
}

bool kvs_lease_renew(kvs_lease *lease)
{
    uint64_t now = kvs_lease_now_ns();
    if (now < lease->renew_at_ns)
        return true;
    if (!still_mine(lease))
        return false;
    int fd = open(lease->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write_lease(fd, lease, now + lease->ttl_ns);
    close(fd);
    lease->renew_at_ns = now + lease->ttl_ns / 2;
    return ok;
}

void kvs_lease_release(kvs_lease *lease)
{
    if (still_mine(lease))
        unlink(lease->path);
}
