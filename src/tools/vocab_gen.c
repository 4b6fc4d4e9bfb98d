#include "tools/vocab_gen.h"

#include <stdlib.h>
#include <string.h>

#include "model/tokenizer_internal.h"
#include "model/tokenizer_pretok.h"
#include "model/unicode.h"

static const char sample_text[] =
    "The cache keeps the keys and values of the attention layers for every token of a prompt. "
    "When the same prefix comes again, the server loads those blocks instead of computing them, "
    "and the first token of the answer arrives sooner. Blocks that do not fit in the memory of "
    "the accelerator move to host memory, then to local disks, then to a shared file system "
    "that every node of the cluster can read. A model is a file of tensors: the embedding of "
    "each token, the weights of the attention and of the feed-forward network in each layer, "
    "and the output projection that turns the last hidden state into one score per token. "
    "The tokenizer splits text into words and pieces of words; common words become a single "
    "token, and rare words are spelled with several shorter ones. In the morning the team "
    "reads the results of the night's benchmarks, compares them with the numbers of the "
    "previous week, and writes down what changed and why. It is easier to trust a system "
    "whose every part has been tested on its own and together with the others. Questions "
    "and answers, stories and reports, code and its comments: there is a lot of text in the "
    "world, and the model has to handle all of it, one token at a time.\n";

typedef struct word {
    int32_t *sym;
    size_t n;
    uint32_t count;
} word;

typedef struct pair_count {
    int32_t a, b;
    uint64_t count;
} pair_count;

static int cmp_pair(const void *x, const void *y)
{
    const pair_count *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : p->b > q->b;
}

typedef struct vocab {
    char **text;
    size_t n, cap;
} vocab;

static int vocab_add(vocab *v, const char *s, size_t len)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 512;
        char **t = realloc(v->text, cap * sizeof *t);
        if (!t)
            return -1;
        v->text = t;
        v->cap = cap;
    }
    if (!(v->text[v->n] = strndup(s, len)))
        return -1;
    v->n++;
    return 0;
}

static bool same_word(const word *w, const char *s, size_t len)
{
    if (w->n != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (w->sym[i] != (uint8_t)s[i])
            return false;
    return true;
}

/* The sample's distinct words as byte-symbol sequences, with their counts. */
static int collect_words(pretok_kind pre, word **out, size_t *n_out)
{
    pretok_piece *pieces;
    size_t n;
    if (pretok_split(pre, sample_text, sizeof sample_text - 1, &pieces, &n))
        return -1;
    word *words = calloc(n ? n : 1, sizeof *words);
    size_t nw = 0;
    int rc = words ? 0 : -1;
    for (size_t p = 0; p < n && rc == 0; p++) {
        const char *s = sample_text + pieces[p].off;
        size_t len = pieces[p].len, k;
        for (k = 0; k < nw && !same_word(&words[k], s, len); k++)
            ;
        if (k < nw) {
            words[k].count++;
            continue;
        }
        if (!(words[nw].sym = malloc(len * sizeof *words[nw].sym))) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < len; i++)
            words[nw].sym[i] = (uint8_t)s[i];
        words[nw].n = len;
        words[nw].count = 1;
        nw++;
    }
    free(pieces);
    *out = words;
    *n_out = nw;
    return rc;
}

/* The most frequent adjacent pair (ties: the smallest ids); count 0 when none repeats. */
static int best_pair(const word *words, size_t nw, pair_count *best)
{
    size_t total = 0;
    for (size_t k = 0; k < nw; k++)
        total += words[k].n ? words[k].n - 1 : 0;
    pair_count *pc = malloc((total ? total : 1) * sizeof *pc);
    if (!pc)
        return -1;
    size_t m = 0;
    for (size_t k = 0; k < nw; k++)
        for (size_t i = 0; i + 1 < words[k].n; i++)
            pc[m++] = (pair_count){words[k].sym[i], words[k].sym[i + 1], words[k].count};
    qsort(pc, m, sizeof *pc, cmp_pair);
    *best = (pair_count){-1, -1, 0};
    for (size_t i = 0; i < m;) {
        size_t j = i;
        uint64_t c = 0;
        while (j < m && pc[j].a == pc[i].a && pc[j].b == pc[i].b)
            c += pc[j++].count;
        if (c > best->count)
            *best = (pair_count){pc[i].a, pc[i].b, c};
        i = j;
    }
    free(pc);
    return 0;
}

static void apply_merge(word *words, size_t nw, int32_t a, int32_t b, int32_t id)
{
    for (size_t k = 0; k < nw; k++) {
        size_t o = 0;
        for (size_t i = 0; i < words[k].n; i++) {
            if (i + 1 < words[k].n && words[k].sym[i] == a && words[k].sym[i + 1] == b) {
                words[k].sym[o++] = id;
                i++;
            } else {
                words[k].sym[o++] = words[k].sym[i];
            }
        }
        words[k].n = o;
    }
}

