/* The web page (endpoint_web.c): the chat page at /, the dashboard at /dashboard and their
 * files at /web/..., served without authentication by `serve` and `router` alike (the page
 * asks for the API key and sends it with its API calls). */
#ifndef KVSPILL_SERVER_WEB_H
#define KVSPILL_SERVER_WEB_H

#include <stdbool.h>

#include "server/http.h"

/* Fills resp for a GET or HEAD of one of the page's paths; false for any other request. */
bool web_serve(const http_request *req, http_response *resp);

#endif
