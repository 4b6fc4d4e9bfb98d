/* OpenAI-shaped errors: {"error": {"message", "type", "param", "code"}} with an HTTP status.
 * Every failure a client can cause ends up as one of these. */
#ifndef KVSPILL_SERVER_API_ERROR_H
#define KVSPILL_SERVER_API_ERROR_H

#include <stddef.h>

typedef struct api_error {
    unsigned status;   /* HTTP status: 400, 401, 404, 413, 500, 503 */
    char type[40];     /* "invalid_request_error", "server_error", ... */
    char param[64];    /* the offending field ("" → null) */
    char code[40];     /* "model_not_found", "invalid_api_key", ... ("" → null) */
    char message[512];
} api_error;

/* Fills err and returns -1, so parsers can `return api_fail(...)`. */
int api_fail(api_error *err, unsigned status, const char *param, const char *code,
             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The error's JSON body (malloc'd, NUL-terminated) or NULL when out of memory. */
char *api_error_json(const api_error *err, size_t *len);

#endif
