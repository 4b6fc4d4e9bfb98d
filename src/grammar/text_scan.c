/* Characters of grammar and pattern sources (text_scan.h). */
#include "grammar/text_scan.h"

int text_utf8_char(const char *p, size_t avail, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)p;
    if (avail == 0)
        return 0;
    unsigned c = u[0];
    int len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
            : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || (size_t)len > avail)
        return 0;
    uint32_t v = len == 1 ? c : c & (0x3F >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (u[i] & 0x3F);
    }
    int shortest = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
    if (shortest != len || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return 0;
    *cp = v;
    return len;
}

int text_hex(const char *p, size_t avail, int n, uint32_t *v)
{
    uint32_t r = 0;
    for (int i = 0; i < n; i++) {
        char c = (size_t)i < avail ? p[i] : 0;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        r = r << 4 | (uint32_t)d;
    }
    *v = r;
    return 0;
}
