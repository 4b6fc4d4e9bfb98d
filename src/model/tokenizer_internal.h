/* The tokenizer's representation, shared by tokenizer.c (loading, special tokens,
 * decoding) and the two encoders (tokenizer_spm.c, tokenizer_bpe.c). */
#ifndef KVSPILL_MODEL_TOKENIZER_INTERNAL_H
#define KVSPILL_MODEL_TOKENIZER_INTERNAL_H

#include "model/strmap.h"
#include "model/tokenizer.h"
#include "model/tokenizer_pretok.h"

#define TOKENIZER_MAX_EOG 16

struct tokenizer {
    tokenizer_kind kind;
    pretok_kind pre;
    char pre_name[64];
    uint32_t n_vocab;
    char *arena;          /* all token texts */
    uint64_t *text_off;
    uint32_t *text_len;
    float *scores;        /* SPM merge priorities */
    uint8_t *types;       /* token_type */
    uint8_t *strip;       /* TOKEN_STRIP_* of each token; NULL: no token strips */
    strmap *vocab;        /* text -> id */
    strmap *merges;       /* BPE: "left right" -> rank */
    int32_t byte_token[256]; /* SPM: <0xXX>; BPE: the byte's GPT-2 character; -1 none */
    int32_t bos, eos, unk, eot, eom;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    bool clean_spaces;    /* detokenize removes the spaces of " ," " 's" ...
                           * (clean_up_tokenization_spaces) */
    int32_t *specials;    /* matched in text, longest first */
    size_t n_specials;
    int32_t eog[TOKENIZER_MAX_EOG];
    size_t n_eog;
};

/* White space a special token swallows when matched in text (llama.cpp's LSTRIP/RSTRIP
 * token attributes, Hugging Face's added-token lstrip/rstrip): the white space before it
 * (LEFT) or after it (RIGHT) is not encoded. */
enum { TOKEN_STRIP_LEFT = 1, TOKEN_STRIP_RIGHT = 2 };

static inline const char *tk_text(const tokenizer *tk, int32_t id) { return tk->arena + tk->text_off[id]; }

/* Encode one raw-text fragment (no special tokens inside). SPM expects the text already
 * prefixed and with spaces escaped to U+2581. */
int spm_encode(const tokenizer *tk, const char *text, size_t len, token_ids *out);
int bpe_encode(const tokenizer *tk, const char *text, size_t len, token_ids *out);

/* GPT-2's reversible byte <-> printable code point mapping. */
uint32_t bpe_byte_to_cp(uint8_t b);
int bpe_cp_to_byte(uint32_t cp); /* -1 when cp is not in the mapping */

#endif
