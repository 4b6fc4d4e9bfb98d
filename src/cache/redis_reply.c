#include "cache/redis_reply.h"

#include <string.h>

#include "cache/error.h"
#include "cache/object.h"

/* The text of an error reply, or what kind of reply it was instead. */
static int reply_text_len(const redisReply *r, const char *instead)
{
    return r->type == REDIS_REPLY_ERROR ? (int)r->len : (int)strlen(instead);
}

static const char *reply_text(const redisReply *r, const char *instead)
{
    return r->type == REDIS_REPLY_ERROR ? r->str : instead;
}

kvs_status kvs_redis_take_object(const redisReply *r, const char *where, const char *key,
                                 const kvs_key *ns, const kvs_chunk_request *req,
                                 kvs_chunk **out, bool *remove, kvs_error *err)
{
    if (r->type == REDIS_REPLY_NIL)
        return KVS_ERR_NOT_FOUND;
    if (r->type == REDIS_REPLY_STRING) {
        uint8_t *buf = kvs_object_alloc_buffer(r->len);
        if (!buf)
            return kvs_fail(err, KVS_ERR_NOMEM, "%s: GET %s: out of memory for %zu bytes",
                            where, key, r->len);
        memcpy(buf, r->str, r->len);
        kvs_error why;
        kvs_status s = kvs_object_from_bytes(buf, r->len, ns, &req->key, req->tokens,
                                             req->n_tokens, out, &why);
        if (s == KVS_OK)
            return KVS_OK;
        if (s != KVS_ERR_CORRUPT)
            return kvs_fail(err, s, "%s: GET %s: %s", where, key, why.msg);
        kvs_fail(err, KVS_ERR_CORRUPT, "%s: %s: %s; removed", where, key, why.msg);
    } else if (r->type == REDIS_REPLY_ERROR && r->len >= 9 && !strncmp(r->str, "WRONGTYPE", 9)) {
        kvs_fail(err, KVS_ERR_CORRUPT, "%s: %s holds no string; removed", where, key);
    } else {
        return kvs_fail(err, KVS_ERR_REMOTE, "%s: GET %s: %.*s", where, key,
                        reply_text_len(r, "unexpected reply"), reply_text(r, "unexpected reply"));
    }
    *remove = true;
    return KVS_ERR_CORRUPT;
}

kvs_status kvs_redis_check_set_reply(const redisReply *r, const char *where, const char *key,
                                     kvs_error *err)
{
    if (r->type == REDIS_REPLY_STATUS)
        return KVS_OK;
    bool oom = r->type == REDIS_REPLY_ERROR && r->len >= 3 && !strncmp(r->str, "OOM", 3);
    return kvs_fail(err, oom ? KVS_ERR_FULL : KVS_ERR_REMOTE, "%s: SET %s: %.*s", where, key,
                    reply_text_len(r, "unexpected reply"), reply_text(r, "unexpected reply"));
}
