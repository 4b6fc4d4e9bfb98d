/* Byte-level BPE encoding: the pre-tokenizer splits the text into words; each word's bytes
 * become GPT-2's printable characters, which merge by rank (the order of
 * tokenizer.ggml.merges). */
#include <stdlib.h>
#include <string.h>

#include "model/symbol_merge.h"
#include "model/tokenizer_internal.h"
#include "model/unicode.h"

/* Bytes that are printable Latin-1 keep their code point; the other 68 map, in byte
 * order, to U+0100 upwards. */
static bool byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t bpe_byte_to_cp(uint8_t b)
{
    if (byte_is_printable(b))
        return b;
    uint32_t k = 0;
    for (unsigned x = 0; x < b; x++)
        k += !byte_is_printable(x);
    return 0x100 + k;
}

int bpe_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return byte_is_printable(cp) ? (int)cp : -1;
    uint32_t k = 0;
    for (unsigned x = 0; x < 256; x++)
        if (!byte_is_printable(x) && 0x100 + k++ == cp)
            return (int)x;
    return -1;
}

static bool bpe_key(const void *ctx, const char *text, size_t off, size_t n_left, size_t n_right,
                    double *key)
{
    const tokenizer *tk = ctx;
    char stack[128];
    size_t len = n_left + 1 + n_right;
    char *pair = len <= sizeof stack ? stack : malloc(len);
    if (!pair)
        return false;
    memcpy(pair, text + off, n_left);
    pair[n_left] = ' ';
    memcpy(pair + n_left + 1, text + off + n_left, n_right);
    int32_t rank = strmap_get(tk->merges, pair, len);
    if (pair != stack)
        free(pair);
    if (rank < 0)
        return false;
    *key = -(double)rank;
    return true;
}

static int encode_word(const tokenizer *tk, const char *w, size_t len, token_ids *out)
{
    if (tk->ignore_merges) {
        int32_t id = strmap_get(tk->vocab, w, len);
        if (id >= 0)
            return token_ids_push(out, id);
    }
    symbol *syms;
    size_t n;
    if (symbols_from_text(w, len, &syms, &n))
        return -1;
    int rc = symbols_merge(w, syms, n, bpe_key, tk);
    for (int32_t i = n ? 0 : -1; rc == 0 && i >= 0; i = syms[i].next) {
        int32_t id = strmap_get(tk->vocab, w + syms[i].off, syms[i].n);
        if (id >= 0) {
            rc = token_ids_push(out, id);
            continue;
        }
        /* Not a token: each byte of the character on its own, where the vocabulary has it
         * (llama.cpp's fallback; byte-level vocabularies rarely get here). */
        for (size_t b = 0; b < syms[i].n && rc == 0; b++) {
            id = strmap_get(tk->vocab, w + syms[i].off + b, 1);
            if (id >= 0)
                rc = token_ids_push(out, id);
        }
    }
    free(syms);
    return rc;
}

int bpe_encode(const tokenizer *tk, const char *text, size_t len, token_ids *out)
{
    pretok_piece *pieces;
    size_t n;
    if (pretok_split(tk->pre, text, len, &pieces, &n))
        return -1;
    int rc = 0;
    char *word = malloc(len * 2 + 4); /* each byte becomes a character of 1 or 2 bytes */
    if (!word)
        rc = -1;
    for (size_t p = 0; p < n && rc == 0; p++) {
        size_t wl = 0;
        for (size_t b = 0; b < pieces[p].len; b++)
            wl += utf8_encode(bpe_byte_to_cp((uint8_t)text[pieces[p].off + b]), word + wl);
        rc = encode_word(tk, word, wl, out);
    }
    free(word);
    free(pieces);
    return rc;
}
