/* Bearer-token authentication (--api-key / VLLM_API_KEY). */
#ifndef KVSPILL_SERVER_AUTH_H
#define KVSPILL_SERVER_AUTH_H

#include <stdbool.h>

/* True when authorization is "Bearer <api_key>". The comparison takes the same time
 * wherever the first difference is, so the key cannot be guessed byte by byte. */
bool auth_bearer_ok(const char *api_key, const char *authorization);

#endif
