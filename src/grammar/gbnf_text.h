/* Writing GBNF text: a growing buffer, quoted literals and character classes. The
 * compilers (JSON Schema, regex, choices) write GBNF that grammar_parse then reads. */
#ifndef KVSPILL_GRAMMAR_GBNF_TEXT_H
#define KVSPILL_GRAMMAR_GBNF_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct gbnf_buf {
    char *p;
    size_t n, cap;
    int oom;          /* an append failed: the text is incomplete */
} gbnf_buf;

void gbnf_printf(gbnf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A GBNF string literal matching exactly the bytes s[0..n). */
void gbnf_literal(gbnf_buf *b, const char *s, size_t n);
/* A character written for use inside a GBNF literal or class. */
void gbnf_char(gbnf_buf *b, uint32_t c);
void gbnf_buf_free(gbnf_buf *b);

#endif
