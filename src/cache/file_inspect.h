/* Reading single objects of a cache directory outside the tier, for `kvspill cache`:
 * the header alone (cheap, for listings) or the whole object verified against the
 * namespace and key its path names. */
#ifndef KVSPILL_CACHE_FILE_INSPECT_H
#define KVSPILL_CACHE_FILE_INSPECT_H

#include "kvspill.h"

/* Parses the header of the object at path. KVS_ERR_CORRUPT with the reason when damaged. */
kvs_status kvs_file_read_header(const char *path, kvs_chunk_info *info, kvs_error *err);

/* Reads and verifies the whole object (header and payload checksums, and that it holds
 * the namespace and key its path names). */
kvs_status kvs_file_verify_object(const char *path, const kvs_key *ns, const kvs_key *key,
                                  kvs_chunk_info *info, kvs_error *err);

#endif
