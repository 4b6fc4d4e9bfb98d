/* A small HTTP/1.1 client for the router's upstream requests: one request per connection
 * (Connection: close), a connect timeout, a first-byte timeout, and a body read as it
 * arrives, whatever its framing (Content-Length, chunked, or until close). */
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

#endif
