/* Incremental detokenization with UTF-8 and stop-string holdback. */
#include "server/detok.h"

#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

void detok_init(detok *d, const tokenizer *tk, char *const *stops, size_t n_stops)
{
    memset(d, 0, sizeof *d);
    d->tk = tk;
    d->stops = stops;
    d->n_stops = n_stops;
    d->shown_control = -1;
}

void detok_free(detok *d)
{
    tok_bytes_free(&d->raw);
    tok_bytes_free(&d->text);
}

/* Length of the well-formed UTF-8 character at p (n bytes available): its length, 0 when
 * the bytes so far could still become one, -1 when they never can. */
static int utf8_char(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return 0;
        unsigned b = p[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return -1;
    }
    return len;
}

static int text_append(detok *d, const void *p, size_t n)
{
    /* Keep text NUL-terminated for detok_text. */
    if (tok_bytes_append(&d->text, p, n) || tok_bytes_append(&d->text, "", 1))
        return -1;
    d->text.n--;
    return 0;
}

/* Moves whole characters from raw to text; at the end, also the incomplete tail. */
static int drain_raw(detok *d, bool final)
{
    const unsigned char *p = (const unsigned char *)d->raw.p;
    size_t i = 0, n = d->raw.n;
    while (i < n) {
        int len = utf8_char(p + i, n - i);
        if (len == 0 && !final)
            break;
        if (len <= 0) {
            if (text_append(d, replacement, 3))
                return -1;
            i += len == 0 ? n - i : 1;
            continue;
        }
        if (text_append(d, p + i, (size_t)len))
            return -1;
        i += (size_t)len;
    }
    if (i < n) /* (raw.p is NULL before a token with bytes arrives) */
        memmove(d->raw.p, d->raw.p + i, n - i);
    d->raw.n = n - i;
    return 0;
}

/* Cuts text at the earliest stop string starting at or after the last search point. */
static void find_stop(detok *d)
{
    size_t best = SIZE_MAX;
    for (size_t s = 0; s < d->n_stops; s++) {
        size_t sl = strlen(d->stops[s]);
        /* A match may begin before `searched` when it ends in the new text. */
        size_t from = d->searched >= sl - 1 ? d->searched - (sl - 1) : 0;
        const char *hit = memmem(d->text.p + from, d->text.n - from, d->stops[s], sl);
        if (hit && (size_t)(hit - d->text.p) < best)
            best = (size_t)(hit - d->text.p);
    }
    if (best != SIZE_MAX) {
        d->text.n = best;
        d->text.p[best] = 0;
        d->stopped = true;
    }
    d->searched = d->text.n;
}

int detok_push(detok *d, int32_t token)
{
    if (d->stopped || d->finished)
        return 0;
    if (tokenizer_append_piece(d->tk, token, token == d->shown_control, &d->raw) ||
        drain_raw(d, false))
        return -1;
    if (d->n_stops && d->text.n)
        find_stop(d);
    return 0;
}

int detok_finish(detok *d)
{
    if (d->finished)
        return 0;
    d->finished = true;
    if (d->stopped)
        return 0;
    if (drain_raw(d, true))
        return -1;
    if (d->n_stops && d->text.n)
        find_stop(d);
    return 0;
}

/* Bytes at the end of text that are a proper prefix of some stop string. */
static size_t holdback(const detok *d)
{
    size_t keep = 0;
    for (size_t s = 0; s < d->n_stops; s++) {
        size_t sl = strlen(d->stops[s]);
        for (size_t k = sl - 1; k > keep; k--) {
            if (k <= d->text.n && !memcmp(d->text.p + d->text.n - k, d->stops[s], k)) {
                keep = k;
                break;
            }
        }
    }
    return keep;
}

const char *detok_take(detok *d, size_t *len)
{
    size_t end = d->text.n;
    if (!d->finished && !d->stopped)
        end -= holdback(d);
    const char *p = d->text.p ? d->text.p + d->emitted : "";
    *len = end > d->emitted ? end - d->emitted : 0;
    if (end > d->emitted)
        d->emitted = end;
    return p;
}

const char *detok_text(const detok *d, size_t *len)
{
    *len = d->text.n;
    return d->text.p ? d->text.p : "";
}
