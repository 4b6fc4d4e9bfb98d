/* The pre-tokenizers against their published regular expressions. The production scanners
 * (src/model/tokenizer_pretok.c) are hand-written; here each regex is written out as the
 * specification gives it (the pattern of the model's tokenizer.json), as a tree of the
 * regex constructs it uses, and run by a small backtracking matcher with the semantics of
 * the regex engines Hugging Face's tokenizers use (leftmost alternative first, greedy
 * quantifiers that give back). Character classes come from utf8proc's general categories
 * and the White_Space property listed here, not from src/model/unicode.c. The text is
 * split as findall does: consecutive leftmost matches. Random strings over an alphabet
 * that has every category the regexes name must split identically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "model/tokenizer_pretok.h"
#include "testutil.h"

/* ---- character classes ---- */

typedef bool (*cp_pred)(uint32_t cp);

static int cat(uint32_t cp) { return utf8proc_category((utf8proc_int32_t)cp); }

/* The White_Space property (Unicode PropList.txt), what \s means in Unicode regexes. */
static bool is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}
static bool is_lu(uint32_t cp) { return cat(cp) == UTF8PROC_CATEGORY_LU; }
static bool is_ll(uint32_t cp) { return cat(cp) == UTF8PROC_CATEGORY_LL; }
static bool is_lt(uint32_t cp) { return cat(cp) == UTF8PROC_CATEGORY_LT; }
static bool is_lm(uint32_t cp) { return cat(cp) == UTF8PROC_CATEGORY_LM; }
static bool is_lo(uint32_t cp) { return cat(cp) == UTF8PROC_CATEGORY_LO; }
static bool is_m(uint32_t cp)
{
    int c = cat(cp);
    return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}
static bool is_letter(uint32_t cp)
{
    return is_lu(cp) || is_ll(cp) || is_lt(cp) || is_lm(cp) || is_lo(cp);
}
static bool is_number(uint32_t cp)
{
    int c = cat(cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}
static bool is_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }
static bool not_space(uint32_t cp) { return !is_space(cp); }
/* [^\s\p{L}\p{N}] */
static bool is_other(uint32_t cp) { return !is_space(cp) && !is_letter(cp) && !is_number(cp); }
/* [^\r\n\p{L}\p{N}] */
static bool not_crlf_l_n(uint32_t cp) { return !is_crlf(cp) && !is_letter(cp) && !is_number(cp); }
/* tekken's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
static bool tekken_upper(uint32_t cp) { return is_lu(cp) || is_lt(cp) || is_lm(cp) || is_lo(cp) || is_m(cp); }
static bool tekken_lower(uint32_t cp) { return is_ll(cp) || is_lm(cp) || is_lo(cp) || is_m(cp); }
/* [\r\n/] */
static bool crlf_slash(uint32_t cp) { return is_crlf(cp) || cp == '/'; }
static bool is_apostrophe(uint32_t cp) { return cp == '\''; }
static bool is_sp(uint32_t cp) { return cp == ' '; }
#define LETTER_PRED(name, lo, up) \
    static bool name(uint32_t cp) { return cp == (lo) || cp == (up); }
LETTER_PRED(ch_s, 's', 'S')
LETTER_PRED(ch_t, 't', 'T')
LETTER_PRED(ch_r, 'r', 'R')
LETTER_PRED(ch_e, 'e', 'E')
LETTER_PRED(ch_v, 'v', 'V')
LETTER_PRED(ch_m, 'm', 'M')
LETTER_PRED(ch_l, 'l', 'L')
LETTER_PRED(ch_d, 'd', 'D')
static bool lower_s(uint32_t cp) { return cp == 's'; }
static bool lower_t(uint32_t cp) { return cp == 't'; }
static bool lower_r(uint32_t cp) { return cp == 'r'; }
static bool lower_e(uint32_t cp) { return cp == 'e'; }
static bool lower_v(uint32_t cp) { return cp == 'v'; }
static bool lower_m(uint32_t cp) { return cp == 'm'; }
static bool lower_l(uint32_t cp) { return cp == 'l'; }
static bool lower_d(uint32_t cp) { return cp == 'd'; }

/* ---- the regex tree and its matcher ---- */

enum { INF = 1 << 20 };
typedef enum { RE_CLASS, RE_SEQ, RE_ALT, RE_REPEAT, RE_NOT_FOLLOWED } re_kind;

