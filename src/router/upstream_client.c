/* The upstream HTTP/1.1 client over a blocking-with-poll socket. */
#include "router/upstream_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "router/chunked.h"

enum { HEAD_MAX = 16384, BUF_SIZE = 16384 };

struct upstream_conn {
    int fd;
    unsigned status;
    char content_type[128];
    bool chunked, has_length, eof;
    bool keep_alive;  /* the request asked to keep the connection open */
    bool close_after; /* the answer says it will not: HTTP/1.0 or Connection: close */
    bool peer_closed; /* the request failed on a connection the peer had closed or reset */
    uint64_t length_left;
    chunked_decoder dec;
    char buf[BUF_SIZE]; /* received bytes not yet handed out */
    size_t pos, len;
};

int64_t upstream_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (ms, monotonic): 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - upstream_now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        return rc;
    }
}

static int connect_to(const char *host, uint16_t port, int timeout_ms, int *out,
                      model_error *err)
{
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, ps, &hints, &ai);
    if (gai)
        return model_fail(err, "upstream %s:%u: cannot resolve: %s", host, port,
                          gai_strerror(gai));
    int64_t deadline = upstream_now_ms() + timeout_ms;
    int last = ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (w <= 0)
                soerr = w == 0 ? ETIMEDOUT : errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                soerr = errno;
            rc = soerr ? -1 : 0;
            errno = soerr;
        }
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(ai);
            *out = fd;
            return 0;
        }
        last = errno;
        close(fd);
    }
    freeaddrinfo(ai);
    return model_fail(err, "upstream %s:%u: cannot connect: %s", host, port, strerror(last));
}

static bool reset_by_peer(int e)
{
    return e == EPIPE || e == ECONNRESET;
}

static int send_all(upstream_conn *c, const char *p, size_t n, int64_t deadline,
                    model_error *err)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(c->fd, POLLOUT, deadline) <= 0)
                return model_fail(err, "timed out sending the request");
            continue;
        }
        if (w < 0) {
            c->peer_closed = reset_by_peer(errno);
            return model_fail(err, "cannot send the request: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Receives more bytes into c->buf until deadline: >0 count, 0 closed, -1 error/timeout. */
static ssize_t recv_more(upstream_conn *c, int64_t deadline, model_error *err)
{
    if (c->pos == c->len)
        c->pos = c->len = 0;
    if (c->len == sizeof c->buf)
        return model_fail(err, "receive buffer full");
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (r >= 0) {
            c->len += (size_t)r;
            return r;
        }
        if (errno != EAGAIN && errno != EINTR) {
            c->peer_closed = c->len == 0 && reset_by_peer(errno);
            return model_fail(err, "connection broken: %s", strerror(errno));
        }
        int w = wait_fd(c->fd, POLLIN, deadline);
        if (w == 0)
            return model_fail(err, "no answer in time");
        if (w < 0)
            return model_fail(err, "poll: %s", strerror(errno));
    }
}

/* Parses the status line and the headers the body's framing depends on. */
static int parse_head(upstream_conn *c, char *head, model_error *err)
{
    char *save = NULL, *line = strtok_r(head, "\r\n", &save);
    unsigned st = 0;
    char minor[2] = "";
    if (!line || sscanf(line, "HTTP/1.%1[01] %3u", minor, &st) != 2 || st < 100 || st > 599)
        return model_fail(err, "malformed status line");
    c->status = st;
    c->close_after = minor[0] == '0';
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon)
            return model_fail(err, "malformed header line");
        *colon = 0;
        char *v = colon + 1;
        v += strspn(v, " \t");
        if (!strcasecmp(line, "Content-Length")) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (end == v || errno || *v == '-')
                return model_fail(err, "malformed Content-Length '%s'", v);
            c->has_length = true;
            c->length_left = n;
        } else if (!strcasecmp(line, "Transfer-Encoding") && strcasestr(v, "chunked")) {
            c->chunked = true;
        } else if (!strcasecmp(line, "Content-Type")) {
            snprintf(c->content_type, sizeof c->content_type, "%s", v);
        } else if (!strcasecmp(line, "Connection") && strcasestr(v, "close")) {
            c->close_after = true;
        }
    }
    if (c->chunked) {
        c->has_length = false;
        chunked_init(&c->dec);
    }
    if (c->status == 204 || c->status == 304 || (c->has_length && !c->length_left))
        c->eof = true;
    return 0;
}

static int read_head(upstream_conn *c, int first_byte_ms, upstream_stage *stage,
                     model_error *err)
{
    int64_t deadline = upstream_now_ms() + first_byte_ms;
    for (;;) {
        ssize_t r = recv_more(c, deadline, err);
        if (r < 0 || (r == 0 && c->len == 0)) {
            if (r == 0) {
                c->peer_closed = true;
                model_fail(err, "closed before answering");
            }
            *stage = c->len ? UPSTREAM_HEADERS : UPSTREAM_FIRST_BYTE;
            return -1;
        }
        *stage = UPSTREAM_HEADERS;
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end) {
            size_t hl = (size_t)(end - c->buf) + 4;
            char head[HEAD_MAX + 1];
            memcpy(head, c->buf, hl);
            head[hl] = 0;
            c->pos = hl;
            return parse_head(c, head, err);
        }
        if (r == 0)
            return model_fail(err, "closed in the middle of the response head");
        if (c->len >= HEAD_MAX)
            return model_fail(err, "response head longer than %d bytes", HEAD_MAX);
    }
}

