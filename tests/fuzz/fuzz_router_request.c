/* Fuzzes what the router makes of the bytes it is handed. The first byte picks the path:
 * even, a client's request body, parsed as router_proxy does and turned into the prompt
 * text prefix-aware routing hashes (as a chat and as a completion); odd, an upstream's
 * chunked response body, decoded in one call with room to spare and again fed in pieces
 * (sizes and output room taken from the second byte), which must give the same bytes and
 * the same verdict: the decoder promises that any split of the input decodes alike.
 * Nothing may crash; a refused prompt must say why. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router/chunked.h"
#include "router/router_hash.h"
#include "router/router_prompt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_prompt(const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    for (int chat = 0; chat < 2; chat++) {
        char *text = NULL;
        size_t n = 0;
        model_error err = {0};
        if (router_prompt_text(root, chat, &text, &n, &err) == 0) {
            if (!text || text[n] != '\0')
                __builtin_trap();
            (void)router_prefix_hash(text, n, 64, 4);
            (void)router_prefix_hash(text, n, 1, 1000);
            free(text);
        } else if (!err.msg[0] || text) {
            __builtin_trap();
        }
    }
    json_decref(root);
}

/* Decodes in[0, len) fed piece bytes at a time into out with room bytes per call; returns
 * -1 on malformed framing, else the bytes produced; *done: the message ended. */
static long decode(const char *in, size_t len, size_t piece, size_t room, char *out,
                   size_t out_cap, int *done, size_t *consumed)
{
    chunked_decoder d;
    chunked_init(&d);
    size_t at = 0, o = 0;
    while (at < len && !chunked_done(&d)) {
        size_t feed = len - at < piece ? len - at : piece;
        size_t give = out_cap - o < room ? out_cap - o : room;
        size_t used = 0, produced = 0;
        if (chunked_decode(&d, in + at, feed, out + o, give, &used, &produced))
            return -1;
        if (used > feed || produced > give)
            __builtin_trap();
        if (!used && !produced && !chunked_done(&d)) /* no progress: only when out is full */
            if (give)
                __builtin_trap();
        at += used;
        o += produced;
        if (o == out_cap && !used)
            break;
    }
    *done = chunked_done(&d);
    *consumed = at;
    return (long)o;
}

static void fuzz_chunked(const char *in, size_t len, uint8_t shape)
{
    char *whole = malloc(len + 1), *pieces = malloc(len + 1);
    if (!whole || !pieces)
        goto out;
    int done1, done2;
    size_t used1, used2;
    long n1 = decode(in, len, len ? len : 1, len + 1, whole, len + 1, &done1, &used1);
    long n2 = decode(in, len, 1 + shape % 7, 1 + shape / 16, pieces, len + 1, &done2, &used2);
    if (n1 > (long)len)
        __builtin_trap(); /* the body is never longer than its framing */
    if ((n1 < 0) != (n2 < 0))
        __builtin_trap();
    if (n1 >= 0 && (n1 != n2 || memcmp(whole, pieces, (size_t)n1) || done1 != done2 ||
                    used1 != used2))
        __builtin_trap();
out:
    free(whole);
    free(pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const char *rest = (const char *)data + 2;
    if (data[0] % 2 == 0)
        fuzz_prompt(rest, size - 2);
    else
        fuzz_chunked(rest, size - 2, data[1]);
    return 0;
}
