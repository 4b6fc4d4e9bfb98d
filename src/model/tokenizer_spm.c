/* SentencePiece-style encoding: characters merge pairwise, the pair whose merged text is
 * the highest-scoring vocabulary token first; what remains unknown falls back to <0xXX>
 * byte tokens. */
#include <stdlib.h>

#include "model/symbol_merge.h"
#include "model/tokenizer_internal.h"

static bool spm_key(const void *ctx, const char *text, size_t off, size_t n_left, size_t n_right,
                    double *key)
{
    const tokenizer *tk = ctx;
    int32_t id = strmap_get(tk->vocab, text + off, n_left + n_right);
    if (id < 0)
        return false;
    *key = tk->scores[id];
    return true;
}

int spm_encode(const tokenizer *tk, const char *text, size_t len, token_ids *out)
{
    symbol *syms;
    size_t n;
    if (symbols_from_text(text, len, &syms, &n))
        return -1;
    int rc = symbols_merge(text, syms, n, spm_key, tk);
    /* Merged symbols are vocabulary tokens by construction; a single character may not
     * be, and then its bytes are emitted. */
    for (int32_t i = n ? 0 : -1; rc == 0 && i >= 0; i = syms[i].next) {
        int32_t id = strmap_get(tk->vocab, text + syms[i].off, syms[i].n);
        if (id >= 0) {
            rc = token_ids_push(out, id);
            continue;
        }
        for (size_t b = 0; b < syms[i].n && rc == 0; b++) {
            int32_t bt = tk->byte_token[(uint8_t)text[syms[i].off + b]];
            rc = token_ids_push(out, bt >= 0 ? bt : tk->unk);
        }
    }
    free(syms);
    return rc;
}
