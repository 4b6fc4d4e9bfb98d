/* Chunked transfer-encoding: size line (hex, optional extensions), CRLF, data, CRLF; a
 * zero size ends the body, followed by trailer lines and an empty line. */
#include "router/chunked.h"

#include <ctype.h>
#include <string.h>

enum { ST_SIZE, ST_EXT, ST_SIZE_LF, ST_DATA, ST_DATA_CR, ST_DATA_LF, ST_TRAILER,
       ST_TRAILER_LINE, ST_TRAILER_LF, ST_DONE };

void chunked_init(chunked_decoder *d)
{
    *d = (chunked_decoder){.state = ST_SIZE};
}

bool chunked_done(const chunked_decoder *d)
{
    return d->state == ST_DONE;
}

/* The size line ended: data follows, or the trailer after a zero size. */
static int size_end(chunked_decoder *d)
{
    if (!d->digits)
        return -1;
    d->state = d->remaining ? ST_DATA : ST_TRAILER;
    return 0;
}

int chunked_decode(chunked_decoder *d, const char *in, size_t in_len, char *out,
                   size_t out_max, size_t *used, size_t *produced)
{
    size_t i = 0, o = 0;
    while (i < in_len && d->state != ST_DONE) {
        char c = in[i];
        switch (d->state) {
        case ST_SIZE: {
            if (isxdigit((unsigned char)c)) {
                uint64_t v = (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
                if (d->digits >= 15) /* a size past 2^60 is not a real chunk */
                    return -1;
                d->remaining = d->remaining * 16 + v;
                d->digits++;
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = ST_EXT;
            } else if (c == '\r') {
                d->state = ST_SIZE_LF;
            } else if (c == '\n') {
                if (size_end(d))
                    return -1;
            } else {
                return -1;
            }
            i++;
            break;
        }
        case ST_EXT:
            if (c == '\r')
                d->state = ST_SIZE_LF;
            else if (c == '\n' && size_end(d))
                return -1;
            i++;
            break;
        case ST_SIZE_LF:
            if (c != '\n' || size_end(d))
                return -1;
            i++;
            break;
        case ST_DATA: {
            size_t n = in_len - i;
            if (n > d->remaining)
                n = (size_t)d->remaining;
            if (n > out_max - o)
                n = out_max - o;
            if (!n) { /* out is full */
                *used = i;
                *produced = o;
                return 0;
            }
            memcpy(out + o, in + i, n);
            i += n;
            o += n;
            d->remaining -= n;
            if (!d->remaining)
                d->state = ST_DATA_CR;
            break;
        }
        case ST_DATA_CR:
            if (c == '\r')
                d->state = ST_DATA_LF;
            else if (c == '\n')
                *d = (chunked_decoder){.state = ST_SIZE};
            else
                return -1;
            i++;
            break;
        case ST_DATA_LF:
            if (c != '\n')
                return -1;
            *d = (chunked_decoder){.state = ST_SIZE};
            i++;
            break;
        case ST_TRAILER: /* at a line start: an empty line ends the message */
            d->state = c == '\r' ? ST_TRAILER_LF : c == '\n' ? ST_DONE : ST_TRAILER_LINE;
            i++;
            break;
        case ST_TRAILER_LINE:
            if (c == '\n')
                d->state = ST_TRAILER;
            i++;
            break;
        case ST_TRAILER_LF:
            if (c != '\n')
                return -1;
            d->state = ST_DONE;
            i++;
            break;
        }
    }
    *used = i;
    *produced = o;
    return 0;
}