typedef struct re {
    re_kind kind;
    cp_pred pred;              /* RE_CLASS */
    const struct re *const *kids; /* RE_SEQ, RE_ALT; RE_REPEAT, RE_NOT_FOLLOWED: kids[0] */
    int n_kids, min, max;      /* RE_REPEAT: greedy {min,max} */
} re;

typedef struct cont {
    const re *const *nodes;
    int n;
    const struct cont *next;
} cont;

typedef struct subject {
    const uint32_t *cp;
    int n;
} subject;

/* Matches nodes[0..n) then the continuation k at position i: the end of the whole match,
 * or -1. Alternatives and repetition counts are tried in the regex engines' order. */
static int match(const subject *s, const re *const *nodes, int n, int i, const cont *k)
{
    if (n == 0)
        return k ? match(s, k->nodes, k->n, i, k->next) : i;
    const re *r = nodes[0];
    cont rest = {nodes + 1, n - 1, k};
    switch (r->kind) {
    case RE_CLASS:
        return i < s->n && r->pred(s->cp[i]) ? match(s, nodes + 1, n - 1, i + 1, k) : -1;
    case RE_SEQ:
        return match(s, r->kids, r->n_kids, i, &rest);
    case RE_ALT:
        for (int a = 0; a < r->n_kids; a++) {
            int end = match(s, &r->kids[a], 1, i, &rest);
            if (end >= 0)
                return end;
        }
        return -1;
    case RE_REPEAT: {
        if (r->max > 0) { /* one more of the kid (it always consumes), then the rest of the count */
            re more = {RE_REPEAT, NULL, r->kids, 1, r->min > 0 ? r->min - 1 : 0,
                       r->max == INF ? INF : r->max - 1};
            const re *seq[2] = {r->kids[0], &more};
            int end = match(s, seq, 2, i, &rest);
            if (end >= 0)
                return end;
        }
        return r->min == 0 ? match(s, nodes + 1, n - 1, i, k) : -1;
    }
    case RE_NOT_FOLLOWED:
        return match(s, r->kids, 1, i, NULL) >= 0 ? -1 : match(s, nodes + 1, n - 1, i, k);
    }
    return -1;
}

#define CLS(name, p) static const re name = {RE_CLASS, p, NULL, 0, 0, 0}
#define KIDS(...) (const re *const[]){__VA_ARGS__}, (int)(sizeof((const re *const[]){__VA_ARGS__}) / sizeof(const re *))
#define SEQ(name, ...) static const re name = {RE_SEQ, NULL, KIDS(__VA_ARGS__), 0, 0}
#define ALT(name, ...) static const re name = {RE_ALT, NULL, KIDS(__VA_ARGS__), 0, 0}
#define REP(name, kid, lo, hi) static const re name = {RE_REPEAT, NULL, KIDS(&kid), lo, hi}

CLS(c_space, is_space); CLS(c_not_space, not_space); CLS(c_letter, is_letter);
CLS(c_number, is_number); CLS(c_other, is_other); CLS(c_crlf, is_crlf);
CLS(c_not_crlf_l_n, not_crlf_l_n); CLS(c_t_upper, tekken_upper); CLS(c_t_lower, tekken_lower);
CLS(c_crlf_slash, crlf_slash); CLS(c_apos, is_apostrophe); CLS(c_sp, is_sp);
CLS(c_s, ch_s); CLS(c_t, ch_t); CLS(c_r, ch_r); CLS(c_e, ch_e); CLS(c_v, ch_v); CLS(c_m, ch_m);
CLS(c_l, ch_l); CLS(c_d, ch_d);
CLS(l_s, lower_s); CLS(l_t, lower_t); CLS(l_r, lower_r); CLS(l_e, lower_e); CLS(l_v, lower_v);
CLS(l_m, lower_m); CLS(l_l, lower_l); CLS(l_d, lower_d);

