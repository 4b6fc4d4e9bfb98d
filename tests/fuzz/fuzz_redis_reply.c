/* Fuzzes what the redis tier makes of Redis's answers: the bytes are a reply stream as a
 * server (or something posing as one) would send it, read by hiredis' reader as the tier's
 * connection reads it; each reply goes through kvs_redis_take_object as a GET answer and
 * kvs_redis_check_set_reply as a SET answer. A string reply is tried against the request its
 * own header describes (so a well-formed object gets past the key and token checks and the
 * payload checks run) and against an unrelated request. Nothing may crash, an accepted
 * chunk must be what was asked for, and every rejection must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/object.h"
#include "cache/redis_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_REPLIES = 64 };

static void check_status(kvs_status s, const kvs_error *err)
{
    if (s != KVS_OK && s != KVS_ERR_NOT_FOUND && !err->msg[0])
        __builtin_trap();
}

static void try_get(const redisReply *r, const kvs_key *ns, const kvs_chunk_request *req)
{
    kvs_chunk *c = NULL;
    bool remove = false;
    kvs_error err = {0};
    kvs_status s = kvs_redis_take_object(r, "redis://fuzz", "kvspill:v1:k", ns, req, &c, &remove,
                                         &err);
    check_status(s, &err);
    if (s == KVS_OK) {
        if (!c || memcmp(&c->info.key, &req->key, sizeof req->key) ||
            memcmp(&c->info.ns, ns, sizeof *ns) || c->info.n_tokens != req->n_tokens || remove)
            __builtin_trap();
        kvs_chunk_release(c);
    } else if (c || remove != (s == KVS_ERR_CORRUPT)) {
        __builtin_trap();
    }
}

static void take(const redisReply *r)
{
    kvs_error err = {0};
    check_status(kvs_redis_check_set_reply(r, "redis://fuzz", "kvspill:v1:k", &err), &err);
    kvs_key ns, other_ns;
    memset(&other_ns, 0x5a, sizeof other_ns);
    kvs_chunk_request other = {.chunk_index = 0, .tokens = NULL, .n_tokens = 0};
    memset(&other.key, 0xa5, sizeof other.key);
    try_get(r, &other_ns, &other);
    if (r->type != REDIS_REPLY_STRING)
        return;
    kvs_chunk_info info;
    size_t header_size;
    if (kvs_object_parse_header((const uint8_t *)r->str, r->len, &info, &header_size, NULL,
                                &err) != KVS_OK)
        return;
    int32_t *tokens = malloc(((size_t)info.n_tokens ? info.n_tokens : 1) * sizeof *tokens);
    if (tokens && kvs_object_parse_header((const uint8_t *)r->str, r->len, &info, &header_size,
                                          tokens, &err) == KVS_OK) {
        ns = info.ns;
        kvs_chunk_request own = {.key = info.key, .tokens = tokens, .n_tokens = info.n_tokens};
        try_get(r, &ns, &own);
    }
    free(tokens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *reader = redisReaderCreate();
    if (!reader)
        return 0;
    /* Fed in two pieces, as a reply split across reads arrives. */
    size_t half = size / 2;
    if (redisReaderFeed(reader, (const char *)data, half) == REDIS_OK) {
        bool fed_all = false;
        for (int n = 0; n < MAX_REPLIES; n++) {
            void *reply = NULL;
            if (redisReaderGetReply(reader, &reply) != REDIS_OK)
                break;
            if (!reply) {
                if (fed_all ||
                    redisReaderFeed(reader, (const char *)data + half, size - half) != REDIS_OK)
                    break;
                fed_all = true;
                continue;
            }
            take(reply);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(reader);
    return 0;
}
