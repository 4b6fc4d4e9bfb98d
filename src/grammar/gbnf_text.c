/* GBNF text output. */
#include "grammar/gbnf_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void gbnf_printf(gbnf_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->n + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (n >= 0 && cap < b->n + (size_t)n + 1)
            cap *= 2;
        char *p = n < 0 ? NULL : realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void gbnf_char(gbnf_buf *b, uint32_t c)
{
    if (c >= 0x80)
        gbnf_printf(b, c > 0xFFFF ? "\\U%08X" : "\\u%04X", c);
    else if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || c == '[' || c == ']' ||
             c == '-' || c == '^')
        gbnf_printf(b, "\\x%02X", c);
    else
        gbnf_printf(b, "%c", (char)c);
}

void gbnf_literal(gbnf_buf *b, const char *s, size_t n)
{
    gbnf_printf(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Bytes of multi-byte characters pass through: the parser reads UTF-8. */
        if (c >= 0x80)
            gbnf_printf(b, "%c", (char)c);
        else
            gbnf_char(b, c);
    }
    gbnf_printf(b, "\"");
}

void gbnf_buf_free(gbnf_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
