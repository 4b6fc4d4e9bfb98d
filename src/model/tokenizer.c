/* Vocabulary loading, special-token handling, encoding entry point and decoding. */
#include "model/tokenizer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/tokenizer_internal.h"
#include "model/unicode.h"

#define KEY_PREFIX "tokenizer.ggml."

int token_ids_push(token_ids *v, int32_t id)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->ids, cap * sizeof *p);
        if (!p)
            return -1;
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return 0;
}

void token_ids_free(token_ids *v)
{
    free(v->ids);
    *v = (token_ids){0};
}

int tok_bytes_append(tok_bytes *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0'; /* convenience; n excludes it */
    return 0;
}

void tok_bytes_free(tok_bytes *b)
{
    free(b->p);
    *b = (tok_bytes){0};
}

void tokenizer_free(tokenizer *tk)
{
    if (!tk)
        return;
    free(tk->arena);
    free(tk->text_off);
    free(tk->text_len);
    free(tk->scores);
    free(tk->types);
    free(tk->strip);
    strmap_free(tk->vocab);
    strmap_free(tk->merges);
    free(tk->specials);
    free(tk);
}

static bool gs_eq(gguf_string s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static int load_tokens(tokenizer *tk, const gguf_file *gf, const char *path, model_error *err)
{
    gguf_value_type et;
    uint64_t n;
    if (gguf_get_arr(gf, KEY_PREFIX "tokens", &et, &n) || et != GGUF_VT_STRING)
        return model_fail(err, "%s: no string array " KEY_PREFIX "tokens", path);
    if (n == 0 || n > INT32_MAX)
        return model_fail(err, "%s: " KEY_PREFIX "tokens has %llu entries", path, (unsigned long long)n);
    tk->n_vocab = (uint32_t)n;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++)
        total += gguf_arr_str(gf, KEY_PREFIX "tokens", i).len + 1;
    tk->arena = malloc(total);
    tk->text_off = malloc(n * sizeof *tk->text_off);
    tk->text_len = malloc(n * sizeof *tk->text_len);
    tk->scores = calloc(n, sizeof *tk->scores);
    tk->types = malloc(n);
    tk->vocab = strmap_new(n);
    if (!tk->arena || !tk->text_off || !tk->text_len || !tk->scores || !tk->types || !tk->vocab)
        return model_fail(err, "%s: out of memory loading the vocabulary", path);
    uint64_t at = 0;
    for (uint64_t i = 0; i < n; i++) {
        gguf_string s = gguf_arr_str(gf, KEY_PREFIX "tokens", i);
        if (s.len > UINT32_MAX)
            return model_fail(err, "%s: token %llu is too long", path, (unsigned long long)i);
        memcpy(tk->arena + at, s.ptr, s.len);
        tk->arena[at + s.len] = '\0';
        tk->text_off[i] = at;
        tk->text_len[i] = (uint32_t)s.len;
        at += s.len + 1;
    }
    /* Where texts repeat, the last id wins (as in llama.cpp): insert from the end. */
    for (uint64_t i = n; i-- > 0;)
        if (strmap_put(tk->vocab, tk_text(tk, (int32_t)i), tk->text_len[i], (int32_t)i) < 0)
            return model_fail(err, "%s: out of memory loading the vocabulary", path);

    uint64_t m;
    const void *p;
    if (gguf_get_arr(gf, KEY_PREFIX "scores", &et, &m) == 0) {
        if (et != GGUF_VT_FLOAT32 || m != n || !(p = gguf_arr_data(gf, KEY_PREFIX "scores")))
            return model_fail(err, "%s: " KEY_PREFIX "scores must be %llu float32 values", path,
                              (unsigned long long)n);
        memcpy(tk->scores, p, n * sizeof(float));
    }
    memset(tk->types, TOKEN_NORMAL, n);
    if (gguf_get_arr(gf, KEY_PREFIX "token_type", &et, &m) == 0) {
        if (et != GGUF_VT_INT32 || m != n || !(p = gguf_arr_data(gf, KEY_PREFIX "token_type")))
            return model_fail(err, "%s: " KEY_PREFIX "token_type must be %llu int32 values", path,
                              (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++) {
            int32_t t;
            memcpy(&t, (const char *)p + 4 * i, 4);
            if (t < TOKEN_NORMAL || t > TOKEN_BYTE)
                return model_fail(err, "%s: token %llu has invalid type %d", path,
                                  (unsigned long long)i, t);
            tk->types[i] = (uint8_t)t;
        }
    }
    return 0;
}

static int load_merges(tokenizer *tk, const gguf_file *gf, const char *path, model_error *err)
{
    gguf_value_type et;
    uint64_t n = 0;
    if (gguf_get_arr(gf, KEY_PREFIX "merges", &et, &n) == 0 && et != GGUF_VT_STRING)
        return model_fail(err, "%s: " KEY_PREFIX "merges is not a string array", path);
    if (n > INT32_MAX)
        return model_fail(err, "%s: too many merges", path);
    tk->merges = strmap_new(n);
    if (!tk->merges)
        return model_fail(err, "%s: out of memory loading merges", path);
    for (uint64_t i = 0; i < n; i++) {
        gguf_string s = gguf_arr_str(gf, KEY_PREFIX "merges", i);
        /* "left right", split at the first space after the first byte */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp)
            return model_fail(err, "%s: merge %llu ('%.*s') has no separating space", path,
                              (unsigned long long)i, (int)(s.len > 40 ? 40 : s.len), s.ptr);
        if (strmap_put(tk->merges, s.ptr, s.len, (int32_t)i) < 0)
            return model_fail(err, "%s: out of memory loading merges", path);
    }
    return 0;
}

