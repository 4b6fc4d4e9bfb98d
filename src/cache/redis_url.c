#include "cache/redis_url.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cache/error.h"
#include "cache/hex.h"

/* The URL with its userinfo replaced by "***", so that no message ever shows a password.
 * The last '@' ends the userinfo: neither a host nor a db holds one, while an unencoded
 * password might. */
static void redact(const char *url, char *out, size_t n)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    const char *at = strrchr(auth, '@');
    if (at)
        snprintf(out, n, "%.*s***%s", (int)(auth - url), url, at);
    else
        snprintf(out, n, "%s", url);
}

/* Percent-decodes src[0..len) into out (cap bytes with the NUL). false on a bad escape, an
 * encoded NUL, or when it does not fit. */
static bool decode(const char *src, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            int hi = kvs_hex_digit_value(src[i + 1]);
            int lo = kvs_hex_digit_value(src[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

/* Parses decimal digits s[0..len) into *v, at most max. */
static bool parse_uint(const char *s, size_t len, long max, long *v)
{
    if (len == 0)
        return false;
    long x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
        if (x > max)
            return false;
    }
    *v = x;
    return true;
}

static kvs_status parse_userinfo(const char *s, size_t len, kvs_redis_url *u, const char *shown,
                                 kvs_error *err)
{
    const char *colon = memchr(s, ':', len);
    bool ok;
    if (colon) {
        ok = decode(s, (size_t)(colon - s), u->user, sizeof u->user) &&
             decode(colon + 1, len - (size_t)(colon - s) - 1, u->password, sizeof u->password);
    } else {
        /* "password@host", as redis-cli reads it */
        ok = decode(s, len, u->password, sizeof u->password);
    }
    if (!ok)
        return kvs_fail(err, KVS_ERR_INVALID,
                        "redis URL '%s': bad user or password (a '%%' escape is malformed, "
                        "or it is too long)", shown);
    if (u->user[0] && !u->password[0])
        return kvs_fail(err, KVS_ERR_INVALID, "redis URL '%s': user '%s' has no password",
                        shown, u->user);
    return KVS_OK;
}

/* host[:port] from s[0..len). */
static kvs_status parse_hostport(const char *s, size_t len, kvs_redis_url *u, const char *shown,
                                 kvs_error *err)
{
    const char *host = s;
    size_t host_len;
    const char *after;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return kvs_fail(err, KVS_ERR_INVALID, "redis URL '%s': missing ']' after IPv6 host",
                            shown);
        host = s + 1;
        host_len = (size_t)(close - host);
        after = close + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        after = s + host_len;
    }
    if (host_len == 0)
        return kvs_fail(err, KVS_ERR_INVALID, "redis URL '%s': no host", shown);
    if (host_len >= sizeof u->host)
        return kvs_fail(err, KVS_ERR_INVALID, "redis URL '%s': host name too long", shown);
    memcpy(u->host, host, host_len);
    u->host[host_len] = '\0';

    size_t rest = len - (size_t)(after - s);
    u->port = KVS_REDIS_DEFAULT_PORT;
    if (rest == 0)
        return KVS_OK;
    const char *digits = after[0] == ':' ? after + 1 : after;
    size_t n_digits = rest - (size_t)(digits - after);
    long port;
    if (after[0] != ':' || !parse_uint(digits, n_digits, 65535, &port) || port == 0)
        return kvs_fail(err, KVS_ERR_INVALID, "redis URL '%s': bad port '%.*s' (expected 1-65535)",
                        shown, (int)n_digits, digits);
    u->port = (int)port;
    return KVS_OK;
}

kvs_status kvs_redis_url_parse(const char *url, kvs_redis_url *out, kvs_error *err)
{
    memset(out, 0, sizeof *out);
    if (!url)
        return kvs_fail(err, KVS_ERR_INVALID, "redis URL: none given");
    char shown[KVS_URL_MAX + 8];
    redact(url, shown, sizeof shown);
    if (strlen(url) >= KVS_URL_MAX)
        return kvs_fail(err, KVS_ERR_INVALID, "redis URL '%.64s...': longer than %d bytes", shown,
                        KVS_URL_MAX - 1);

    const char *p;
    if (!strncmp(url, "redis://", 8)) {
        p = url + 8;
    } else if (!strncmp(url, "rediss://", 9)) {
        return kvs_fail(err, KVS_ERR_UNSUPPORTED,
                        "redis URL '%s': TLS (rediss://) is not available in this build: the "
                        "hiredis it links (0.14) has no SSL support; use redis:// on a trusted "
                        "network or a TLS tunnel", shown);
    } else {
        return kvs_fail(err, KVS_ERR_INVALID, "redis URL '%s': expected redis://host:port[/db]",
                        shown);
    }

    const char *at = strrchr(p, '@');
    if (at) {
        kvs_status s = parse_userinfo(p, (size_t)(at - p), out, shown, err);
        if (s != KVS_OK)
            return s;
        p = at + 1;
    }

    /* host[:port] ends at '/' — but a ':' or '/' inside brackets belongs to the host */
    const char *end = p;
    if (*end == '[')
        end += strcspn(end, "]");
    end += strcspn(end, "/");
    kvs_status s = parse_hostport(p, (size_t)(end - p), out, shown, err);
    if (s != KVS_OK)
        return s;

    if (*end == '/' && end[1] != '\0') {
        long db;
        if (!parse_uint(end + 1, strlen(end + 1), INT_MAX, &db))
            return kvs_fail(err, KVS_ERR_INVALID,
                            "redis URL '%s': bad database '%s' (expected a number)", shown,
                            end + 1);
        out->db = (uint32_t)db;
    }

    bool v6 = strchr(out->host, ':') != NULL;
    int n = snprintf(out->display, sizeof out->display, "redis://%s%s%s:%d", v6 ? "[" : "",
                     out->host, v6 ? "]" : "", out->port);
    if (out->db != 0)
        snprintf(out->display + n, sizeof out->display - (size_t)n, "/%u", out->db);
    return KVS_OK;
}
