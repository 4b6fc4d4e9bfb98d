/* kvs_file_is_root, kvs_file_find_roots (kvs_admin.h). */
#include "cache/kvs_admin.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/error.h"
#include "cache/file_path.h"

bool kvs_file_is_root(const char *dir)
{
    char v1[KVS_PATH_MAX];
    struct stat sb;
    return kvs_file_v1_dir(v1, sizeof v1, dir) && stat(v1, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int search(const char *dir, unsigned depth, kvs_root_fn fn, void *ctx);

/* Walks the open directory d (dir's), closing it; nonzero once fn asked to stop. */
static int search_open(DIR *d, const char *dir, unsigned depth, kvs_root_fn fn, void *ctx)
{
    int stop = 0;
    struct dirent *de;
    while (!stop && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[KVS_PATH_MAX];
        struct stat sb;
        if (snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) >= (int)sizeof sub ||
            lstat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (kvs_file_is_root(sub))
            stop = fn(ctx, sub);
        else if (depth > 1)
            stop = search(sub, depth - 1, fn, ctx);
    }
    closedir(d);
    return stop;
}

static int search(const char *dir, unsigned depth, kvs_root_fn fn, void *ctx)
{
    DIR *d = opendir(dir);
    return d ? search_open(d, dir, depth, fn, ctx) : 0;
}

kvs_status kvs_file_find_roots(const char *dir, unsigned max_depth, kvs_root_fn fn, void *ctx,
                               kvs_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return kvs_fail_errno(err, errno, "open directory %s", dir);
    if (max_depth > 0)
        search_open(d, dir, max_depth, fn, ctx);
    else
        closedir(d);
    return KVS_OK;
}
