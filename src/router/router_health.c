/* Active health checks: GET /health on every backend each --health-interval-ms, with a
 * timeout of half the interval (at most 1 s), each on a connection of its own so that a
 * replica that no longer accepts connections is seen. 200 puts a backend in the set,
 * anything else takes it out. The same thread re-resolves the --backends-dns names,
 * closes the pooled connections that have been idle too long, and, with --model, learns
 * from the first healthy replica how it names its chunks (router_keys.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/router_internal.h"
#include "router/upstream_client.h"

void router_mark_down(router *r, router_backend *b, const char *why)
{
    (void)r;
    if (atomic_exchange(&b->healthy, false))
        fprintf(stderr, "kvspill router: backend %s out of the set: %s\n", b->url, why);
    upstream_pool_close(&b->pool);
}

void router_learn_keying(router *r, router_backend *b)
{
    if (!r->keys.tk || router_keys_ready(&r->keys))
        return;
    char auth[300];
    snprintf(auth, sizeof auth, "Bearer %s", r->cfg.api_key ? r->cfg.api_key : "");
    upstream_request rq = {.method = "GET", .path = "/kvspill/keying",
                           .authorization = r->cfg.api_key ? auth : NULL,
                           .connect_timeout_ms = r->cfg.connect_timeout_ms,
                           .first_byte_timeout_ms = r->cfg.connect_timeout_ms};
    upstream_conn *c;
    upstream_stage stage;
    model_error err;
    char *body = NULL;
    size_t len;
    int rc = upstream_pool_open(&b->pool, b->host, b->port, &rq, &c, &stage, &err);
    if (rc == 0) {
        if (upstream_status(c) != 200)
            rc = model_fail(&err, "GET /kvspill/keying answered %u", upstream_status(c));
        else
            rc = upstream_read_all(c, 1u << 16, r->cfg.connect_timeout_ms, &body, &len, &err);
        upstream_pool_put(&b->pool, c);
    }
    if (rc == 0)
        rc = router_keys_set_keying(&r->keys, body, len, &err);
    free(body);
    if (rc == 0)
        fprintf(stderr, "kvspill router: prefixaware: chunk keys as %s names them\n", b->url);
    else if (!r->keying_failed)
        fprintf(stderr, "kvspill router: prefixaware: %s: %s; hashing characters meanwhile\n",
                b->url, err.msg);
    r->keying_failed = rc != 0;
}

static void check_one(router *r, router_backend *b, int timeout_ms)
{
    if (!atomic_load(&b->present))
        return; /* left its DNS answer: no longer a backend */
    upstream_request rq = {.method = "GET", .path = "/health",
                           .connect_timeout_ms = timeout_ms, .first_byte_timeout_ms = timeout_ms};
    upstream_conn *c;
    upstream_stage stage;
    model_error err;
    if (upstream_open(b->host, b->port, &rq, &c, &stage, &err)) {
        router_mark_down(r, b, err.msg);
        return;
    }
    unsigned st = upstream_status(c);
    upstream_close(c);
    if (st != 200) {
        char why[64];
        snprintf(why, sizeof why, "/health answered %u", st);
        router_mark_down(r, b, why);
    } else {
        upstream_pool_reopen(&b->pool);
        if (!atomic_exchange(&b->healthy, true))
            fprintf(stderr, "kvspill router: backend %s in the set\n", b->url);
        router_learn_keying(r, b);
    }
    upstream_pool_expire(&b->pool);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void router_dns_refresh(router *r)
{
    if (!r->n_dns || now_ms() < r->dns_due_ms)
        return;
    r->dns_due_ms = now_ms() + (uint64_t)r->cfg.dns_interval_ms;
    router_dns_answer *answer = malloc(sizeof *answer); /* 19 KB: off the thread's stack */
    if (!answer) {
        fprintf(stderr, "kvspill router: out of memory re-resolving the backends\n");
        return;
    }
    for (size_t i = 0; i < r->n_dns; i++) {
        const char *urls[ROUTER_DNS_MAX_ADDRS];
        model_error err;
        if (router_dns_resolve(r->dns[i].name, r->dns[i].port, answer, &err)) {
            /* No answer is not "no replicas": a resolver outage keeps the set as it is. A
             * headless Service with no ready pod also answers nothing; health checks then
             * take its replicas out. */
            fprintf(stderr, "kvspill router: %s\n", err.msg);
            continue;
        }
        for (size_t k = 0; k < answer->n; k++)
            urls[k] = answer->urls[k];
        if (router_backends_sync(&r->set, (int)i, urls, answer->n, &err))
            fprintf(stderr, "kvspill router: %s\n", err.msg);
    }
    free(answer);
}

static void *health_main(void *arg)
{
    router *r = arg;
    int interval = r->cfg.health_interval_ms;
    int timeout = interval / 2 < 1000 ? interval / 2 : 1000;
    if (timeout < 50)
        timeout = 50;
    pthread_mutex_lock(&r->stop_mu);
    while (!r->stopping) {
        pthread_mutex_unlock(&r->stop_mu);
        router_dns_refresh(r);
        for (size_t i = 0; i < atomic_load(&r->set.n); i++)
            check_one(r, router_backend_at(&r->set, i), timeout);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += interval / 1000;
        until.tv_nsec += (long)(interval % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&r->stop_mu);
        while (!r->stopping &&
               pthread_cond_timedwait(&r->stop_cv, &r->stop_mu, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&r->stop_mu);
    return NULL;
}

int router_health_start(router *r, model_error *err)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
        pthread_cond_init(&r->stop_cv, &ca))
        return model_fail(err, "router: cannot set up the health checker's clock");
    pthread_condattr_destroy(&ca);
    router_dns_refresh(r); /* the first round before the first request */
    for (size_t i = 0; i < atomic_load(&r->set.n); i++)
        check_one(r, router_backend_at(&r->set, i), r->cfg.connect_timeout_ms);
    int rc = pthread_create(&r->health_thread, NULL, health_main, r);
    if (rc) {
        pthread_cond_destroy(&r->stop_cv);
        return model_fail(err, "router: cannot start the health checker: %s", strerror(rc));
    }
    r->health_started = true;
    return 0;
}

void router_health_stop(router *r)
{
    if (!r->health_started)
        return;
    pthread_mutex_lock(&r->stop_mu);
    r->stopping = true;
    pthread_cond_signal(&r->stop_cv);
    pthread_mutex_unlock(&r->stop_mu);
    pthread_join(r->health_thread, NULL);
    pthread_cond_destroy(&r->stop_cv);
    r->health_started = false;
}
