/* GET / (the chat page), /dashboard and /web/<file>: the files of src/server/web/, compiled
 * in (web_assets.h). They are revalidated on every load (no-cache with an ETag), so a new
 * binary's page is never mixed with an old one's script. */
#include <string.h>

#include "server/web.h"
#include "server/web_assets.h"

/* The page loads only its own files and talks only to its own server. */
#define WEB_CSP                                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "     \
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

bool web_serve(const http_request *req, http_response *resp)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return false;
    for (const web_asset *a = web_assets; a->path; a++) {
        if (strcmp(req->path, a->path) != 0)
            continue;
        const char *inm = http_request_header(req, "If-None-Match");
        bool fresh = inm && strstr(inm, a->etag);
        resp->status = fresh ? 304 : 200;
        resp->content_type = a->content_type;
        resp->body = fresh ? NULL : (char *)a->data;
        resp->body_len = fresh ? 0 : a->len;
        resp->static_body = true;
        resp->cache_control = "no-cache";
        resp->etag = a->etag;
        resp->content_security_policy = WEB_CSP;
        return true;
    }
    return false;
}