static int32_t special_id(const tokenizer *tk, const gguf_file *gf, const char *key, int32_t dflt)
{
    uint32_t v;
    if (gguf_get_u32(gf, key, &v) == 0 && v < tk->n_vocab)
        return (int32_t)v;
    return dflt >= 0 && (uint32_t)dflt < tk->n_vocab ? dflt : -1;
}

static bool flag(const gguf_file *gf, const char *key, bool dflt)
{
    bool v;
    return gguf_get_bool(gf, key, &v) == 0 ? v : dflt;
}

static int cmp_special(const void *a, const void *b, void *ctx)
{
    const tokenizer *tk = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (tk->text_len[x] != tk->text_len[y])
        return tk->text_len[x] > tk->text_len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int index_specials(tokenizer *tk)
{
    static const char *const eog_texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
        "<|eom_id|>", "<EOT>", "<|end_of_text|>",
    };
    tk->specials = malloc(tk->n_vocab * sizeof *tk->specials);
    if (!tk->specials)
        return -1;
    int32_t fixed[3] = {tk->eos, tk->eot, tk->eom};
    for (size_t i = 0; i < 3; i++)
        if (fixed[i] >= 0)
            tk->eog[tk->n_eog++] = fixed[i];
    for (uint32_t i = 0; i < tk->n_vocab; i++) {
        uint8_t t = tk->types[i];
        if ((t == TOKEN_CONTROL || t == TOKEN_USER_DEFINED || t == TOKEN_UNKNOWN) && tk->text_len[i])
            tk->specials[tk->n_specials++] = (int32_t)i;
        if (t != TOKEN_CONTROL && t != TOKEN_USER_DEFINED)
            continue;
        for (size_t k = 0; k < sizeof eog_texts / sizeof eog_texts[0]; k++)
            if (!strcmp(tk_text(tk, (int32_t)i), eog_texts[k]) && tk->n_eog < TOKENIZER_MAX_EOG)
                tk->eog[tk->n_eog++] = (int32_t)i;
    }
    qsort_r(tk->specials, tk->n_specials, sizeof *tk->specials, cmp_special, tk);
    return 0;
}

static bool contains_nocase(gguf_string s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++)
        if (!strncasecmp(s.ptr + i, needle, n))
            return true;
    return false;
}

