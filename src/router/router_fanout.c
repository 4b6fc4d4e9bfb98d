#include "router/router_fanout.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct ask_job {
    router_backend *b;
    const upstream_request *rq;
    size_t max_len;
    router_answer *out;
    pthread_t thread;
    bool started;
} ask_job;

static void *ask_one(void *arg)
{
    ask_job *j = arg;
    upstream_conn *c;
    upstream_stage stage;
    if (upstream_pool_open(&j->b->pool, j->b->host, j->b->port, j->rq, &c, &stage,
                           &j->out->err))
        return NULL;
    j->out->status = upstream_status(c);
    j->out->answered = upstream_read_all(c, j->max_len, j->rq->first_byte_timeout_ms,
                                         &j->out->body, &j->out->len, &j->out->err) == 0;
    upstream_pool_put(&j->b->pool, c);
    return NULL;
}

void router_ask_all(router_backends *set, const upstream_request *rq, const bool *ask,
                    size_t n, size_t max_len, router_answer *answers)
{
    ask_job jobs[ROUTER_MAX_BACKENDS];
    if (n > ROUTER_MAX_BACKENDS)
        n = ROUTER_MAX_BACKENDS;
    for (size_t i = 0; i < n; i++) {
        memset(&answers[i], 0, sizeof answers[i]);
        jobs[i] = (ask_job){router_backend_at(set, i), rq, max_len, &answers[i], 0, false};
        if (ask[i])
            jobs[i].started = pthread_create(&jobs[i].thread, NULL, ask_one, &jobs[i]) == 0;
        if (ask[i] && !jobs[i].started)
            ask_one(&jobs[i]); /* no thread to be had: ask from here */
    }
    for (size_t i = 0; i < n; i++)
        if (jobs[i].started)
            pthread_join(jobs[i].thread, NULL);
}

void router_answers_free(router_answer *answers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(answers[i].body);
        answers[i].body = NULL;
    }
}
