/* Tokenizers of GGUF models: SentencePiece-style ("llama": score-ordered merges, byte
 * fallback) and byte-level BPE ("gpt2": ranked merges after a pre-tokenizer), loaded from
 * the tokenizer.ggml.* metadata with llama.cpp's defaults for absent keys. */
#ifndef KVSPILL_MODEL_TOKENIZER_H
#define KVSPILL_MODEL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"
#include "model/model_error.h"

typedef enum tokenizer_kind { TOKENIZER_SPM, TOKENIZER_BPE } tokenizer_kind;

/* tokenizer.ggml.token_type values */
typedef enum token_type {
    TOKEN_NORMAL = 1,
    TOKEN_UNKNOWN = 2,
    TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4,
    TOKEN_UNUSED = 5,
    TOKEN_BYTE = 6,
} token_type;

/* A growable list of token ids. */
typedef struct token_ids {
    int32_t *ids;
    size_t n, cap;
} token_ids;
int token_ids_push(token_ids *v, int32_t id);
void token_ids_free(token_ids *v);

/* A growable byte string (detokenized text; not NUL-terminated unless noted). */
typedef struct tok_bytes {
    char *p;
    size_t n, cap;
} tok_bytes;
int tok_bytes_append(tok_bytes *b, const void *p, size_t n);
void tok_bytes_free(tok_bytes *b);

typedef struct tokenizer tokenizer;

/* Copies what it needs: gf may be closed afterwards. */
int tokenizer_load(const gguf_file *gf, tokenizer **out, model_error *err) MODEL_MUST_CHECK;
void tokenizer_free(tokenizer *tk);

tokenizer_kind tokenizer_get_kind(const tokenizer *tk);
/* "llama" for SentencePiece; the pre-tokenizer name (tokenizer.ggml.pre) for BPE. */
const char *tokenizer_pre_name(const tokenizer *tk);
uint32_t tokenizer_n_vocab(const tokenizer *tk);
/* Special ids; -1 when the model has none. */
int32_t tokenizer_bos(const tokenizer *tk);
int32_t tokenizer_eos(const tokenizer *tk);
int32_t tokenizer_eot(const tokenizer *tk);
bool tokenizer_add_bos(const tokenizer *tk);
bool tokenizer_add_space_prefix(const tokenizer *tk);
/* End of generation: EOS, EOT, EOM, or a control token whose text marks a turn's end
 * (<|eot_id|>, <|im_end|>, <|end|>, <|endoftext|>, <end_of_turn>, ...). */
bool tokenizer_is_eog(const tokenizer *tk, int32_t id);
/* Token text as stored in the vocabulary ({NULL,0} when out of range). */
const char *tokenizer_token_text(const tokenizer *tk, int32_t id, size_t *len);
token_type tokenizer_token_type(const tokenizer *tk, int32_t id);
/* The id of a token whose text is exactly text, or -1. */
int32_t tokenizer_find(const tokenizer *tk, const char *text, size_t len);

/* Appends the ids of text to out. add_special adds BOS/EOS as the metadata asks
 * (add_bos_token/add_eos_token). parse_special turns control-token texts found in the
 * text (e.g. "<|im_start|>") into their ids; user-defined tokens are always matched, as
 * in llama.cpp. */
int tokenizer_encode(const tokenizer *tk, const char *text, size_t len, bool add_special,
                     bool parse_special, token_ids *out, model_error *err) MODEL_MUST_CHECK;

/* Appends the bytes token id stands for: byte tokens give their byte, SentencePiece "▁"
 * becomes a space, BPE characters map back to bytes; control tokens give their text only
 * with render_special. A piece may be part of a multi-byte UTF-8 character. */
int tokenizer_append_piece(const tokenizer *tk, int32_t id, bool render_special, tok_bytes *out);
/* Appends the text of ids; when the tokenizer adds a space prefix, the space it added in
 * front of the first text (after a leading BOS) is removed, so decode(encode(t)) == t. */
int tokenizer_decode(const tokenizer *tk, const int32_t *ids, size_t n, bool render_special,
                     tok_bytes *out, model_error *err) MODEL_MUST_CHECK;
/* tokenizer_decode, then, for vocabularies that clean up tokenization spaces (byte-level
 * BPE except qwen2, tekken, smollm and command-r, as llama.cpp's llama_detokenize and the
 * models' clean_up_tokenization_spaces have it): no space before "?!.," nor before the
 * contractions 's 'm 're 've, and " ' " becomes "'". What /detokenize answers; not an exact
 * inverse of encode, so streamed text (as in vLLM) uses the pieces as they are. */
int tokenizer_detokenize(const tokenizer *tk, const int32_t *ids, size_t n, bool render_special,
                         tok_bytes *out, model_error *err) MODEL_MUST_CHECK;

#endif