/* Phi-3's special tokens swallow the white space after them (its tokenizer.json marks them
 * rstrip), except the SentencePiece ones it shares with Llama 2; the GGUF does not carry the
 * attribute, so it is recognised by name as llama.cpp does. */
static int set_strip_attributes(tokenizer *tk, const gguf_file *gf)
{
    gguf_string name = {"", 0}, arch = {"", 0};
    (void)gguf_get_str(gf, "general.name", &name);
    (void)gguf_get_str(gf, "general.architecture", &arch);
    bool phi3 = contains_nocase(name, "phi-3") || contains_nocase(name, "phi3") ||
                gs_eq(arch, "phi3");
    if (!phi3)
        return 0;
    tk->strip = calloc(tk->n_vocab, 1);
    if (!tk->strip)
        return -1;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    for (size_t s = 0; s < tk->n_specials; s++) {
        int32_t id = tk->specials[s];
        bool kept = false;
        for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++)
            kept = kept || (tk->text_len[id] == strlen(keep[k]) &&
                            !memcmp(tk_text(tk, id), keep[k], tk->text_len[id]));
        if (!kept)
            tk->strip[id] = TOKEN_STRIP_RIGHT;
    }
    int32_t eos_text = strmap_get(tk->vocab, "</s>", 4);
    if (eos_text >= 0)
        tk->strip[eos_text] = TOKEN_STRIP_RIGHT;
    return 0;
}

int tokenizer_load(const gguf_file *gf, tokenizer **out, model_error *err)
{
    const char *path = gguf_path(gf);
    *out = NULL;
    gguf_string model;
    if (gguf_get_str(gf, KEY_PREFIX "model", &model))
        return model_fail(err, "%s: no " KEY_PREFIX "model (the file has no tokenizer)", path);
    tokenizer *tk = calloc(1, sizeof *tk);
    if (!tk)
        return model_fail(err, "%s: out of memory", path);
    if (gs_eq(model, "llama")) {
        tk->kind = TOKENIZER_SPM;
        snprintf(tk->pre_name, sizeof tk->pre_name, "llama");
    } else if (gs_eq(model, "gpt2")) {
        tk->kind = TOKENIZER_BPE;
        gguf_string pre = {"default", 7};
        if (gguf_get_str(gf, KEY_PREFIX "pre", &pre) == 0 && pre.len >= sizeof tk->pre_name)
            pre.len = sizeof tk->pre_name - 1;
        snprintf(tk->pre_name, sizeof tk->pre_name, "%.*s", (int)pre.len, pre.ptr);
        if (pretok_kind_from_name(pre.ptr, pre.len, &tk->pre)) {
            model_fail(err, "%s: unsupported pre-tokenizer '%s'", path, tk->pre_name);
            goto fail;
        }
    } else {
        model_fail(err, "%s: unsupported tokenizer model '%.*s' (need llama or gpt2)", path,
                   (int)(model.len > 40 ? 40 : model.len), model.ptr);
        goto fail;
    }
    if (load_tokens(tk, gf, path, err))
        goto fail;
    if (tk->kind == TOKENIZER_BPE && load_merges(tk, gf, path, err))
        goto fail;
    bool spm = tk->kind == TOKENIZER_SPM;
    bool llama3 = !spm && tk->pre == PRETOK_LLAMA3;
    tk->bos = special_id(tk, gf, KEY_PREFIX "bos_token_id", spm ? 1 : 11);
    tk->eos = special_id(tk, gf, KEY_PREFIX "eos_token_id", spm ? 2 : 11);
    tk->unk = special_id(tk, gf, KEY_PREFIX "unknown_token_id", spm ? 0 : -1);
    tk->eot = special_id(tk, gf, KEY_PREFIX "eot_token_id", -1);
    tk->eom = special_id(tk, gf, KEY_PREFIX "eom_token_id", -1);
    tk->add_bos = flag(gf, KEY_PREFIX "add_bos_token", spm || llama3);
    tk->add_eos = flag(gf, KEY_PREFIX "add_eos_token", false);
    tk->add_space_prefix = flag(gf, KEY_PREFIX "add_space_prefix", spm);
    tk->ignore_merges = llama3;
    /* as llama.cpp sets it per pre-tokenizer (the models' clean_up_tokenization_spaces) */
    static const char *const keep_spaces[] = {"qwen2", "deepseek-r1-qwen", "tekken", "smollm",
                                              "command-r"};
    tk->clean_spaces = !spm;
    for (size_t k = 0; k < sizeof keep_spaces / sizeof keep_spaces[0]; k++)
        tk->clean_spaces = tk->clean_spaces && strcmp(tk->pre_name, keep_spaces[k]);
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t len;
        if (spm)
            len = (size_t)snprintf(s, sizeof s, "<0x%02X>", b);
        else
            len = utf8_encode(bpe_byte_to_cp((uint8_t)b), s);
        tk->byte_token[b] = strmap_get(tk->vocab, s, len);
    }
    if (index_specials(tk) || set_strip_attributes(tk, gf)) {
        model_fail(err, "%s: out of memory", path);
        goto fail;
    }
    *out = tk;
    return 0;
