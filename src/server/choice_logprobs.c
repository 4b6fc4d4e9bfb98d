/* Pieces for logprobs: a token is shown as its bytes (a part of a UTF-8 character stays a
 * part; oai_text shows it as U+FFFD), control tokens as nothing, as in the streamed text. */
#include "server/choice_logprobs.h"

#include "server/openai_response.h"

int choice_logprobs_add(json_t *lp, oai_kind kind, const tokenizer *tk, int32_t token,
                        float logprob, const engine_alt *top, uint32_t k, size_t text_offset,
                        size_t *chars)
{
    tok_bytes pieces[1 + ENGINE_MAX_TOP_LOGPROBS] = {{0}};
    oai_token_lp alts[ENGINE_MAX_TOP_LOGPROBS];
    size_t n_alts = 0;
    if (k > ENGINE_MAX_TOP_LOGPROBS)
        k = ENGINE_MAX_TOP_LOGPROBS;
    int rc = tokenizer_append_piece(tk, token, false, &pieces[0]);
    for (; rc == 0 && n_alts < k && top[n_alts].token >= 0; n_alts++)
        rc = tokenizer_append_piece(tk, top[n_alts].token, false, &pieces[1 + n_alts]);
    for (size_t j = 0; j < n_alts; j++)
        alts[j] = (oai_token_lp){pieces[1 + j].p ? pieces[1 + j].p : "", pieces[1 + j].n,
                                 top[j].logprob};
    oai_token_lp t = {pieces[0].p ? pieces[0].p : "", pieces[0].n, logprob};
    *chars = oai_text_chars(t.piece, t.len);
    if (rc == 0)
        rc = oai_logprobs_add(lp, kind, &t, alts, n_alts, text_offset);
    for (size_t j = 0; j <= n_alts; j++) /* the one that failed included */
        tok_bytes_free(&pieces[j]);
    return rc ? -1 : 0;
}

int choice_logprobs_first(json_t *lp, const tokenizer *tk, int32_t token, size_t *chars)
{
    tok_bytes piece = {0};
    int rc = tokenizer_append_piece(tk, token, false, &piece) ||
             oai_logprobs_add_first(lp, piece.p ? piece.p : "", piece.n);
    *chars = oai_text_chars(piece.p ? piece.p : "", piece.n);
    tok_bytes_free(&piece);
    return rc ? -1 : 0;
}
