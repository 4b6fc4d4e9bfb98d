/* The arena of a parse or a render, and the bounded byte buffer built on it. */
#include <stdlib.h>
#include <string.h>

#include "template/jinja_internal.h"

struct jarena_block {
    jarena_block *next;
    size_t size, used;
    max_align_t data[];
};

#define JA_BLOCK 65536

void ja_init(jarena *a, size_t budget)
{
    a->head = NULL;
    a->used = 0;
    a->budget = budget;
    a->exhausted = false;
}

void ja_release(jarena *a)
{
    jarena_block *b = a->head;
    while (b) {
        jarena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *ja_alloc(jarena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (n == 0)
        n = sizeof(max_align_t);
    jarena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        size_t size = n > JA_BLOCK / 2 ? n : JA_BLOCK;
        if (size > a->budget || a->used > a->budget - size) {
            a->exhausted = true;
            return NULL;
        }
        jarena_block *nb = malloc(sizeof *nb + size);
        if (!nb)
            return NULL;
        nb->size = size;
        nb->used = 0;
        a->used += size;
        if (b && size != JA_BLOCK && b->size - b->used >= JA_BLOCK / 4) {
            /* a large allocation: keep filling the current block afterwards */
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return nb->data;
        }
        nb->next = b;
        a->head = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

char *ja_strndup(jarena *a, const char *s, size_t n)
{
    char *p = ja_alloc(a, n + 1);
    if (p) {
        if (n)
            memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

void jb_init(jbuf *b, jarena *a, size_t limit)
{
    b->a = a;
    b->p = NULL;
    b->n = b->cap = 0;
    b->limit = limit;
}

bool jb_over(const jbuf *b) { return b->n > b->limit || b->a->exhausted; }

int jb_put(jbuf *b, const char *s, size_t n)
{
    if (n > b->limit || b->n > b->limit - n) {
        b->n = b->limit + 1; /* marks the overflow for jb_over */
        return -1;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = ja_alloc(b->a, cap);
        if (!p)
            return -1;
        if (b->n)
            memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int jb_puts(jbuf *b, const char *s) { return jb_put(b, s, strlen(s)); }