fail:
    tokenizer_free(tk);
    return -1;
}

tokenizer_kind tokenizer_get_kind(const tokenizer *tk) { return tk->kind; }
const char *tokenizer_pre_name(const tokenizer *tk) { return tk->pre_name; }
uint32_t tokenizer_n_vocab(const tokenizer *tk) { return tk->n_vocab; }
int32_t tokenizer_bos(const tokenizer *tk) { return tk->bos; }
int32_t tokenizer_eos(const tokenizer *tk) { return tk->eos; }
int32_t tokenizer_eot(const tokenizer *tk) { return tk->eot; }
bool tokenizer_add_bos(const tokenizer *tk) { return tk->add_bos; }
bool tokenizer_add_space_prefix(const tokenizer *tk) { return tk->add_space_prefix; }

bool tokenizer_is_eog(const tokenizer *tk, int32_t id)
{
    for (size_t i = 0; i < tk->n_eog; i++)
        if (tk->eog[i] == id)
            return true;
    return false;
}

const char *tokenizer_token_text(const tokenizer *tk, int32_t id, size_t *len)
{
    if (id < 0 || (uint32_t)id >= tk->n_vocab) {
        *len = 0;
        return NULL;
    }
    *len = tk->text_len[id];
    return tk_text(tk, id);
}

token_type tokenizer_token_type(const tokenizer *tk, int32_t id)
{
    return id >= 0 && (uint32_t)id < tk->n_vocab ? (token_type)tk->types[id] : TOKEN_UNUSED;
}

int32_t tokenizer_find(const tokenizer *tk, const char *text, size_t len)
{
    return strmap_get(tk->vocab, text, len);
}

/* ---- encoding ---- */

typedef struct fragment {
    int32_t id; /* -1: raw text */
    size_t off, len;
} fragment;

typedef struct frag_vec {
    fragment *v;
    size_t n, cap;
} frag_vec;

static int frag_insert(frag_vec *f, size_t at, fragment x)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        fragment *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            return -1;
        f->v = v;
        f->cap = cap;
    }
    memmove(&f->v[at + 1], &f->v[at], (f->n - at) * sizeof *f->v);
    f->v[at] = x;
    f->n++;
    return 0;
}

/* Splits raw-text fragments at occurrences of special tokens, longest tokens first (as
 * llama.cpp does); control and unknown tokens only with parse_special. */
