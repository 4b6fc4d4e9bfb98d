/* The web page's files (src/server/web/), compiled in as byte arrays by web/embed.cmake. */
#ifndef KVSPILL_SERVER_WEB_ASSETS_H
#define KVSPILL_SERVER_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path;          /* the URL path it is served at */
    const char *content_type;
    const char *etag;          /* quoted, from the file's SHA-1 */
    const unsigned char *data;
    size_t len;
} web_asset;

/* Ends with an entry whose path is NULL. */
extern const web_asset web_assets[];

#endif
