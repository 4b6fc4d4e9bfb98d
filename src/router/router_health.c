/* Active health checks: GET /health on every backend each --health-interval-ms, with a
 * timeout of half the interval (at most 1 s). 200 puts a backend in the set, anything
 * else takes it out. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "router/router_internal.h"
#include "router/upstream_client.h"

void router_mark_down(router *r, router_backend *b, const char *why)
{
    (void)r;
    if (atomic_exchange(&b->healthy, false))
        fprintf(stderr, "kvspill router: backend %s out of the set: %s\n", b->url, why);
}

static void check_one(router *r, router_backend *b, int timeout_ms)
{
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
    } else if (!atomic_exchange(&b->healthy, true)) {
        fprintf(stderr, "kvspill router: backend %s in the set\n", b->url);
    }
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
        for (size_t i = 0; i < r->set.n; i++)
            check_one(r, &r->set.b[i], timeout);
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
    for (size_t i = 0; i < r->set.n; i++) /* the first round before the first request */
        check_one(r, &r->set.b[i], r->cfg.connect_timeout_ms);
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