static int partition(const tokenizer *tk, const char *text, size_t len, bool parse_special,
                     frag_vec *f)
{
    if (frag_insert(f, 0, (fragment){-1, 0, len}))
        return -1;
    for (size_t s = 0; s < tk->n_specials; s++) {
        int32_t id = tk->specials[s];
        if (!parse_special && tk->types[id] != TOKEN_USER_DEFINED)
            continue;
        const char *st = tk_text(tk, id);
        size_t sl = tk->text_len[id];
        for (size_t i = 0; i < f->n; i++) {
            if (f->v[i].id >= 0 || f->v[i].len < sl)
                continue;
            const char *base = text + f->v[i].off;
            const char *hit = memmem(base, f->v[i].len, st, sl);
            if (!hit)
                continue;
            size_t pre = (size_t)(hit - base);
            fragment rest = {-1, f->v[i].off + pre + sl, f->v[i].len - pre - sl};
            uint8_t strip = tk->strip ? tk->strip[id] : 0;
            while ((strip & TOKEN_STRIP_LEFT) && pre && isspace((unsigned char)base[pre - 1]))
                pre--;
            while ((strip & TOKEN_STRIP_RIGHT) && rest.len &&
                   isspace((unsigned char)text[rest.off])) {
                rest.off++;
                rest.len--;
            }
            size_t at = i;
            if (pre) {
                f->v[at].len = pre;
                at++;
            } else {
                memmove(&f->v[at], &f->v[at + 1], (f->n - at - 1) * sizeof *f->v);
                f->n--;
            }
            if (frag_insert(f, at, (fragment){id, 0, 0}))
                return -1;
            if (rest.len && frag_insert(f, at + 1, rest))
                return -1;
            i = at; /* continue with the rest after the token */
        }
    }
    return 0;
}

/* SentencePiece text: an optional leading space, then every ' ' as U+2581. */
static int spm_fragment(const tokenizer *tk, const char *text, size_t len, bool prefix,
                        token_ids *out)
{
    char *s = malloc(3 * (len + 1));
    if (!s)
        return -1;
    size_t n = 0;
    if (prefix) {
        memcpy(s, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            s[n++] = text[i];
        }
    }
    int rc = spm_encode(tk, s, n, out);
    free(s);
    return rc;
}

int tokenizer_encode(const tokenizer *tk, const char *text, size_t len, bool add_special,
                     bool parse_special, token_ids *out, model_error *err)
{
    frag_vec f = {0};
    int rc = 0;
    if (add_special && tk->add_bos && tk->bos >= 0)
        rc = token_ids_push(out, tk->bos);
    if (rc == 0 && len)
        rc = partition(tk, text, len, parse_special, &f);
    bool prev_special = true; /* the SPM space prefix goes on the first text and after specials */
    for (size_t i = 0; i < f.n && rc == 0; i++) {
        if (f.v[i].id >= 0) {
            rc = token_ids_push(out, f.v[i].id);
            prev_special = true;
            continue;
        }
        if (tk->kind == TOKENIZER_SPM)
            rc = spm_fragment(tk, text + f.v[i].off, f.v[i].len, tk->add_space_prefix && prev_special, out);
        else
            rc = bpe_encode(tk, text + f.v[i].off, f.v[i].len, out);
        prev_special = false;
    }
    if (rc == 0 && add_special && tk->add_eos && tk->eos >= 0)
        rc = token_ids_push(out, tk->eos);
    free(f.v);
    return rc ? model_fail(err, "tokenizer: out of memory") : 0;
}

/* ---- decoding ---- */

static int spm_piece(const char *t, size_t len, tok_bytes *out)
{
    for (size_t i = 0; i < len;) {
        if (len - i >= 3 && memcmp(t + i, "\xE2\x96\x81", 3) == 0) {
            if (tok_bytes_append(out, " ", 1))
                return -1;
            i += 3;
        } else {
            if (tok_bytes_append(out, t + i, 1))
                return -1;
            i++;
        }
    }
    return 0;
}

static int bpe_piece(const char *t, size_t len, tok_bytes *out)
{
    for (size_t i = 0, adv; i < len; i += adv) {
        int b = bpe_cp_to_byte(utf8_decode(t + i, len - i, &adv));
        /* characters outside the byte mapping are kept as they are */
        if (b >= 0 ? tok_bytes_append(out, &(char){(char)b}, 1) : tok_bytes_append(out, t + i, adv))
            return -1;
    }
    return 0;
}

