/* Names in a file tier directory (ARCHITECTURE.md §3):
 *   <root>/v1/<namespace hex>/<k0k1>/<k2k3>/<key hex>.kvc     published objects
 *   <same directory>/<key hex>.<writer>.<pid>.<nonce>.tmp    objects being written
 *   <root>/v1/.evict.lease                                   the eviction lease
 * The two fan-out levels (first and second key byte) keep directories small. */
#ifndef KVSPILL_CACHE_FILE_PATH_H
#define KVSPILL_CACHE_FILE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "kvspill.h"

#define KVS_FILE_OBJECT_SUFFIX ".kvc"
#define KVS_FILE_TEMP_SUFFIX ".tmp"

/* Each returns false when the result does not fit in size bytes. */
bool kvs_file_v1_dir(char *out, size_t size, const char *root);
bool kvs_file_object_dir(char *out, size_t size, const char *root, const kvs_key *ns,
                         const kvs_key *key);
bool kvs_file_object_path(char *out, size_t size, const char *root, const kvs_key *ns,
                          const kvs_key *key);
/* A fresh temp name in dir for key, unique across writers, processes and calls. */
bool kvs_file_temp_path(char *out, size_t size, const char *dir, const kvs_key *key,
                        const char *writer_id);

/* "<64 hex>.kvc" → true and the key. */
bool kvs_file_parse_object_name(const char *name, kvs_key *key);
bool kvs_file_is_temp_name(const char *name);

#endif
