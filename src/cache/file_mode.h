/* Permission bits of what the file tiers create. KV tensors reveal the prompt they came
 * from, so objects are the owner's alone by default (0600, directories 0700); a site that
 * shares one tier between uids sets file_mode (LMCACHE_FILE_MODE), e.g. 0660. */
#ifndef KVSPILL_CACHE_FILE_MODE_H
#define KVSPILL_CACHE_FILE_MODE_H

#include <sys/types.h>

#define KVS_FILE_MODE_DEFAULT 0600

/* The directory bits that go with file bits: search where there is read (0660 -> 0770). */
mode_t kvs_file_dir_mode(mode_t file_mode);

/* mkdir with exactly `mode`, whatever the umask; an existing directory is left as it is.
 * Returns 0 or an errno value. */
int kvs_file_mkdir_mode(const char *path, mode_t mode);

/* Gives a file just created with open(..., mode) exactly `mode`: the umask may have
 * cleared group bits a shared tier needs. Returns 0 or an errno value. */
int kvs_file_fix_mode(int fd, mode_t mode);

#endif