int tokenizer_append_piece(const tokenizer *tk, int32_t id, bool render_special, tok_bytes *out)
{
    if (id < 0 || (uint32_t)id >= tk->n_vocab)
        return -1;
    const char *t = tk_text(tk, id);
    size_t len = tk->text_len[id];
    switch (tk->types[id]) {
    case TOKEN_BYTE: {
        unsigned v;
        if (len == 6 && sscanf(t, "<0x%2X>", &v) == 1)
            return tok_bytes_append(out, &(char){(char)v}, 1);
        return tok_bytes_append(out, t, len);
    }
    case TOKEN_CONTROL:
    case TOKEN_UNUSED:
        return render_special ? tok_bytes_append(out, t, len) : 0;
    case TOKEN_UNKNOWN:
        /* SentencePiece shows an unknown token as U+2585, as llama.cpp does */
        if (render_special)
            return tok_bytes_append(out, t, len);
        return tk->kind == TOKENIZER_SPM ? tok_bytes_append(out, "\xE2\x96\x85", 3) : 0;
    case TOKEN_USER_DEFINED:
        return tok_bytes_append(out, t, len);
    default:
        return tk->kind == TOKENIZER_SPM ? spm_piece(t, len, out) : bpe_piece(t, len, out);
    }
}

int tokenizer_decode(const tokenizer *tk, const int32_t *ids, size_t n, bool render_special,
                     tok_bytes *out, model_error *err)
{
    size_t first = n > 0 && ids[0] == tk->bos ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        size_t before = out->n;
        if (tokenizer_append_piece(tk, ids[i], render_special, out))
            return model_fail(err, "tokenizer: cannot decode token %d (vocabulary of %u)%s", ids[i],
                              tk->n_vocab, ids[i] >= 0 && (uint32_t)ids[i] < tk->n_vocab ? ": out of memory" : "");
        if (i == first && tk->add_space_prefix && out->n > before && out->p[before] == ' ') {
            memmove(out->p + before, out->p + before + 1, out->n - before - 1);
            out->n--;
            out->p[out->n] = '\0';
        }
    }
    return 0;
}

/* llama.cpp's clean-up of detokenized text, three passes over the bytes: no space before
 * "?!.,"; " ' " becomes "'"; no space before the contractions 's 'm 're 've. */
static size_t remove_space_before_punct(char *t, size_t n)
{
    size_t w = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = t[i];
        if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
            w--;
        t[w++] = x;
    }
    return w;
}

static size_t join_lone_apostrophes(char *t, size_t n)
{
    size_t w = n ? 1 : 0;
    char prev = n ? t[0] : 0;
    for (size_t i = 1; i < n; i++) {
        char x = t[i];
        if (x == '\'' && i + 1 < n && prev == ' ' && t[i + 1] == ' ') {
            w--;      /* the space before */
            i++;      /* and the one after */
            t[w++] = x;
            prev = 0; /* the removed space is no longer before the next character */
            continue;
        }
        t[w++] = x;
        prev = x;
    }
    return w;
}

static size_t join_contractions(char *t, size_t n)
{
    size_t w = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = t[i];
        if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = t[i + 1];
            if (x1 == 's' || x1 == 'm')
                w--;
            else if (x1 != 't' && x1 != 'd' && i + 2 < n &&
                     ((x1 == 'r' && t[i + 2] == 'e') || (x1 == 'v' && t[i + 2] == 'e')))
                w--;
        }
        t[w++] = x;
    }
    return w;
}

int tokenizer_detokenize(const tokenizer *tk, const int32_t *ids, size_t n, bool render_special,
                         tok_bytes *out, model_error *err)
{
    size_t start = out->n;
    if (tokenizer_decode(tk, ids, n, render_special, out, err))
        return -1;
    if (tk->clean_spaces && out->n > start) {
        char *t = out->p + start;
        size_t len = remove_space_before_punct(t, out->n - start);
        len = join_lone_apostrophes(t, len);
        out->n = start + join_contractions(t, len);
        out->p[out->n] = '\0';
    }
    return 0;
}
