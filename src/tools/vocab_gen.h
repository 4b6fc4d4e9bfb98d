/* A small byte-level BPE vocabulary for generated models: the 256 byte characters, merges
 * learned from a built-in English sample, and special tokens, with a chat template. */
#ifndef KVSPILL_TOOLS_VOCAB_GEN_H
#define KVSPILL_TOOLS_VOCAB_GEN_H

#include <stdint.h>

#include "model/model_error.h"
#include "tools/gguf_writer.h"

/* Special tokens, at the end of the vocabulary in this order. */
#define VOCAB_GEN_BOS "<|begin_of_text|>"
#define VOCAB_GEN_EOS "<|end_of_text|>"
#define VOCAB_GEN_IM_START "<|im_start|>"
#define VOCAB_GEN_IM_END "<|im_end|>"

typedef enum vocab_gen_style {
    /* pre-tokenizer gpt-2, the four special tokens above at the end, a ChatML template */
    VOCAB_GEN_CHATML,
    /* as Mistral Small 3's GGUFs: pre-tokenizer tekken, <unk> <s> </s> and Mistral's
     * control tokens ([INST], [SYSTEM_PROMPT], [TOOL_CALLS], ...) first, the v7 template */
    VOCAB_GEN_TEKKEN,
} vocab_gen_style;

/* "chatml" or "tekken"; -1 when unknown. */
int vocab_gen_style_parse(const char *s, vocab_gen_style *out);

/* Learns up to max_merges merges (fewer when the sample runs out of pairs) over the words
 * the style's pre-tokenizer makes of a built-in sample and sets every tokenizer.* key on w
 * (model gpt2). *n_vocab gets the size. */
int vocab_gen_bpe(gguf_writer *w, vocab_gen_style style, uint32_t max_merges, uint32_t *n_vocab,
                  model_error *err) MODEL_MUST_CHECK;

#endif
