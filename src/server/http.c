/* libmicrohttpd glue: body accumulation, response creation, streaming via the content
 * reader callback (blocking is allowed: each connection has its own thread). */
#include "server/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *d;
    http_handler_fn handler;
    void *user;
    size_t max_body;
    bool quiesced;
};

typedef struct conn_state {
    char *body;
    size_t len, cap;
    bool too_large;
    bool answered;   /* a response is queued; the rest of the body is ignored */
} conn_state;

typedef struct stream_wrap {
    http_stream_fn fn;
    void *ctx;
    void (*free_fn)(void *ctx);
} stream_wrap;

bool http_peer_gone(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

const char *http_request_header(const http_request *req, const char *name)
{
    return req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name) : NULL;
}

static int body_append(conn_state *cs, const char *data, size_t n, size_t max)
{
    if (cs->too_large || cs->len + n > max) {
        cs->too_large = true; /* the rest is read and dropped; the answer is 413 */
        return 0;
    }
    if (cs->len + n + 1 > cs->cap) {
        size_t cap = cs->cap ? cs->cap : 4096;
        while (cap < cs->len + n + 1)
            cap *= 2;
        char *b = realloc(cs->body, cap);
        if (!b)
            return -1;
        cs->body = b;
        cs->cap = cap;
    }
    memcpy(cs->body + cs->len, data, n);
    cs->len += n;
    cs->body[cs->len] = 0;
    return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_wrap *w = cls;
    ssize_t n = w->fn(w->ctx, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void stream_free(void *cls)
{
    stream_wrap *w = cls;
    if (w->free_fn)
        w->free_fn(w->ctx);
    free(w);
}

static struct MHD_Response *make_response(http_response *r)
{
    struct MHD_Response *resp;
    if (r->stream) {
        stream_wrap *w = malloc(sizeof *w);
        if (!w) {
            if (r->stream_free)
                r->stream_free(r->stream_ctx);
            return NULL;
        }
        *w = (stream_wrap){r->stream, r->stream_ctx, r->stream_free};
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, w,
                                                 stream_free);
        if (!resp)
            stream_free(w);
        else
            MHD_add_response_header(resp, "Cache-Control", "no-cache");
    } else {
        resp = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (char *)"",
                                               r->body && !r->static_body
                                                   ? MHD_RESPMEM_MUST_FREE
                                                   : MHD_RESPMEM_PERSISTENT);
        if (!resp && !r->static_body)
            free(r->body);
    }
    if (resp && r->content_type)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    if (resp && r->cache_control)
        MHD_add_response_header(resp, "Cache-Control", r->cache_control);
    if (resp && r->etag)
        MHD_add_response_header(resp, "ETag", r->etag);
    if (resp && r->content_security_policy) {
        MHD_add_response_header(resp, "Content-Security-Policy", r->content_security_policy);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    return resp;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server *s = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs)
            return MHD_NO;
        *con_cls = cs;
        /* A declared length over the cap is answered (413) before any of the body is read,
         * and the connection is closed; an undeclared one (chunked) is read and dropped. */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        errno = 0;
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (!cl || (declared <= s->max_body && !errno))
            return MHD_YES;
        cs->too_large = true;
    } else if (cs->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    } else if (*upload_data_size) {
        int rc = body_append(cs, upload_data, *upload_data_size, s->max_body);
        *upload_data_size = 0;
        return rc ? MHD_NO : MHD_YES;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    http_request req = {
        .method = method,
        .path = url,
        .body = cs->body ? cs->body : "",
        .body_len = cs->len,
        .body_too_large = cs->too_large,
        .authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
        .fd = ci ? ci->connect_fd : -1,
        .conn = conn,
    };
    http_response r = {.status = 500};
    s->handler(s->user, &req, &r);
    struct MHD_Response *resp = make_response(&r);
    if (!resp)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    cs->answered = true;
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    conn_state *cs = *con_cls;
    if (cs) {
        free(cs->body);
        free(cs);
        *con_cls = NULL;
    }
}

int http_server_start(const http_options *o, http_handler_fn handler, void *user,
                      http_server **out, model_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", o->port);
    int gai = getaddrinfo(o->host, port, &hints, &ai);
    if (gai)
        return model_fail(err, "cannot resolve --host %s: %s", o->host, gai_strerror(gai));
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        return model_fail(err, "out of memory starting the HTTP server");
    }
    s->handler = handler;
    s->user = user;
    s->max_body = o->max_body;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ITC | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_ip,
                            MHD_OPTION_CONNECTION_TIMEOUT, o->connection_timeout_s,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        free(s);
        return model_fail(err, "cannot listen on %s:%u (address in use, or not allowed)",
                          o->host, o->port);
    }
    *out = s;
    return 0;
}

void http_server_quiesce(http_server *s)
{
    if (s->quiesced)
        return;
    s->quiesced = true;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void http_server_stop(http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