/* shared pieces: ' ?', \s+(?!\S), \s+, \s*[\r\n]+ */
REP(opt_sp, c_sp, 0, 1);
REP(spaces, c_space, 1, INF);
REP(spaces0, c_space, 0, INF);
static const re not_followed_by_nonspace = {RE_NOT_FOLLOWED, NULL, KIDS(&c_not_space), 0, 0};
SEQ(spaces_not_before_text, &spaces, &not_followed_by_nonspace);
REP(crlfs, c_crlf, 1, INF);
SEQ(spaces_then_crlfs, &spaces0, &crlfs);
REP(letters, c_letter, 1, INF);
REP(numbers, c_number, 1, INF);
REP(others, c_other, 1, INF);
REP(crlfs0, c_crlf, 0, INF);
REP(opt_not_crlf_l_n, c_not_crlf_l_n, 0, 1);

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
SEQ(g_s, &c_apos, &l_s); SEQ(g_t, &c_apos, &l_t); SEQ(g_re, &c_apos, &l_r, &l_e);
SEQ(g_ve, &c_apos, &l_v, &l_e); SEQ(g_m, &c_apos, &l_m); SEQ(g_ll, &c_apos, &l_l, &l_l);
SEQ(g_d, &c_apos, &l_d);
SEQ(g_letters, &opt_sp, &letters); SEQ(g_numbers, &opt_sp, &numbers);
SEQ(g_others, &opt_sp, &others);
ALT(gpt2, &g_s, &g_t, &g_re, &g_ve, &g_m, &g_ll, &g_d, &g_letters, &g_numbers, &g_others,
    &spaces_not_before_text, &spaces);

/* Llama 3: (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+
 *   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+  (qwen2: \p{N} alone) */
SEQ(i_s, &c_apos, &c_s); SEQ(i_t, &c_apos, &c_t); SEQ(i_re, &c_apos, &c_r, &c_e);
SEQ(i_ve, &c_apos, &c_v, &c_e); SEQ(i_m, &c_apos, &c_m); SEQ(i_ll, &c_apos, &c_l, &c_l);
SEQ(i_d, &c_apos, &c_d);
ALT(contraction_ci, &i_s, &i_t, &i_re, &i_ve, &i_m, &i_ll, &i_d);
SEQ(l3_word, &opt_not_crlf_l_n, &letters);
REP(digits3, c_number, 1, 3);
SEQ(l3_others, &opt_sp, &others, &crlfs0);
ALT(llama3, &contraction_ci, &l3_word, &digits3, &l3_others, &spaces_then_crlfs,
    &spaces_not_before_text, &spaces);
ALT(qwen2, &contraction_ci, &l3_word, &c_number, &l3_others, &spaces_then_crlfs,
    &spaces_not_before_text, &spaces);

/* tekken: [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+
 *   |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*
 *   |\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
REP(t_upper0, c_t_upper, 0, INF); REP(t_upper1, c_t_upper, 1, INF);
REP(t_lower0, c_t_lower, 0, INF); REP(t_lower1, c_t_lower, 1, INF);
SEQ(t_word_lower, &opt_not_crlf_l_n, &t_upper0, &t_lower1);
SEQ(t_word_upper, &opt_not_crlf_l_n, &t_upper1, &t_lower0);
REP(crlf_slashes0, c_crlf_slash, 0, INF);
SEQ(t_others, &opt_sp, &others, &crlf_slashes0);
ALT(tekken, &t_word_lower, &t_word_upper, &c_number, &t_others, &spaces_then_crlfs,
    &spaces_not_before_text, &spaces);

/* ---- the comparison ---- */

/* Characters of every class the regexes tell apart, several per class. */
static const uint32_t alphabet[] = {
    'a', 'e', 'l', 's', 't', 'd', 'm', 'r', 'v', 'S', 'L', 'E', 'Z', 0xE9, 0xC9,  /* Lu Ll */
    0x01C5, 0x1F88,                  /* Lt */
    0x02B0, 0x3005,                  /* Lm */
    0x4E2D, 0x05D0, 0x0E01,          /* Lo */
    0x0301, 0x0903, 0x20DD,          /* Mn Mc Me */
    '0', '7', 0x0663, 0x216B, 0xBD,  /* Nd Nl No */
    ' ', ' ', ' ', '\t', '\n', '\r', 0x0B, 0xA0, 0x3000, 0x2028, 0x85, /* White_Space */
    0x1C,                            /* a control that is not White_Space */
    '\'', '/', '!', '.', ',', '$', '-', '_', 0x201C, 0x1F600, 0x2603,  /* the rest */
};
#define N_ALPHABET (sizeof alphabet / sizeof alphabet[0])

