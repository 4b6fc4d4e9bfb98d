/* Incremental detokenization for streaming: generated token ids in, text out in pieces that
 * never split a UTF-8 character, with stop strings found in the text and cut off. While a
 * stream runs, text that could be the start of a stop string is held back until it is
 * known not to be one, so a client never sees a stop string or a prefix of it. */
#ifndef KVSPILL_SERVER_DETOK_H
#define KVSPILL_SERVER_DETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/tokenizer.h"

typedef struct detok {
    const tokenizer *tk;
    char *const *stops;   /* borrowed */
    size_t n_stops;
    tok_bytes raw;        /* piece bytes not yet forming whole characters */
    tok_bytes text;       /* valid UTF-8 text so far (NUL-terminated) */
    size_t emitted;       /* bytes of text handed out by detok_take */
    size_t searched;      /* text before this has been searched for stop strings */
    bool stopped;         /* a stop string was found; text ends before it */
    bool finished;
    int32_t shown_control;  /* a control token written as its text (Mistral's [TOOL_CALLS],
                             * which its tool parser reads), -1 for none */
} detok;

void detok_init(detok *d, const tokenizer *tk, char *const *stops, size_t n_stops);
void detok_free(detok *d);

/* Adds a generated token's text. Sets d->stopped when a stop string now appears (further
 * pushes are ignored). -1 when out of memory. */
int detok_push(detok *d, int32_t token);
/* No more tokens: an incomplete UTF-8 tail becomes U+FFFD and held-back text is released. */
int detok_finish(detok *d);

/* The text that may be sent now and was not sent before (borrowed until the next call);
 * marks it as sent. */
const char *detok_take(detok *d, size_t *len);
/* All text so far (NUL-terminated, borrowed). */
const char *detok_text(const detok *d, size_t *len);

#endif
