#include "cache/file_path.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size;
}

bool kvs_file_v1_dir(char *out, size_t size, const char *root)
{
    return fits(snprintf(out, size, "%s/v1", root), size);
}

bool kvs_file_object_dir(char *out, size_t size, const char *root, const kvs_key *ns,
                         const kvs_key *key)
{
    char nshex[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(ns, nshex);
    return fits(snprintf(out, size, "%s/v1/%s/%02x/%02x", root, nshex, key->b[0], key->b[1]),
                size);
}

bool kvs_file_object_path(char *out, size_t size, const char *root, const kvs_key *ns,
                          const kvs_key *key)
{
    char nshex[KVS_KEY_HEX_LEN + 1], khex[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(ns, nshex);
    kvs_key_hex(key, khex);
    return fits(snprintf(out, size, "%s/v1/%s/%02x/%02x/%s%s", root, nshex, key->b[0],
                         key->b[1], khex, KVS_FILE_OBJECT_SUFFIX), size);
}

bool kvs_file_temp_path(char *out, size_t size, const char *dir, const kvs_key *key,
                        const char *writer_id)
{
    static atomic_ulong counter;
    char khex[KVS_KEY_HEX_LEN + 1], writer[33];
    kvs_key_hex(key, khex);
    /* Only characters that are safe in a file name, and a bounded length. */
    size_t w = 0;
    for (const char *p = writer_id ? writer_id : ""; *p && w < sizeof writer - 1; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        writer[w++] = ok ? c : '_';
    }
    writer[w] = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long nonce = atomic_fetch_add(&counter, 1) ^ ((unsigned long)ts.tv_nsec << 20);
    return fits(snprintf(out, size, "%s/%s.%s.%ld.%lx%s", dir, khex, writer, (long)getpid(),
                         nonce, KVS_FILE_TEMP_SUFFIX), size);
}

bool kvs_file_parse_object_name(const char *name, kvs_key *key)
{
    size_t n = strlen(name), sl = strlen(KVS_FILE_OBJECT_SUFFIX);
    if (n != KVS_KEY_HEX_LEN + sl || strcmp(name + KVS_KEY_HEX_LEN, KVS_FILE_OBJECT_SUFFIX) != 0)
        return false;
    char hex[KVS_KEY_HEX_LEN + 1];
    memcpy(hex, name, KVS_KEY_HEX_LEN);
    hex[KVS_KEY_HEX_LEN] = 0;
    return kvs_key_parse(hex, key) == KVS_OK;
}

bool kvs_file_is_temp_name(const char *name)
{
    size_t n = strlen(name), sl = strlen(KVS_FILE_TEMP_SUFFIX);
    return n > sl && strcmp(name + n - sl, KVS_FILE_TEMP_SUFFIX) == 0;
}
