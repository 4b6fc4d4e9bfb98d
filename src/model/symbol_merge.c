#include "model/symbol_merge.h"

#include <stdlib.h>

#include "model/unicode.h"

typedef struct bigram {
    int32_t left, right;
    double key;
    size_t size; /* bytes of left + right when pushed: a later mismatch means stale */
} bigram;

typedef struct heap {
    bigram *v;
    size_t n, cap;
} heap;

static bool before(const bigram *a, const bigram *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

static int heap_push(heap *h, bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && before(&b, &h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = b;
    return 0;
}

static bigram heap_pop(heap *h)
{
    bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

int symbols_from_text(const char *text, size_t len, symbol **syms, size_t *n)
{
    *n = 0;
    *syms = malloc((len ? len : 1) * sizeof **syms);
    if (!*syms)
        return -1;
    for (size_t off = 0; off < len;) {
        size_t cl;
        utf8_decode(text + off, len - off, &cl);
        (*syms)[*n] = (symbol){(int32_t)*n - 1, (int32_t)*n + 1, off, cl};
        (*n)++;
        off += cl;
    }
    if (*n)
        (*syms)[*n - 1].next = -1;
    return 0;
}

static int try_pair(heap *h, const char *text, const symbol *syms, int32_t l, int32_t r,
                    merge_key_fn key_of, const void *ctx)
{
    if (l < 0 || r < 0)
        return 0;
    double key;
    if (!key_of(ctx, text, syms[l].off, syms[l].n, syms[r].n, &key))
        return 0;
    return heap_push(h, (bigram){l, r, key, syms[l].n + syms[r].n});
}

int symbols_merge(const char *text, symbol *syms, size_t n, merge_key_fn key_of, const void *ctx)
{
    heap h = {0};
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++)
        rc = try_pair(&h, text, syms, (int32_t)i - 1, (int32_t)i, key_of, ctx);
    while (rc == 0 && h.n > 0) {
        bigram b = heap_pop(&h);
        symbol *l = &syms[b.left], *r = &syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            syms[r->next].prev = b.left;
        rc = try_pair(&h, text, syms, l->prev, b.left, key_of, ctx);
        if (rc == 0)
            rc = try_pair(&h, text, syms, b.left, l->next, key_of, ctx);
    }
    free(h.v);
    return rc;
}
