/* Which directories are file tier roots: a root holds the v1/ tree (file_path.h). The
 * operator's tools use this to refuse a directory that is not a cache instead of reporting
 * an empty one, and to name the caches below it. */
#ifndef KVSPILL_CACHE_FILE_ROOTS_H
#define KVSPILL_CACHE_FILE_ROOTS_H

#include <stdbool.h>

#include "kvspill.h"

bool kvs_file_is_root(const char *dir);

/* Returns nonzero to stop the search. */
typedef int (*kvs_root_fn)(void *ctx, const char *root);

/* Calls fn for each root strictly below dir, at most max_depth levels down, in directory
 * order; does not descend into a root, nor follow symbolic links. Unreadable directories
 * below dir are skipped. */
kvs_status kvs_file_find_roots(const char *dir, unsigned max_depth, kvs_root_fn fn, void *ctx,
                               kvs_error *err);

#endif
