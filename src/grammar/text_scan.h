/* Reading the characters of grammar and pattern sources: one UTF-8 character, one run of
 * hexadecimal digits. Shared by the GBNF parser and the regex compiler. */
#ifndef KVSPILL_GRAMMAR_TEXT_SCAN_H
#define KVSPILL_GRAMMAR_TEXT_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* The length of the well-formed UTF-8 character at p (avail bytes there) with its code
 * point in *cp; 0 when malformed, overlong, a surrogate or cut short. */
int text_utf8_char(const char *p, size_t avail, uint32_t *cp);
/* The value of n hexadecimal digits at p (avail bytes there) in *v; -1 when one is not. */
int text_hex(const char *p, size_t avail, int n, uint32_t *v);

#endif
