/* One request sent to several backends at once, a thread each, for the router's own
 * endpoints that ask every replica (the kvaware lookup, /v1/models, the stats of the
 * dashboard): the slowest replica bounds the wait, not the sum of them. */
#ifndef KVSPILL_ROUTER_FANOUT_H
#define KVSPILL_ROUTER_FANOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "router/router_backends.h"
#include "router/upstream_client.h"

typedef struct router_answer {
    bool answered;  /* a whole answer arrived in time (any status) */
    unsigned status;
    char *body;     /* NUL-terminated, malloc'd; NULL unless answered */
    size_t len;
    model_error err; /* why not, when !answered */
} router_answer;

/* Sends rq to every backend i < n with ask[i] (the set's slot i, read once), on its pooled
 * connections, and reads each whole answer, up to max_len bytes, waiting at most
 * rq->first_byte_timeout_ms for its bytes. answers[i] is filled for every i < n (unasked: not answered, empty err). */
void router_ask_all(router_backends *set, const upstream_request *rq, const bool *ask,
                    size_t n, size_t max_len, router_answer *answers);
void router_answers_free(router_answer *answers, size_t n);

#endif
