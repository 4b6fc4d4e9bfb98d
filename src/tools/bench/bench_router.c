/* kvspill bench router: what the router adds to a request. A trivial upstream (this
 * process's own HTTP server answering /v1/completions with a fixed body, or a stream of
 * small SSE events) is asked in four rounds, by one client (the added latency itself), by
 * --concurrency client threads (the rate, and latency under load), then both again; in each
 * round first directly, then through `kvspill router` in front of it (also in this
 * process). It prints latency p50/p99 of whole answers, of the first event of streams and
 * of whole streams, and requests per second. The router's overhead is its p50 less the
 * direct p50 of the same round; the first-event latency through the router shows whether it
 * buffers. The clients open a connection per request, directly and to the router alike;
 * the router keeps --upstream-pool idle keep-alive connections to the upstream (0: a new
 * one per request, the router before its pool). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "router/router.h"
#include "router/upstream_client.h"
#include "server/http.h"
#include "tools/bench/bench.h"
#include "tools/bench/bench_util.h"

enum { PHASES = 4 };

static const char whole_body[] =
    "{\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,"
    "\"text\":\"hello\",\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":1,"
    "\"completion_tokens\":1,\"total_tokens\":2}}";
static const char event[] = "data: {\"choices\":[{\"index\":0,\"text\":\"x\"}]}\n\n";
static const char done_event[] = "data: [DONE]\n\n";

typedef struct upstream_stream {
    unsigned left, events;
} upstream_stream;

static unsigned stream_events = 16;

static ssize_t stream_next(void *ctx, char *buf, size_t max)
{
    upstream_stream *s = ctx;
    const char *e = s->left ? event : s->events ? done_event : NULL;
    if (!e)
        return 0;
    size_t n = strlen(e);
    if (n > max)
        return -1;
    memcpy(buf, e, n);
    if (s->left)
        s->left--;
    else
        s->events = 0;
    return (ssize_t)n;
}

static void upstream_handle(void *user, const http_request *req, http_response *resp)
{
    (void)user;
    if (!strcmp(req->path, "/health")) {
        resp->status = 200;
        return;
    }
    if (strstr(req->body ? req->body : "", "\"stream\":true")) {
        upstream_stream *s = malloc(sizeof *s);
        if (!s) {
            resp->status = 500;
            return;
        }
        *s = (upstream_stream){stream_events, 1};
        resp->status = 200;
        resp->content_type = "text/event-stream";
        resp->stream = stream_next;
        resp->stream_ctx = s;
        resp->stream_free = free;
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    resp->body = strdup(whole_body);
    resp->body_len = resp->body ? strlen(whole_body) : 0;
    if (!resp->body)
        resp->status = 500;
}

typedef struct phase {
    uint16_t port;
    bool stream;
    unsigned requests;
    atomic_uint next, failed;
    double *first, *total; /* per request, seconds */
} phase;

static void *client_main(void *arg)
{
    phase *ph = arg;
    const char *body = ph->stream ? "{\"prompt\":\"a\",\"max_tokens\":16,\"stream\":true}"
                                  : "{\"prompt\":\"a\",\"max_tokens\":1}";
    upstream_request rq = {.method = "POST", .path = "/v1/completions", .body = body,
                           .body_len = strlen(body), .connect_timeout_ms = 5000,
                           .first_byte_timeout_ms = 5000};
    char buf[4096];
    unsigned i;
    while ((i = atomic_fetch_add(&ph->next, 1)) < ph->requests) {
        double t0 = bench_now_s();
        upstream_conn *c;
        upstream_stage stage;
        model_error err;
        if (upstream_open("127.0.0.1", ph->port, &rq, &c, &stage, &err)) {
            atomic_fetch_add(&ph->failed, 1);
            ph->first[i] = ph->total[i] = -1;
            continue;
        }
        ssize_t n;
        double first = -1;
        size_t got = 0;
        while ((n = upstream_read(c, buf, sizeof buf, 5000, &err)) > 0) {
            if (first < 0)
                first = bench_now_s() - t0;
            got += (size_t)n;
        }
        bool ok = n == 0 && upstream_status(c) == 200 && got > 0;
        upstream_close(c);
        if (!ok)
            atomic_fetch_add(&ph->failed, 1);
        ph->first[i] = ok ? first : -1;
        ph->total[i] = ok ? bench_now_s() - t0 : -1;
    }
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p50 and p99 of the successful values, in ms. */
static void percentiles(double *v, unsigned n, double *p50, double *p99)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        if (v[i] >= 0)
            v[k++] = v[i];
    qsort(v, k, sizeof *v, by_value);
    *p50 = k ? 1e3 * v[k / 2] : 0;
    *p99 = k ? 1e3 * v[(unsigned)((k - 1) * 0.99)] : 0;
}

