#include "model/tokenizer_pretok.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/unicode.h"

/* The decoded text: code points, their classes and byte offsets (offs[n] = byte length). */
typedef struct ctx {
    uint32_t *cp;
    unsigned *cls;
    size_t *offs;
    size_t n;
} ctx;

typedef struct range_vec {
    size_t (*r)[2];
    size_t n, cap;
    bool oom;
} range_vec;

static void push(range_vec *v, size_t b, size_t e)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        void *p = realloc(v->r, cap * sizeof *v->r);
        if (!p) {
            v->oom = true;
            return;
        }
        v->r = p;
        v->cap = cap;
    }
    v->r[v->n][0] = b;
    v->r[v->n][1] = e;
    v->n++;
}

/* Length of the match at i in a piece ending at e (0: no match). */
typedef size_t (*matcher)(const ctx *c, size_t i, size_t e);

#define END_OF_PIECE 0xFFFFFFFFu

static uint32_t cp_at(const ctx *c, size_t i, size_t e) { return i < e ? c->cp[i] : END_OF_PIECE; }
static bool is_l(const ctx *c, size_t i, size_t e) { return i < e && (c->cls[i] & UCLASS_LETTER); }
static bool is_n(const ctx *c, size_t i, size_t e) { return i < e && (c->cls[i] & UCLASS_NUMBER); }
static bool is_s(const ctx *c, size_t i, size_t e) { return i < e && (c->cls[i] & UCLASS_SPACE); }
/* [^\s\p{L}\p{N}] */
static bool is_other(const ctx *c, size_t i, size_t e)
{
    return i < e && !(c->cls[i] & (UCLASS_LETTER | UCLASS_NUMBER | UCLASS_SPACE));
}
static bool is_crlf(const ctx *c, size_t i, size_t e)
{
    uint32_t cp = cp_at(c, i, e);
    return cp == '\r' || cp == '\n';
}
static uint32_t ascii_lower(uint32_t cp) { return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp; }

