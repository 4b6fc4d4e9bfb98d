/* Hexadecimal digits, as chunk keys (key.c) and percent-escapes in URLs (redis_url.c)
 * read them. */
#ifndef KVSPILL_CACHE_HEX_H
#define KVSPILL_CACHE_HEX_H

/* The value 0-15 of a hex digit of either case; -1 for any other character. */
int kvs_hex_digit_value(char c);

#endif
