#include "model/unicode.h"

#include <utf8proc.h>

uint32_t utf8_decode(const char *s, size_t len, size_t *adv)
{
    const uint8_t *p = (const uint8_t *)s;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, (utf8proc_ssize_t)(len < 4 ? len : 4), &cp);
    if (n <= 0 || cp < 0) {
        *adv = 1;
        return UNICODE_REPLACEMENT;
    }
    *adv = (size_t)n;
    return (uint32_t)cp;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
    return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

unsigned unicode_class(uint32_t cp)
{
    /* White_Space = the Z categories plus the controls TAB..CR and NEL (which Unicode
     * lists as White_Space although their category is Cc). */
    if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85)
        return UCLASS_SPACE;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LT:
        return UCLASS_LETTER | UCLASS_UPPER;
    case UTF8PROC_CATEGORY_LL:
        return UCLASS_LETTER | UCLASS_LOWER;
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return UCLASS_LETTER;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        return UCLASS_MARK;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return UCLASS_NUMBER;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return UCLASS_PUNCT;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
        return UCLASS_SPACE;
    default:
        return 0;
    }
}
