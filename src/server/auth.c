/* Constant-time Bearer key check. */
#include "server/auth.h"

#include <string.h>
#include <strings.h>

bool auth_bearer_ok(const char *api_key, const char *authorization)
{
    static const char scheme[] = "Bearer ";
    if (!authorization || strncasecmp(authorization, scheme, sizeof scheme - 1) != 0)
        return false;
    const char *given = authorization + sizeof scheme - 1;
    size_t a = strlen(api_key), b = strlen(given), n = a > b ? a : b;
    /* Walk the longer length; the length difference is folded into the result. */
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < a ? (unsigned char)api_key[i] : 0;
        unsigned char y = i < b ? (unsigned char)given[i] : 0;
        diff |= x ^ y;
    }
    return diff == 0;
}