/* findall of the regex: consecutive leftmost matches, as code point offsets. */
static int regex_split(const re *rx, const uint32_t *cp, int n, int *ends)
{
    subject s = {cp, n};
    int count = 0;
    for (int i = 0; i < n;) {
        const re *top[1] = {rx};
        int end = match(&s, top, 1, i, NULL);
        assert_true(end > i); /* each of these regexes matches every character */
        ends[count++] = end;
        i = end;
    }
    return count;
}

static void describe(const uint32_t *cp, int n, char *out, size_t cap)
{
    size_t o = 0;
    for (int i = 0; i < n && o + 12 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%04X", i ? " " : "", (unsigned)cp[i]);
    out[o] = '\0';
}

static void check_string(pretok_kind kind, const re *rx, const uint32_t *cp, int n)
{
    char text[4 * 64] = {0};
    size_t bytes = 0, cp_at_byte[4 * 64 + 1];
    for (int i = 0; i < n; i++) {
        cp_at_byte[bytes] = (size_t)i;
        bytes += (size_t)utf8proc_encode_char((utf8proc_int32_t)cp[i], (utf8proc_uint8_t *)text + bytes);
    }
    cp_at_byte[bytes] = (size_t)n;
    int want[64];
    int n_want = regex_split(rx, cp, n, want);
    pretok_piece *pieces = NULL;
    size_t n_got = 0;
    assert_int_equal(pretok_split(kind, text, bytes, &pieces, &n_got), 0);
    bool same = n_got == (size_t)n_want;
    size_t at = 0;
    for (size_t p = 0; same && p < n_got; p++) {
        same = pieces[p].off == at && (int)cp_at_byte[pieces[p].off + pieces[p].len] == want[p];
        at = pieces[p].off + pieces[p].len;
    }
    if (!same) {
        char d[64 * 6];
        describe(cp, n, d, sizeof d);
        fprintf(stderr, "kind %d splits [%s] differently: regex %d pieces, scanner %zu:", kind,
                d, n_want, n_got);
        for (int p = 0; p < n_want; p++)
            fprintf(stderr, " %d", want[p]);
        fprintf(stderr, " | scanner ends:");
        for (size_t p = 0; p < n_got; p++)
            fprintf(stderr, " %zu", cp_at_byte[pieces[p].off + pieces[p].len]);
        fprintf(stderr, "\n");
    }
    free(pieces);
    assert_true(same);
}

static void check_kind(pretok_kind kind, const re *rx)
{
    /* fixed strings first: what the regexes were written for */
    static const char *const fixed[] = {
        "Hello world, it's 2026!", "  leading and trailing  ", "a\n\n  b\r\n\tc",
        "CamelCaseWORDS and HTTPServer", "path/to/file.txt\n/root", "I'LL they'Re we'VE",
        "123456789 1.5e10", "\xC3\x89t\xC3\xA9 na\xC3\xAFve \xE4\xB8\xAD\xE6\x96\x87",
    };
    for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++) {
        uint32_t cp[64];
        int n = 0;
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)fixed[f];
        for (utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(fixed[f]); left > 0 && n < 64;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t adv = utf8proc_iterate(p, left, &c);
            assert_true(adv > 0);
            cp[n++] = (uint32_t)c;
            p += adv;
            left -= adv;
        }
        check_string(kind, rx, cp, n);
    }
    uint64_t state = 0x9E3779B97F4A7C15ull ^ (uint64_t)kind;
    for (int t = 0; t < 20000; t++) {
        uint32_t cp[24];
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int n = (int)((state >> 33) % 25);
        for (int i = 0; i < n; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            cp[i] = alphabet[(state >> 33) % N_ALPHABET];
        }
        check_string(kind, rx, cp, n);
    }
}

static void gpt2_matches_its_regex(void **state)
{
    (void)state;
    check_kind(PRETOK_GPT2, &gpt2);
}

static void llama3_matches_its_regex(void **state)
{
    (void)state;
    check_kind(PRETOK_LLAMA3, &llama3);
}

static void qwen2_matches_its_regex(void **state)
{
    (void)state;
    check_kind(PRETOK_QWEN2, &qwen2);
}

static void tekken_matches_its_regex(void **state)
{
    (void)state;
    check_kind(PRETOK_TEKKEN, &tekken);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpt2_matches_its_regex),
        cmocka_unit_test(llama3_matches_its_regex),
        cmocka_unit_test(qwen2_matches_its_regex),
        cmocka_unit_test(tekken_matches_its_regex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