static int learn(pretok_kind pre, vocab *toks, vocab *merges, uint32_t max_merges)
{
    for (int b = 0; b < 256; b++) {
        char s[4];
        if (vocab_add(toks, s, utf8_encode(bpe_byte_to_cp((uint8_t)b), s)))
            return -1;
    }
    word *words = NULL;
    size_t nw = 0;
    int rc = collect_words(pre, &words, &nw);
    for (uint32_t m = 0; rc == 0 && m < max_merges; m++) {
        pair_count best;
        if ((rc = best_pair(words, nw, &best)) || best.count == 0)
            break;
        const char *l = toks->text[best.a], *r = toks->text[best.b];
        size_t ll = strlen(l), rl = strlen(r);
        char *buf = malloc(ll + rl + 2);
        if (!buf) {
            rc = -1;
            break;
        }
        memcpy(buf, l, ll);
        buf[ll] = ' ';
        memcpy(buf + ll + 1, r, rl + 1);
        rc = vocab_add(merges, buf, ll + rl + 1);
        memmove(buf + ll, buf + ll + 1, rl + 1);
        if (rc == 0)
            rc = vocab_add(toks, buf, ll + rl);
        free(buf);
        apply_merge(words, nw, best.a, best.b, (int32_t)toks->n - 1);
    }
    for (size_t k = 0; k < nw; k++)
        free(words[k].sym);
    free(words);
    return rc;
}

static void vocab_free(vocab *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->text[i]);
    free(v->text);
}

/* Mistral's v7 template as Mistral Small 3.x renders a chat without tools: the system
 * prompt in [SYSTEM_PROMPT], user turns in [INST], assistant turns closed by </s>. */
static const char mistral_v7_template[] =
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}"
    "{%- endif %}{{- bos_token }}"
    "{%- if system_message is defined %}{{- '[SYSTEM_PROMPT]' + system_message + "
    "'[/SYSTEM_PROMPT]' }}{%- endif %}"
    "{%- for message in loop_messages %}{%- if message['role'] == 'user' %}"
    "{{- '[INST]' + message['content'] + '[/INST]' }}"
    "{%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}"
    "{%- else %}{{- raise_exception('Only user, system and assistant roles are supported') }}"
    "{%- endif %}{%- endfor %}";

static const char chatml_template[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* Mistral's first token ids, in Tekken's order; <unk> is 0, <s> 1, </s> 2. */
static const char *const tekken_controls[] = {
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]",
    "[IMG_END]", "[PREFIX]", "[MIDDLE]", "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]",
};
#define N_TEKKEN_CONTROLS (sizeof tekken_controls / sizeof tekken_controls[0])

int vocab_gen_style_parse(const char *s, vocab_gen_style *out)
{
    if (!strcmp(s, "chatml"))
        *out = VOCAB_GEN_CHATML;
    else if (!strcmp(s, "tekken"))
        *out = VOCAB_GEN_TEKKEN;
    else
        return -1;
    return 0;
}

/* Prepends Tekken's control tokens: the learned tokens' ids move up, their texts (and so
 * the merges, which name texts) stay. */
static int prepend_controls(vocab *toks)
{
    vocab all = {0};
    int rc = 0;
    for (size_t i = 0; i < N_TEKKEN_CONTROLS && rc == 0; i++)
        rc = vocab_add(&all, tekken_controls[i], strlen(tekken_controls[i]));
    for (size_t i = 0; i < toks->n && rc == 0; i++)
        rc = vocab_add(&all, toks->text[i], strlen(toks->text[i]));
    vocab_free(toks);
    *toks = all;
    return rc;
}

int vocab_gen_bpe(gguf_writer *w, vocab_gen_style style, uint32_t max_merges, uint32_t *n_vocab,
                  model_error *err)
{
    static const char *const specials[] = {VOCAB_GEN_BOS, VOCAB_GEN_EOS, VOCAB_GEN_IM_START,
                                           VOCAB_GEN_IM_END};
    bool tekken = style == VOCAB_GEN_TEKKEN;
    vocab toks = {0}, merges = {0};
    int32_t *types = NULL;
    int rc = learn(tekken ? PRETOK_TEKKEN : PRETOK_GPT2, &toks, &merges, max_merges);
    /* controls: [first_control, end_control) */
    size_t first_control = tekken ? 0 : toks.n, end_control = tekken ? N_TEKKEN_CONTROLS : toks.n + 4;
    if (rc == 0)
        rc = tekken ? prepend_controls(&toks) : 0;
    for (size_t i = 0; !tekken && i < 4 && rc == 0; i++)
        rc = vocab_add(&toks, specials[i], strlen(specials[i]));
    if (rc == 0 && !(types = malloc(toks.n * sizeof *types)))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < toks.n; i++)
        types[i] = i < first_control || i >= end_control ? TOKEN_NORMAL : TOKEN_CONTROL;
    if (rc == 0 && tekken)
        types[0] = TOKEN_UNKNOWN;
    uint32_t bos = (uint32_t)(tekken ? 1 : first_control), eos = bos + 1;
    if (rc == 0)
        rc = gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2") ||
             gguf_writer_set_str(w, "tokenizer.ggml.pre", tekken ? "tekken" : "gpt-2") ||
             gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks.text, toks.n) ||
             gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, toks.n) ||
             gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges.text, merges.n) ||
             gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", bos) ||
             gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", eos) ||
             (tekken ? gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0)
                     : gguf_writer_set_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)first_control + 3)) ||
             gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true) ||
             gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false) ||
             gguf_writer_set_str(w, "tokenizer.chat_template",
                                 tekken ? mistral_v7_template : chatml_template);
    *n_vocab = (uint32_t)toks.n;
    free(types);
    vocab_free(&toks);
    vocab_free(&merges);
    return rc ? model_fail(err, "vocabulary generation: out of memory") : 0;
}
