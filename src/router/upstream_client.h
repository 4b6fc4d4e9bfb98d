/* A small HTTP/1.1 client for the router's upstream requests: a connect timeout, a
 * first-byte timeout, and a body read as it arrives, whatever its framing (Content-Length,
 * chunked, or until close). upstream_open makes one request on a connection of its own
 * (Connection: close); upstream_connect and upstream_send let a connection carry one
 * request after another (keep-alive), which upstream_pool.h builds on. */
#ifndef KVSPILL_ROUTER_UPSTREAM_CLIENT_H
#define KVSPILL_ROUTER_UPSTREAM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model_error.h"

/* Where a failed request stopped: the router retries only before the first byte. */
typedef enum upstream_stage {
    UPSTREAM_CONNECT,    /* refused, unreachable or timed out connecting */
    UPSTREAM_FIRST_BYTE, /* connected, but the answer never started */
    UPSTREAM_HEADERS,    /* the answer started but its head was malformed or cut */
} upstream_stage;

typedef struct upstream_request {
    const char *method;
    const char *path;
    const char *authorization; /* sent as is, or NULL */
    const char *body;          /* NULL for none */
    size_t body_len;
    int connect_timeout_ms;
    int first_byte_timeout_ms;
} upstream_request;

typedef struct upstream_conn upstream_conn;

/* Connects, sends the request and reads the response head. On failure *stage says where. */
int upstream_open(const char *host, uint16_t port, const upstream_request *rq,
                  upstream_conn **out, upstream_stage *stage, model_error *err) MODEL_MUST_CHECK;
/* Connects within timeout_ms, sending nothing yet. */
int upstream_connect(const char *host, uint16_t port, int timeout_ms, upstream_conn **out,
                     model_error *err) MODEL_MUST_CHECK;
/* Sends rq on c (new, or reusable after its last answer) and reads the response head;
 * keep_alive asks the upstream to keep c open afterwards, else Connection: close. On
 * failure c is still the caller's to close; *stage is UPSTREAM_FIRST_BYTE or
 * UPSTREAM_HEADERS. */
int upstream_send(upstream_conn *c, const char *host, uint16_t port, const upstream_request *rq,
                  bool keep_alive, upstream_stage *stage, model_error *err) MODEL_MUST_CHECK;
/* After a failed upstream_send: the peer had closed or reset c before the first byte of
 * the answer (on a reused connection, the peer's idle close racing the request). */
bool upstream_peer_closed(const upstream_conn *c);
/* c may carry another request: it was sent keep-alive, its answer was read to the end of
 * its length or its chunked terminator, and the upstream did not say it would close. */
bool upstream_reusable(const upstream_conn *c);
/* An idle connection the peer has not closed: nothing to read on it, no error. */
bool upstream_idle_open(const upstream_conn *c);
unsigned upstream_status(const upstream_conn *c);
/* The response's Content-Type, or "" when it had none. */
const char *upstream_content_type(const upstream_conn *c);
/* Reads up to max body bytes, waiting at most timeout_ms for some: their count, 0 at the
 * end of the body, -1 on an error, a timeout or a body cut short. */
ssize_t upstream_read(upstream_conn *c, char *buf, size_t max, int timeout_ms,
                      model_error *err) MODEL_MUST_CHECK;
/* The whole body (NUL-terminated, malloc'd), up to max_len bytes. */
int upstream_read_all(upstream_conn *c, size_t max_len, int timeout_ms, char **body,
                      size_t *len, model_error *err) MODEL_MUST_CHECK;
void upstream_close(upstream_conn *c);
/* The client's clock: monotonic milliseconds. */
int64_t upstream_now_ms(void);

#endif
