/* OpenAI-shaped error bodies. */
#include "server/api_error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *type_for(unsigned status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 413: return "invalid_request_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

int api_fail(api_error *err, unsigned status, const char *param, const char *code,
             const char *fmt, ...)
{
    if (!err)
        return -1;
    err->status = status;
    snprintf(err->type, sizeof err->type, "%s", type_for(status));
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    snprintf(err->code, sizeof err->code, "%s", code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static json_t *str_or_null(const char *s)
{
    /* json_string rejects invalid UTF-8 (a message may quote client bytes); fall back to
     * a lossy copy of the ASCII part rather than dropping the field. */
    if (!*s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    char ascii[512];
    size_t n = 0;
    for (; *s && n + 1 < sizeof ascii; s++)
        ascii[n++] = (unsigned char)*s < 0x80 ? *s : '?';
    ascii[n] = 0;
    return json_string(ascii);
}

char *api_error_json(const api_error *err, size_t *len)
{
    json_t *root = json_pack("{s:{s:o, s:s, s:o, s:o}}", "error", "message",
                             str_or_null(err->message), "type", err->type, "param",
                             str_or_null(err->param), "code", str_or_null(err->code));
    if (!root)
        return NULL;
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (s && len)
        *len = strlen(s);
    return s;
}
