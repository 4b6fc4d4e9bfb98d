/* UTF-8 decoding/encoding and the Unicode character classes the tokenizers' pre-tokenizer
 * regexes use (\p{L}, \p{N}, \p{P}, \s, and for tekken
 * \p{Lu}/\p{Lt}, \p{Ll} and \p{M}), from utf8proc's category data. */
#ifndef KVSPILL_MODEL_UNICODE_H
#define KVSPILL_MODEL_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#define UNICODE_REPLACEMENT 0xFFFDu

/* Decodes one code point from s[0..len) (len >= 1). Invalid, overlong, surrogate or
 * truncated sequences decode as U+FFFD consuming one byte, so every byte is covered. */
uint32_t utf8_decode(const char *s, size_t len, size_t *adv);
/* Encodes cp (<= 0x10FFFF) into out; returns the byte count (1..4). */
size_t utf8_encode(uint32_t cp, char out[4]);

enum {
    UCLASS_LETTER = 1u << 0,  /* \p{L}: Lu Ll Lt Lm Lo */
    UCLASS_NUMBER = 1u << 1,  /* \p{N}: Nd Nl No */
    UCLASS_PUNCT = 1u << 2,   /* \p{P}: Pc Pd Ps Pe Pi Pf Po */
    UCLASS_SPACE = 1u << 3,   /* \s: the White_Space property */
    /* Finer letter classes for regexes that name categories (tekken), set with LETTER */
    UCLASS_UPPER = 1u << 4,   /* Lu Lt */
    UCLASS_LOWER = 1u << 5,   /* Ll */
    UCLASS_MARK = 1u << 6,    /* \p{M}: Mn Mc Me (not a letter) */
};
unsigned unicode_class(uint32_t cp);

#endif
