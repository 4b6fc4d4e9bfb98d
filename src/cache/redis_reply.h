/* What the redis tier makes of Redis's answers, apart from any connection: a GET reply
 * becomes a verified chunk, a miss, a stored value to remove, or an error; a SET reply
 * success or an error. The replies are hostile input (another writer, a corrupted or
 * foreign value, a server that is not Redis); tests/fuzz/fuzz_redis_reply.c fuzzes them. */
#ifndef KVSPILL_CACHE_REDIS_REPLY_H
#define KVSPILL_CACHE_REDIS_REPLY_H

#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "kvspill.h"

/* One GET reply for req in namespace ns, stored under key (named in errors after where,
 * the server). KVS_OK: *out is the verified chunk. KVS_ERR_NOT_FOUND: no value.
 * KVS_ERR_CORRUPT: the value is not a good object for req (or not a string); *remove is
 * set. Anything else (out of memory, an error reply, a reply of another kind): err says
 * what. */
kvs_status kvs_redis_take_object(const redisReply *r, const char *where, const char *key,
                                 const kvs_key *ns, const kvs_chunk_request *req,
                                 kvs_chunk **out, bool *remove, kvs_error *err);

/* One SET reply for key: KVS_OK on a status reply; KVS_ERR_FULL on Redis's OOM error;
 * KVS_ERR_REMOTE on any other answer, named in err. */
kvs_status kvs_redis_check_set_reply(const redisReply *r, const char *where, const char *key,
                                     kvs_error *err);

#endif
