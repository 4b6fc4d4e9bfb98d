/* UTF-8 and the whitespace of Python's str.isspace(), which strip(), split() and the
 * lexer's whitespace control follow. */
#include "template/jinja_internal.h"

size_t utf8_char_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        return 2;
    if ((c & 0xF0) == 0xE0)
        return 3;
    if ((c & 0xF8) == 0xF0)
        return 4;
    return 1; /* a stray continuation byte counts as one character */
}

static uint32_t decode_at(const char *s, size_t n, size_t i, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s + i;
    size_t l = utf8_char_len(u[0]);
    if (l > n - i)
        l = 1;
    *len = l;
    if (l == 1)
        return u[0];
    uint32_t cp = u[0] & (0x7F >> l);
    for (size_t k = 1; k < l; k++)
        cp = cp << 6 | (u[k] & 0x3F);
    return cp;
}

bool py_isspace_at(const char *s, size_t n, size_t i, size_t *len)
{
    uint32_t cp = decode_at(s, n, i, len);
    switch (cp) {
    case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

size_t utf8_len(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_char_len((unsigned char)s[i]);
        i += l > n - i ? n - i : l;
        cps++;
    }
    return cps;
}

size_t utf8_offset(const char *s, size_t n, size_t cp)
{
    size_t i = 0;
    while (i < n && cp > 0) {
        size_t l = utf8_char_len((unsigned char)s[i]);
        i += l > n - i ? n - i : l;
        cp--;
    }
    return i;
}