typedef struct result {
    double whole_p50, whole_p99, first_p50, first_p99, stream_p50, stream_p99;
    double whole_rps, stream_rps;
    unsigned failed;
} result;

static int run_phase(uint16_t port, bool stream, unsigned requests, unsigned conc, double *rps,
                     double *first, double *total, unsigned *failed)
{
    phase ph = {.port = port, .stream = stream, .requests = requests, .first = first,
                .total = total};
    pthread_t *t = calloc(conc, sizeof *t);
    if (!t)
        return -1;
    double t0 = bench_now_s();
    unsigned started = 0;
    for (; started < conc; started++)
        if (pthread_create(&t[started], NULL, client_main, &ph))
            break;
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    *rps = requests / (bench_now_s() - t0);
    *failed += atomic_load(&ph.failed);
    free(t);
    return started ? 0 : -1;
}

static int measure(uint16_t port, unsigned requests, unsigned conc, result *r)
{
    double *first = malloc(requests * sizeof *first), *total = malloc(requests * sizeof *total);
    int rc = first && total ? 0 : -1;
    memset(r, 0, sizeof *r);
    if (rc == 0)
        rc = run_phase(port, false, requests, conc, &r->whole_rps, first, total, &r->failed);
    if (rc == 0) {
        percentiles(total, requests, &r->whole_p50, &r->whole_p99);
        rc = run_phase(port, true, requests, conc, &r->stream_rps, first, total, &r->failed);
    }
    if (rc == 0) {
        percentiles(first, requests, &r->first_p50, &r->first_p99);
        percentiles(total, requests, &r->stream_p50, &r->stream_p99);
    }
    free(first);
    free(total);
    return rc;
}

static int free_port(uint16_t *out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int rc = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                     getsockname(fd, (struct sockaddr *)&a, &len) == 0
                 ? 0
                 : -1;
    if (fd >= 0)
        close(fd);
    *out = ntohs(a.sin_port);
    return rc;
}

static void print_row(const char *name, const result *r)
{
    printf("| %s | %.3f | %.3f | %.0f | %.3f | %.3f | %.3f | %.3f | %.0f | %u |\n", name,
           r->whole_p50, r->whole_p99, r->whole_rps, r->first_p50, r->first_p99, r->stream_p50,
           r->stream_p99, r->stream_rps, r->failed);
}

