/* Decoder of HTTP/1.1 chunked transfer-encoding: a state machine fed any split of the
 * bytes, so the upstream client can hand it whatever recv() returned. */
#ifndef KVSPILL_ROUTER_CHUNKED_H
#define KVSPILL_ROUTER_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chunked_decoder {
    int state;
    uint64_t remaining; /* data bytes left in the current chunk */
    unsigned digits;    /* hex digits read of the current size line */
} chunked_decoder;

void chunked_init(chunked_decoder *d);
/* Decodes from in[0, in_len) into out[0, out_max): *used input bytes consumed, *produced
 * body bytes written. Returns 0, or -1 when the framing is malformed. */
int chunked_decode(chunked_decoder *d, const char *in, size_t in_len, char *out,
                   size_t out_max, size_t *used, size_t *produced);
/* True once the last chunk and the trailer have been read. */
bool chunked_done(const chunked_decoder *d);

#endif
