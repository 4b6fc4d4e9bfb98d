/* Parsing of the redis tier's URL: redis://[[user]:password@]host[:port][/db].
 *
 * As redis-cli reads it: "user:password@" authenticates as an ACL user (AUTH user pass),
 * ":password@" or "password@" as the default user (AUTH pass). Userinfo may be
 * percent-encoded (a password holding '@' or ':'). The host may be a name, an IPv4
 * address or a bracketed IPv6 address. The port defaults to 6379 and the db to 0.
 * rediss:// (TLS) is recognised and refused: Debian's hiredis 0.14 has no TLS support. */
#ifndef KVSPILL_CACHE_REDIS_URL_H
#define KVSPILL_CACHE_REDIS_URL_H

#include "kvspill.h"

#define KVS_REDIS_DEFAULT_PORT 6379

typedef struct kvs_redis_url {
    char host[256];       /* without brackets */
    int port;
    char user[128];       /* "" = the default user */
    char password[256];   /* "" = no AUTH */
    uint32_t db;
    /* "redis://host:port" (plus "/db" when not 0): the URL without credentials, for
     * messages. */
    char display[320];
} kvs_redis_url;

kvs_status kvs_redis_url_parse(const char *url, kvs_redis_url *out, kvs_error *err);

#endif
