/* kvs_file_scan (kvs_admin.h): the walk of a file tier directory. */
#include "cache/kvs_admin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/error.h"
#include "cache/file_path.h"

typedef struct walk {
    kvs_scan_fn fn;
    void *ctx;
    uint64_t ops;
    kvs_key ns;
    kvs_error *err;
    int stopped;
} walk;

static bool is_hex_byte_name(const char *name)
{
    static const char hex[] = "0123456789abcdef";
    return strlen(name) == 2 && strchr(hex, name[0]) && strchr(hex, name[1]);
}

/* Opens a directory; a vanished one is reported as NULL with *status KVS_OK. */
static DIR *open_dir(walk *w, const char *path, kvs_status *status)
{
    w->ops++;
    DIR *d = opendir(path);
    *status = KVS_OK;
    if (!d && errno != ENOENT) {
        *status = kvs_fail_errno(w->err, errno, "open directory %s", path);
        if (*status == KVS_ERR_NOT_FOUND)
            *status = KVS_ERR_IO;
    }
    return d;
}

static kvs_status walk_leaf(walk *w, const char *dir)
{
    kvs_status st;
    DIR *d = open_dir(w, dir, &st);
    if (!d)
        return st;
    struct dirent *de;
    while (!w->stopped && (de = readdir(d)) != NULL) {
        kvs_scan_entry e = {0};
        e.is_temp = kvs_file_is_temp_name(de->d_name);
        if (!e.is_temp && !kvs_file_parse_object_name(de->d_name, &e.key))
            continue;
        struct stat sb;
        w->ops++;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue; /* vanished meanwhile, or not a plain file */
        char path[KVS_PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        e.path = path;
        e.ns = w->ns;
        e.size = (uint64_t)sb.st_size;
        e.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        e.mode = (uint32_t)(sb.st_mode & 07777);
        w->stopped = w->fn(w->ctx, &e);
    }
    closedir(d);
    return KVS_OK;
}

/* Walks the fan-out directories below a namespace: depth 2 is <k0k1>, depth 1 <k2k3>. */
static kvs_status walk_fanout(walk *w, const char *dir, int depth)
{
    kvs_status st;
    DIR *d = open_dir(w, dir, &st);
    if (!d)
        return st;
    struct dirent *de;
    while (st == KVS_OK && !w->stopped && (de = readdir(d)) != NULL) {
        if (!is_hex_byte_name(de->d_name))
            continue;
        char sub[KVS_PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) >= (int)sizeof sub)
            continue;
        st = depth == 1 ? walk_leaf(w, sub) : walk_fanout(w, sub, depth - 1);
    }
    closedir(d);
    return st;
}

kvs_status kvs_file_scan(const char *root, kvs_scan_fn fn, void *ctx, uint64_t *metadata_ops,
                         kvs_error *err)
{
    walk w = {.fn = fn, .ctx = ctx, .err = err};
    char v1[KVS_PATH_MAX];
    if (!kvs_file_v1_dir(v1, sizeof v1, root))
        return kvs_fail(err, KVS_ERR_INVALID, "cache directory path too long: %s", root);
    kvs_status st;
    DIR *d = open_dir(&w, v1, &st);
    if (d) {
        struct dirent *de;
        while (st == KVS_OK && !w.stopped && (de = readdir(d)) != NULL) {
            if (kvs_key_parse(de->d_name, &w.ns) != KVS_OK)
                continue;
            char sub[KVS_PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", v1, de->d_name) >= (int)sizeof sub)
                continue;
            st = walk_fanout(&w, sub, 2);
        }
        closedir(d);
    }
    if (metadata_ops)
        *metadata_ops += w.ops;
    return st;
}