int bench_router(int argc, char **argv)
{
    unsigned requests = 20000, conc = 64, pool = 64;
    static const struct option opts[] = {
        {"requests", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"stream-events", required_argument, NULL, 'e'},
        {"upstream-pool", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end;
        unsigned long v = c == 'h' ? 0 : strtoul(optarg ? optarg : "", &end, 10);
        bool bad = c != 'h' && (end == optarg || *end || (v == 0 && c != 'p') || v > 1000000);
        if (c == 'h' || c == '?' || bad) {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: kvspill %s [--requests N] [--concurrency C] [--stream-events E]\n"
                    "         [--upstream-pool N]\n"
                    "defaults: 20000 requests per case, 64 concurrent clients, 16 events per "
                    "stream, the router's\n64 idle upstream connections (0: a new one per "
                    "request)\n", argv[0]);
            return c == 'h' ? 0 : 2;
        }
        if (c == 'n')
            requests = (unsigned)v;
        else if (c == 'c')
            conc = (unsigned)v;
        else if (c == 'p')
            pool = (unsigned)v;
        else
            stream_events = (unsigned)v;
    }
    signal(SIGPIPE, SIG_IGN);
    uint16_t up_port, router_port;
    model_error err;
    http_server *up;
    if (free_port(&up_port) || free_port(&router_port)) {
        fprintf(stderr, "kvspill %s: no free loopback port: %s\n", argv[0], strerror(errno));
        return 1;
    }
    http_options ho = {.host = "127.0.0.1", .port = up_port, .max_body = 1 << 20,
                       .max_connections = 4096};
    if (http_server_start(&ho, upstream_handle, NULL, &up, &err)) {
        fprintf(stderr, "kvspill %s: upstream: %s\n", argv[0], err.msg);
        return 1;
    }
    char backends[64];
    snprintf(backends, sizeof backends, "http://127.0.0.1:%u", up_port);
    router_config rc = {.host = "127.0.0.1", .port = router_port, .backends = backends,
                        .logic = ROUTER_ROUNDROBIN, .prefix_block_chars = 256,
                        .prefix_blocks = 4, .max_load_ratio = 1.5,
                        .kvaware_timeout_ms = 200, .connect_timeout_ms = 2000,
                        .first_byte_timeout_ms = 60000, .health_interval_ms = 1000,
                        .upstream_pool = pool, .upstream_idle_ms = 55000,
                        .dns_interval_ms = 2000};
    router *r;
    if (router_start(&rc, &r, &err)) {
        fprintf(stderr, "kvspill %s: router: %s\n", argv[0], err.msg);
        http_server_stop(up);
        return 1;
    }
    unsigned few = requests / 10 ? requests / 10 : 1;
    printf("%u requests per case (%u with one client), %u events per stream, upstream pool %u; "
           "latency in ms\n", requests, few, stream_events, pool);
    printf("| case | whole p50 | whole p99 | whole req/s | first event p50 | first event p99 | "
           "stream p50 | stream p99 | streams/s | failed |\n|---|---|---|---|---|---|---|---|---|---|\n");
    /* rounds: 1 client, C clients, 1 client, C clients; direct then router in each */
    result direct[4], routed[4];
    unsigned failed = 0;
    int bad = 0;
    for (int round = 0; round < 4 && !bad; round++) {
        unsigned cc = round % 2 ? conc : 1, n = round % 2 ? requests : few;
        bad = measure(up_port, n, cc, &direct[round]) || measure(router_port, n, cc, &routed[round]);
        if (bad)
            break;
        char name[64];
        snprintf(name, sizeof name, "direct, %u client%s", cc, cc > 1 ? "s" : "");
        print_row(name, &direct[round]);
        snprintf(name, sizeof name, "router, %u client%s", cc, cc > 1 ? "s" : "");
        print_row(name, &routed[round]);
        failed += direct[round].failed + routed[round].failed;
    }
    for (int round = 0; round < 4 && !bad; round++)
        printf("%u client%s: router overhead p50 whole %+.3f ms, first event %+.3f ms, stream "
               "%+.3f ms; request rate %.2f of direct (whole), %.2f (streams)\n",
               round % 2 ? conc : 1, round % 2 ? "s" : "",
               routed[round].whole_p50 - direct[round].whole_p50,
               routed[round].first_p50 - direct[round].first_p50,
               routed[round].stream_p50 - direct[round].stream_p50,
               routed[round].whole_rps / direct[round].whole_rps,
               routed[round].stream_rps / direct[round].stream_rps);
    router_stop(r);
    http_server_stop(up);
    if (bad) {
        fprintf(stderr, "kvspill %s: could not start the client threads\n", argv[0]);
        return 1;
    }
    return failed ? 1 : 0;
}
