/* A small HTTP/1.1 server over libmicrohttpd: one thread per connection, request bodies
 * accumulated up to a size cap, whole or streamed (chunked) responses. It knows nothing of
 * the API: one handler gets every request. */
#ifndef KVSPILL_SERVER_HTTP_H
#define KVSPILL_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model_error.h"

typedef struct http_request {
    const char *method;
    const char *path;            /* without the query string */
    const char *body;            /* NUL-terminated; body_len bytes */
    size_t body_len;
    bool body_too_large;         /* the body passed the cap and was dropped */
    const char *authorization;   /* the Authorization header or NULL */
    int fd;                      /* the client's socket, to notice it going away; -1 unknown */
    void *conn;                  /* the connection, for http_request_header */
} http_request;

/* The value of the request header named name (case-insensitive), or NULL. */
const char *http_request_header(const http_request *req, const char *name);

/* Streamed body: writes up to max bytes into buf and returns their count, blocking until
 * some are ready; 0 ends the stream, -1 aborts the connection. */
typedef ssize_t (*http_stream_fn)(void *ctx, char *buf, size_t max);

typedef struct http_response {
    unsigned status;
    const char *content_type;
    char *body;                  /* malloc'd; the server frees it */
    size_t body_len;
    http_stream_fn stream;       /* set instead of body for a streamed response */
    void *stream_ctx;
    void (*stream_free)(void *ctx); /* called once the connection is done with the stream */
    bool static_body;            /* body points at constant memory the server must not free */
    const char *cache_control;   /* header values, NULL: none */
    const char *etag;
    const char *content_security_policy;
} http_response;

/* Fills resp; must set at least the status. Runs on the connection's thread. */
typedef void (*http_handler_fn)(void *user, const http_request *req, http_response *resp);

typedef struct http_server http_server;

typedef struct http_options {
    const char *host;            /* IPv4 or IPv6 literal, or a name */
    uint16_t port;
    size_t max_body;             /* a longer body is dropped and flagged body_too_large */
    unsigned max_connections;    /* open connections in all; more are refused */
    unsigned max_connections_per_ip; /* open connections from one address; 0: no limit */
    unsigned connection_timeout_s;   /* a connection idle this long is closed; 0: never */
} http_options;

int http_server_start(const http_options *o, http_handler_fn handler, void *user,
                      http_server **out, model_error *err) MODEL_MUST_CHECK;
/* Stops accepting new connections; open ones go on. */
void http_server_quiesce(http_server *s);
/* Closes every connection, waits for their threads, frees. */
void http_server_stop(http_server *s);

/* True when the peer of fd has closed or reset its side. */
bool http_peer_gone(int fd);

#endif
