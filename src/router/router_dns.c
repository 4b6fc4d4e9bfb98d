#include "router/router_dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int router_dns_parse(const char *spec, char *name, size_t name_len, uint16_t *port,
                     model_error *err)
{
    const char *colon = strrchr(spec, ':'), *h = spec;
    size_t hl = colon ? (size_t)(colon - spec) : 0;
    if (*spec == '[') { /* [v6]:port */
        const char *close = strchr(spec, ']');
        if (!close || close + 1 != colon)
            return model_fail(err, "--backends-dns '%s': IPv6 literal needs [addr]:port", spec);
        h = spec + 1;
        hl = (size_t)(close - h);
    } else if (colon && memchr(spec, ':', hl)) {
        return model_fail(err, "--backends-dns '%s': write an IPv6 literal as [addr]:port", spec);
    }
    if (!colon || !hl || hl >= name_len)
        return model_fail(err, "--backends-dns '%s': not NAME:PORT", spec);
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || errno || p < 1 || p > 65535)
        return model_fail(err, "--backends-dns '%s': port must be 1-65535", spec);
    memcpy(name, h, hl);
    name[hl] = 0;
    *port = (uint16_t)p;
    return 0;
}

static int by_url(const void *a, const void *b)
{
    return strcmp(a, b);
}

int router_dns_resolve(const char *name, uint16_t port, router_dns_answer *out,
                       model_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc)
        return model_fail(err, "resolve %s: %s", name,
                          rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    out->n = 0;
    for (struct addrinfo *a = res; a && out->n < ROUTER_DNS_MAX_ADDRS; a = a->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        const void *addr = a->ai_family == AF_INET6
                               ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                               : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            !inet_ntop(a->ai_family, addr, ip, sizeof ip))
            continue;
        snprintf(out->urls[out->n], ROUTER_URL_MAX,
                 a->ai_family == AF_INET6 ? "http://[%s]:%u" : "http://%s:%u", ip, port);
        out->n++;
    }
    freeaddrinfo(res);
    qsort(out->urls, out->n, ROUTER_URL_MAX, by_url);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++)
        if (k == 0 || strcmp(out->urls[i], out->urls[k - 1]))
            memmove(out->urls[k++], out->urls[i], ROUTER_URL_MAX);
    out->n = k;
    if (!k)
        return model_fail(err, "resolve %s: no IPv4 or IPv6 address", name);
    return 0;
}
