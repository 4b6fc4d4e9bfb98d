/* A small byte-level BPE vocabulary for generated models: the 256 byte characters, merges
 * learned from a built-in English sample, and special tokens, with a ChatML template. */
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

/* Learns up to max_merges merges (fewer when the sample runs out of pairs) and
 * sets every tokenizer.* key on w (model gpt2, pre gpt-2). *n_vocab gets the size. */
int vocab_gen_bpe(gguf_writer *w, uint32_t max_merges, uint32_t *n_vocab, model_error *err) MODEL_MUST_CHECK;

#endif