int upstream_connect(const char *host, uint16_t port, int timeout_ms, upstream_conn **out,
                     model_error *err)
{
    upstream_conn *c = calloc(1, sizeof *c);
    if (!c)
        return model_fail(err, "upstream %s:%u: out of memory", host, port);
    if (connect_to(host, port, timeout_ms, &c->fd, err)) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int upstream_send(upstream_conn *c, const char *host, uint16_t port, const upstream_request *rq,
                  bool keep_alive, upstream_stage *stage, model_error *err)
{
    *stage = UPSTREAM_FIRST_BYTE;
    /* what the last answer on this connection left, when it is reused */
    c->status = 0;
    c->content_type[0] = 0;
    c->chunked = c->has_length = c->eof = c->close_after = c->peer_closed = false;
    c->length_left = 0;
    c->pos = c->len = 0;
    c->keep_alive = keep_alive;
    char head[1024 + 4096];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%u\r\n%s"
                      "Accept: */*\r\n%s%s%s",
                      rq->method, rq->path, host, port,
                      keep_alive ? "" : "Connection: close\r\n",
                      rq->authorization ? "Authorization: " : "",
                      rq->authorization ? rq->authorization : "",
                      rq->authorization ? "\r\n" : "");
    if (hn < 0 || (size_t)hn >= sizeof head - 128)
        return model_fail(err, "upstream %s:%u: request head too long", host, port);
    hn += snprintf(head + hn, sizeof head - (size_t)hn, "%s",
                   rq->body ? "Content-Type: application/json\r\n" : "");
    hn += snprintf(head + hn, sizeof head - (size_t)hn, "Content-Length: %zu\r\n\r\n",
                   rq->body ? rq->body_len : 0);
    int64_t deadline = upstream_now_ms() + rq->first_byte_timeout_ms;
    model_error e;
    if (send_all(c, head, (size_t)hn, deadline, &e) ||
        (rq->body && send_all(c, rq->body, rq->body_len, deadline, &e)) ||
        read_head(c, rq->first_byte_timeout_ms, stage, &e))
        return model_fail(err, "upstream %s:%u %s %s: %s", host, port, rq->method, rq->path,
                          e.msg);
    return 0;
}

int upstream_open(const char *host, uint16_t port, const upstream_request *rq,
                  upstream_conn **out, upstream_stage *stage, model_error *err)
{
    *stage = UPSTREAM_CONNECT;
    upstream_conn *c;
    if (upstream_connect(host, port, rq->connect_timeout_ms, &c, err))
        return -1;
    if (upstream_send(c, host, port, rq, false, stage, err)) {
        upstream_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

bool upstream_peer_closed(const upstream_conn *c)
{
    return c->peer_closed;
}

bool upstream_reusable(const upstream_conn *c)
{
    /* read to the end of its framing, nothing more sent, and not about to be closed */
    return c->keep_alive && !c->close_after && c->eof && (c->chunked || c->has_length) &&
           c->pos == c->len;
}

bool upstream_idle_open(const upstream_conn *c)
{
    /* an idle connection has nothing to read: EOF, bytes or an error mean it is done */
    char byte;
    ssize_t r = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

unsigned upstream_status(const upstream_conn *c)
{
    return c->status;
}

const char *upstream_content_type(const upstream_conn *c)
{
    return c->content_type;
}

ssize_t upstream_read(upstream_conn *c, char *buf, size_t max, int timeout_ms,
                      model_error *err)
{
    int64_t deadline = upstream_now_ms() + timeout_ms;
    while (!c->eof) {
        if (c->pos < c->len) {
            size_t avail = c->len - c->pos, n = 0;
            if (c->chunked) {
                size_t used;
                if (chunked_decode(&c->dec, c->buf + c->pos, avail, buf, max, &used, &n))
                    return model_fail(err, "malformed chunked body");
                c->pos += used;
                c->eof = chunked_done(&c->dec);
            } else {
                n = avail < max ? avail : max;
                if (c->has_length && n > c->length_left)
                    n = (size_t)c->length_left;
                memcpy(buf, c->buf + c->pos, n);
                c->pos += n;
                if (c->has_length) {
                    c->length_left -= n;
                    c->eof = !c->length_left;
                }
            }
            if (n)
                return (ssize_t)n;
            if (c->eof)
                break;
        }
        ssize_t r = recv_more(c, deadline, err);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (c->chunked || c->has_length)
                return model_fail(err, "connection closed before the end of the body");
            c->eof = true;
        }
    }
    return 0;
}

int upstream_read_all(upstream_conn *c, size_t max_len, int timeout_ms, char **body,
                      size_t *len, model_error *err)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    if (!b)
        return model_fail(err, "out of memory reading a response");
    for (;;) {
        if (cap - n < 2048) {
            char *nb = cap * 2 > max_len + 1 ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return model_fail(err, "response body larger than %zu bytes", max_len);
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = upstream_read(c, b + n, cap - n - 1, timeout_ms, err);
        if (r < 0) {
            free(b);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    b[n] = 0;
    *body = b;
    *len = n;
    return 0;
}

void upstream_close(upstream_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c);
}
