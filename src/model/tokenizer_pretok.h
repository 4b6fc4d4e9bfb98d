/* Byte-level BPE pre-tokenizers: the regex sets named by tokenizer.ggml.pre, implemented
 * as hand-written scanners over Unicode classes (unicode.h). Each regex of a set splits
 * every piece the previous one produced; text a regex does not match stays a piece. */
#ifndef KVSPILL_MODEL_TOKENIZER_PRETOK_H
#define KVSPILL_MODEL_TOKENIZER_PRETOK_H

#include <stddef.h>

typedef enum pretok_kind {
    /* 'gpt-2': 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
    PRETOK_GPT2,
    /* 'default': [\p{P}\$\+<=>\^~\|]+, then the GPT-2 regex, \p{N}+, [0-9][0-9][0-9] */
    PRETOK_DEFAULT,
    /* 'starcoder': \p{N} (every digit alone), then the GPT-2 regex */
    PRETOK_STARCODER,
    /* 'llama-bpe' (Llama 3): (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])
     * |[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    PRETOK_LLAMA3,
    /* 'qwen2': as Llama 3 with \p{N} (single digits) instead of \p{N}{1,3} */
    PRETOK_QWEN2,
    /* 'tekken' (Mistral Nemo, Small 3): [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*
     * [\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+
     * [\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
     * (the regex of its tokenizer.json, with the Unicode categories it names) */
    PRETOK_TEKKEN,
} pretok_kind;

/* Maps a tokenizer.ggml.pre name (and aliases llama.cpp treats the same) to a kind. */
int pretok_kind_from_name(const char *name, size_t len, pretok_kind *kind);

typedef struct pretok_piece {
    size_t off, len; /* bytes of the input */
} pretok_piece;

/* Splits text[0..len) into pieces covering every byte, in order. *pieces is malloc'd
 * (NULL when len is 0). Invalid UTF-8 bytes count as U+FFFD (not a letter, number or
 * space). Returns -1 only when out of memory. */
int pretok_split(pretok_kind kind, const char *text, size_t len, pretok_piece **pieces, size_t *n);

#endif
