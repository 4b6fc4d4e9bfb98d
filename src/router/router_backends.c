/* The backend set: the --backends list, and the DNS answers merged into it. */
#include "router/router_backends.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_hash.h"

int router_parse_url(const char *url, char *host, size_t host_len, uint16_t *port,
                     model_error *err)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return model_fail(err, "backend '%s': not an http://host:port URL", url);
    const char *h = url + sizeof scheme - 1, *hend, *colon;
    if (*h == '[') {
        hend = strchr(h, ']');
        if (!hend || hend[1] != ':')
            return model_fail(err, "backend '%s': IPv6 literal needs [addr]:port", url);
        colon = hend + 1;
        h++;
    } else {
        colon = strchr(h, ':');
        hend = colon;
        if (!colon)
            return model_fail(err, "backend '%s': missing the :port", url);
    }
    size_t hl = (size_t)(hend - h);
    if (!hl || hl >= host_len || memchr(h, '/', hl) || memchr(h, '@', hl))
        return model_fail(err, "backend '%s': bad host", url);
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || errno || p < 1 || p > 65535 || (*end && strcmp(end, "/") != 0))
        return model_fail(err, "backend '%s': port must be 1-65535 with no path after it",
                          url);
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (uint16_t)p;
    return 0;
}

/* A backend for url (already checked by the caller or parsed here). */
static router_backend *backend_new(const router_backends *set, const char *url, size_t len,
                                   int source, model_error *err)
{
    router_backend *b = calloc(1, sizeof *b);
    if (!b) {
        model_fail(err, "router: out of memory");
        return NULL;
    }
    if (!len || len >= sizeof b->url) {
        free(b);
        model_fail(err, "backend '%.*s': empty or overlong", (int)(len > 200 ? 200 : len), url);
        return NULL;
    }
    memcpy(b->url, url, len);
    b->url[len] = 0;
    if (b->url[len - 1] == '/')
        b->url[len - 1] = 0;
    if (router_parse_url(b->url, b->host, sizeof b->host, &b->port, err) ||
        upstream_pool_init(&b->pool, set->pool_max, set->pool_idle_ms, err)) {
        free(b);
        return NULL;
    }
    b->id = router_hash_bytes(ROUTER_HASH_SEED, b->url, strlen(b->url));
    b->source = source;
    atomic_init(&b->present, true);
    atomic_init(&b->healthy, false);
    atomic_init(&b->in_flight, 0);
    atomic_init(&b->requests, 0);
    return b;
}

static void backend_free(router_backend *b)
{
    upstream_pool_destroy(&b->pool);
    free(b);
}

static int find(router_backends *set, const char *url)
{
    size_t n = atomic_load(&set->n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(router_backend_at(set, i)->url, url))
            return (int)i;
    return -1;
}

/* Publishes b in a new slot: its fields are written before the count that shows it. */
static void append(router_backends *set, router_backend *b)
{
    size_t n = atomic_load(&set->n);
    atomic_store_explicit(&set->b[n], b, memory_order_release);
    atomic_store_explicit(&set->n, n + 1, memory_order_release);
}

int router_backends_parse(router_backends *set, const char *list, model_error *err)
{
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (atomic_load(&set->n) == ROUTER_MAX_BACKENDS)
            return model_fail(err, "--backends: more than %d backends", ROUTER_MAX_BACKENDS);
        model_error e;
        router_backend *b = backend_new(set, p, len, ROUTER_STATIC, &e);
        if (!b)
            return model_fail(err, "--backends: %s", e.msg);
        if (find(set, b->url) >= 0) {
            model_fail(err, "--backends: '%s' given twice", b->url);
            backend_free(b);
            return -1;
        }
        append(set, b);
        p += len;
        if (*p == ',')
            p++;
    }
    if (!atomic_load(&set->n))
        return model_fail(err, "--backends: no backend given");
    return 0;
}

/* A slot to reuse: a DNS backend gone for two rounds with nothing running on it. Requests
 * that chose it before it left have counted themselves in in_flight by then. */
static int reusable_slot(router_backends *set)
{
    size_t n = atomic_load(&set->n);
    for (size_t i = 0; i < n; i++) {
        router_backend *b = router_backend_at(set, i);
        if (b->source != ROUTER_STATIC && !atomic_load(&b->present) && b->absent_rounds >= 2 &&
            atomic_load(&b->in_flight) == 0)
            return (int)i;
    }
    return -1;
}

static bool listed(const char *url, const char *const *urls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(url, urls[i]))
            return true;
    return false;
}

int router_backends_sync(router_backends *set, int source, const char *const *urls, size_t n,
                         model_error *err)
{
    size_t have = atomic_load(&set->n);
    for (size_t i = 0; i < have; i++) {
        router_backend *b = router_backend_at(set, i);
        if (b->source != source)
            continue;
        if (listed(b->url, urls, n)) {
            b->absent_rounds = 0;
            atomic_store(&b->present, true);
        } else if (atomic_exchange(&b->present, false)) {
            b->absent_rounds = 1;
            atomic_store(&b->healthy, false);
            upstream_pool_close(&b->pool);
            fprintf(stderr, "kvspill router: backend %s out of the set: no longer in DNS\n",
                    b->url);
        } else {
            b->absent_rounds++;
        }
    }
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        int at = find(set, urls[k]);
        if (at >= 0) {
            router_backend *b = router_backend_at(set, (size_t)at);
            if (b->source != source && b->source != ROUTER_STATIC && !atomic_load(&b->present)) {
                b->source = source; /* moved to another name's answer */
                b->absent_rounds = 0;
                atomic_store(&b->present, true);
            }
            continue;
        }
        int slot = atomic_load(&set->n) < ROUTER_MAX_BACKENDS ? -1 : reusable_slot(set);
        if (atomic_load(&set->n) == ROUTER_MAX_BACKENDS && slot < 0) {
            rc = model_fail(err, "more than %d backends: %s left out", ROUTER_MAX_BACKENDS,
                            urls[k]);
            continue;
        }
        router_backend *b = backend_new(set, urls[k], strlen(urls[k]), source, err);
        if (!b) {
            rc = -1;
            continue;
        }
        fprintf(stderr, "kvspill router: backend %s found in DNS\n", b->url);
        if (slot < 0) {
            append(set, b);
        } else {
            router_backend *old = router_backend_at(set, (size_t)slot);
            atomic_store_explicit(&set->b[slot], b, memory_order_release);
            old->retired_next = set->retired;
            set->retired = old;
        }
    }
    return rc;
}

void router_backends_free(router_backends *set)
{
    size_t n = atomic_load(&set->n);
    for (size_t i = 0; i < n; i++)
        backend_free(router_backend_at(set, i));
    while (set->retired) {
        router_backend *next = set->retired->retired_next;
        backend_free(set->retired);
        set->retired = next;
    }
    atomic_store(&set->n, 0);
}