/* 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII case-insensitive. */
static size_t contraction(const ctx *c, size_t i, size_t e, bool fold)
{
    if (cp_at(c, i, e) != '\'')
        return 0;
    uint32_t a = cp_at(c, i + 1, e), b = cp_at(c, i + 2, e);
    if (fold) {
        a = ascii_lower(a);
        b = ascii_lower(b);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* \s+(?!\S) then \s+: a whitespace run leaves its last character to the next word when one
 * follows inside the piece. */
static size_t whitespace_run(const ctx *c, size_t i, size_t e)
{
    size_t j = i;
    while (is_s(c, j, e))
        j++;
    if (j - i > 1 && j < e)
        return j - i - 1;
    return j - i;
}

static size_t match_gpt2(const ctx *c, size_t i, size_t e)
{
    size_t m = contraction(c, i, e, false);
    if (m)
        return m;
    size_t j = i + (cp_at(c, i, e) == ' ' && i + 1 < e); /* the optional leading space */
    bool (*run)(const ctx *, size_t, size_t) =
        is_l(c, j, e) ? is_l : is_n(c, j, e) ? is_n : is_other(c, j, e) ? is_other : NULL;
    if (run) {
        while (run(c, j, e))
            j++;
        return j - i;
    }
    m = whitespace_run(c, i, e);
    return m ? m : 1;
}

/* The tail shared by Llama 3 and tekken: ' ?[^\s\p{L}\p{N}]+[\r\n]*' (tekken: [\r\n/]*),
 * then \s*[\r\n]+, then \s+(?!\S)|\s+. */
static size_t symbols_or_space(const ctx *c, size_t i, size_t e, bool slash)
{
    size_t j = i + (cp_at(c, i, e) == ' ');
    if (is_other(c, j, e)) {
        while (is_other(c, j, e))
            j++;
        while (is_crlf(c, j, e) || (slash && cp_at(c, j, e) == '/'))
            j++;
        return j - i;
    }
    /* \s*[\r\n]+ ends after the last CR/LF of the whitespace run */
    size_t last_crlf = 0;
    for (j = i; is_s(c, j, e); j++)
        if (is_crlf(c, j, e))
            last_crlf = j + 1;
    if (last_crlf)
        return last_crlf - i;
    size_t m = whitespace_run(c, i, e);
    return m ? m : 1;
}

static size_t match_llama3_digits(const ctx *c, size_t i, size_t e, size_t max_digits)
{
    size_t m = contraction(c, i, e, true);
    if (m)
        return m;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (!is_crlf(c, i, e) && !is_n(c, i, e) && (is_l(c, i, e) || is_l(c, i + 1, e))) {
        size_t j = i + 1;
        while (is_l(c, j, e))
            j++;
        return j - i;
    }
    /* \p{N}{1,max} */
    if (is_n(c, i, e)) {
        size_t j = i;
        while (j - i < max_digits && is_n(c, j, e))
            j++;
        return j - i;
    }
    return symbols_or_space(c, i, e, false);
}

static size_t match_llama3(const ctx *c, size_t i, size_t e) { return match_llama3_digits(c, i, e, 3); }
static size_t match_qwen2(const ctx *c, size_t i, size_t e) { return match_llama3_digits(c, i, e, 1); }

/* tekken's letter classes: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
static bool is_upperish(const ctx *c, size_t i, size_t e)
{
    return i < e && ((c->cls[i] & UCLASS_MARK) ||
                     ((c->cls[i] & UCLASS_LETTER) && !(c->cls[i] & UCLASS_LOWER)));
}
static bool is_lowerish(const ctx *c, size_t i, size_t e)
{
    return i < e && ((c->cls[i] & UCLASS_MARK) ||
                     ((c->cls[i] & UCLASS_LETTER) && !(c->cls[i] & UCLASS_UPPER)));
}

/* Where [U]*[L]+ matching at j ends, 0 when it does not: the greedy U run gives back
 * characters until an L can follow, as a backtracking regex does. */
static size_t tekken_lower_word(const ctx *c, size_t j, size_t e)
{
    size_t u = j;
    while (is_upperish(c, u, e))
        u++;
    if (!is_lowerish(c, u, e)) {
        /* the last character of the run that is also an L ends the match */
        while (u > j && !is_lowerish(c, u - 1, e))
            u--;
        return u > j ? u : 0;
    }
    while (is_lowerish(c, u, e))
        u++;
    return u;
}

/* Where [U]+[L]* matching at j ends, 0 when it does not. */
static size_t tekken_upper_word(const ctx *c, size_t j, size_t e)
{
    size_t u = j;
    while (is_upperish(c, u, e))
        u++;
    if (u == j)
        return 0;
    while (is_lowerish(c, u, e))
        u++;
    return u;
}

/* [^\r\n\p{L}\p{N}]? in front of a word: with it first, then without. */
static size_t tekken_word(const ctx *c, size_t i, size_t e, size_t (*word)(const ctx *, size_t, size_t))
{
    size_t end;
    if (i < e && !is_crlf(c, i, e) && !is_l(c, i, e) && !is_n(c, i, e) && (end = word(c, i + 1, e)))
        return end - i;
    end = word(c, i, e);
    return end ? end - i : 0;
}

static size_t match_tekken(const ctx *c, size_t i, size_t e)
{
    size_t m = tekken_word(c, i, e, tekken_lower_word);
    if (!m)
        m = tekken_word(c, i, e, tekken_upper_word);
    if (m)
        return m;
    if (is_n(c, i, e))
        return 1;
    return symbols_or_space(c, i, e, true);
}

static size_t match_one_number(const ctx *c, size_t i, size_t e) { return is_n(c, i, e); }

static size_t match_number_run(const ctx *c, size_t i, size_t e)
{
    size_t j = i;
    while (is_n(c, j, e))
        j++;
    return j - i;
}

/* [\p{P}\$\+<=>\^~\|]+ */
static size_t match_punct_run(const ctx *c, size_t i, size_t e)
{
    size_t j = i;
    while (j < e && ((c->cls[j] & UCLASS_PUNCT) ||
                     (c->cp[j] < 128 && c->cp[j] && strchr("$+<=>^~|", (int)c->cp[j]))))
        j++;
    return j - i;
}

/* [0-9][0-9][0-9] */
static size_t match_three_digits(const ctx *c, size_t i, size_t e)
{
    for (size_t k = 0; k < 3; k++) {
        uint32_t cp = cp_at(c, i + k, e);
        if (cp < '0' || cp > '9')
            return 0;
    }
    return 3;
}

/* Splits [b, e) by the matches of m; unmatched stretches stay pieces of their own. */
static void split_range(const ctx *c, matcher m, size_t b, size_t e, range_vec *out)
{
    size_t start = b, i = b;
    while (i < e) {
        size_t len = m(c, i, e);
        if (!len) {
            i++;
            continue;
        }
        if (start < i)
            push(out, start, i);
        push(out, i, i + len);
        i += len;
        start = i;
    }
    if (start < e)
        push(out, start, e);
}

int pretok_kind_from_name(const char *name, size_t len, pretok_kind *kind)
{
    static const struct { const char *name; pretok_kind kind; } names[] = {
        {"default", PRETOK_DEFAULT},     {"gpt-2", PRETOK_GPT2},
        {"mpt", PRETOK_GPT2},            {"olmo", PRETOK_GPT2},
        {"starcoder", PRETOK_STARCODER}, {"refact", PRETOK_STARCODER},
        {"command-r", PRETOK_STARCODER}, {"smollm", PRETOK_STARCODER},
        {"llama-bpe", PRETOK_LLAMA3},    {"llama3", PRETOK_LLAMA3},
        {"llama-v3", PRETOK_LLAMA3},     {"smaug-bpe", PRETOK_LLAMA3},
        {"qwen2", PRETOK_QWEN2},         {"deepseek-r1-qwen", PRETOK_QWEN2},
        {"stablelm2", PRETOK_QWEN2},
        {"tekken", PRETOK_TEKKEN},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == len && memcmp(names[i].name, name, len) == 0) {
            *kind = names[i].kind;
            return 0;
        }
    }
    return -1;
}

static size_t stages_of(pretok_kind kind, matcher st[4])
{
    switch (kind) {
    case PRETOK_DEFAULT:
        st[0] = match_punct_run;
        st[1] = match_gpt2;
        st[2] = match_number_run;
        st[3] = match_three_digits;
        return 4;
    case PRETOK_STARCODER:
        st[0] = match_one_number;
        st[1] = match_gpt2;
        return 2;
    case PRETOK_LLAMA3:
        st[0] = match_llama3;
        return 1;
    case PRETOK_QWEN2:
        st[0] = match_qwen2;
        return 1;
    case PRETOK_TEKKEN:
        st[0] = match_tekken;
        return 1;
    case PRETOK_GPT2:
    default:
        st[0] = match_gpt2;
        return 1;
    }
}

int pretok_split(pretok_kind kind, const char *text, size_t len, pretok_piece **pieces, size_t *n)
{
    *pieces = NULL;
    *n = 0;
    if (len == 0)
        return 0;
    ctx c = {malloc(len * sizeof *c.cp), malloc(len * sizeof *c.cls),
             malloc((len + 1) * sizeof *c.offs), 0};
    range_vec cur = {0}, next = {0};
    int rc = -1;
    if (!c.cp || !c.cls || !c.offs)
        goto out;
    for (size_t at = 0, adv; at < len; at += adv) {
        c.offs[c.n] = at;
        c.cp[c.n] = utf8_decode(text + at, len - at, &adv);
        c.cls[c.n] = unicode_class(c.cp[c.n]);
        c.n++;
    }
    c.offs[c.n] = len;
    matcher st[4];
    size_t n_st = stages_of(kind, st);
    push(&cur, 0, c.n);
    for (size_t s = 0; s < n_st && !cur.oom; s++) {
        next.n = 0;
        for (size_t p = 0; p < cur.n; p++)
            split_range(&c, st[s], cur.r[p][0], cur.r[p][1], &next);
        range_vec t = cur;
        cur = next;
        next = t;
    }
    if (cur.oom)
        goto out;
    *pieces = malloc(cur.n * sizeof **pieces);
    if (!*pieces)
        goto out;
    for (size_t p = 0; p < cur.n; p++) {
        (*pieces)[p].off = c.offs[cur.r[p][0]];
        (*pieces)[p].len = c.offs[cur.r[p][1]] - c.offs[cur.r[p][0]];
    }
    *n = cur.n;
    rc = 0;
out:
    free(c.cp);
    free(c.cls);
    free(c.offs);
    free(cur.r);
    free(next.r);
    return rc;
}
