/* Parsing the --backends list. */
#include "router/router_backends.h"

#include <errno.h>
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

int router_backends_parse(router_backends *set, const char *list, model_error *err)
{
    set->n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (set->n == ROUTER_MAX_BACKENDS)
            return model_fail(err, "--backends: more than %d backends", ROUTER_MAX_BACKENDS);
        router_backend *b = &set->b[set->n];
        if (!len || len >= sizeof b->url)
            return model_fail(err, "--backends: empty or overlong entry in '%s'", list);
        memcpy(b->url, p, len);
        b->url[len] = 0;
        if (b->url[len - 1] == '/')
            b->url[len - 1] = 0;
        if (router_parse_url(b->url, b->host, sizeof b->host, &b->port, err))
            return -1;
        for (size_t i = 0; i < set->n; i++)
            if (!strcmp(set->b[i].url, b->url))
                return model_fail(err, "--backends: '%s' given twice", b->url);
        b->id = router_hash_bytes(ROUTER_HASH_SEED, b->url, strlen(b->url));
        atomic_init(&b->healthy, false);
        atomic_init(&b->in_flight, 0);
        atomic_init(&b->requests, 0);
        set->n++;
        p += len;
        if (*p == ',')
            p++;
    }
    if (!set->n)
        return model_fail(err, "--backends: no backend given");
    return 0;
}
