/* The tokenizer: text, {{ }}, {% %} and {# #} with Jinja2's whitespace control under
 * trim_blocks and lstrip_blocks ('-' strips all whitespace on that side, '+' keeps it, a
 * block or comment tag alone on its line loses the indentation before it and the newline
 * after it), newlines normalised to \n and the source's final newline dropped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/jinja_internal.h"

typedef struct lexer {
    jarena *a;
    const char *s;
    size_t n, i;
    int line;
    jtok *t;
    size_t nt, cap;
    jinja_error *err;
} lexer;

static int lfail(lexer *L, const char *fmt, const char *arg)
{
    L->err->line = L->line;
    int k = snprintf(L->err->msg, sizeof L->err->msg, "line %d: ", L->line);
    snprintf(L->err->msg + k, sizeof L->err->msg - (size_t)k, fmt, arg);
    return -1;
}

static jtok *push(lexer *L, jtok_kind k)
{
    if (L->nt == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        jtok *t = ja_alloc(L->a, cap * sizeof *t);
        if (!t) {
            lfail(L, "template too large (%s)", "out of memory");
            return NULL;
        }
        if (L->nt)
            memcpy(t, L->t, L->nt * sizeof *t);
        L->t = t;
        L->cap = cap;
    }
    jtok *t = &L->t[L->nt++];
    memset(t, 0, sizeof *t);
    t->k = k;
    t->line = L->line;
    return t;
}

static void count_lines(lexer *L, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (L->s[i] == '\n')
            L->line++;
}

/* Skips whitespace in a tag. */
static void skip_ws(lexer *L)
{
    size_t l;
    while (L->i < L->n && py_isspace_at(L->s, L->n, L->i, &l)) {
        if (L->s[L->i] == '\n')
            L->line++;
        L->i += l;
    }
}

static bool at(const lexer *L, const char *p)
{
    size_t k = strlen(p);
    return L->n - L->i >= k && !memcmp(L->s + L->i, p, k);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string literal with Python's escapes (\n \t \xhh \uhhhh, octal; others kept). */
static int lex_string(lexer *L)
{
    char q = L->s[L->i];
    size_t start = ++L->i;
    int line0 = L->line;
    while (L->i < L->n && L->s[L->i] != q) {
        if (L->s[L->i] == '\\' && L->i + 1 < L->n)
            L->i++;
        if (L->s[L->i] == '\n')
            L->line++;
        L->i++;
    }
    if (L->i >= L->n) {
        L->line = line0;
        return lfail(L, "unterminated string literal%s", "");
    }
    size_t end = L->i++;
    char *o = ja_alloc(L->a, end - start + 1);
    if (!o)
        return lfail(L, "template too large (%s)", "out of memory");
    size_t k = 0;
    for (size_t i = start; i < end; i++) {
        char c = L->s[i];
        if (c != '\\' || i + 1 >= end) {
            o[k++] = c;
            continue;
        }
        char e = L->s[++i];
        int digits = 0;
        switch (e) {
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\\': case '\'': case '"': o[k++] = e; break;
        case '\n': break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int d = 0; d < 2 && i + 1 < end && L->s[i + 1] >= '0' && L->s[i + 1] <= '7'; d++)
                    cp = cp * 8 + (uint32_t)(L->s[++i] - '0');
                k += put_utf8(o + k, cp);
            } else {
                o[k++] = '\\';
                o[k++] = e;
            }
        }
        if (digits) {
            uint32_t cp = 0;
            for (int d = 0; d < digits; d++) {
                int h = i + 1 < end ? hexval(L->s[i + 1]) : -1;
                if (h < 0)
                    return lfail(L, "malformed \\%s escape in a string literal", (char[]){e, 0});
                cp = cp << 4 | (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return lfail(L, "escape \\%s outside Unicode in a string literal", (char[]){e, 0});
            /* \x and \u escapes can be longer in UTF-8 than in the source: only \U of
             * a small code point could overflow, and 8 digits leave room for 4 bytes. */
            k += put_utf8(o + k, cp);
        }
    }
    jtok *t = push(L, JT_STRING);
    if (!t)
        return -1;
    t->line = line0;
    t->s = o;
    t->n = k;
    return 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name(char c, bool first)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && is_digit(c));
}

/* Digits with optional '_' separators, appended to buf. */
static void digits(lexer *L, char *buf, size_t *k, size_t cap)
{
    while (L->i < L->n && (is_digit(L->s[L->i]) ||
                           (L->s[L->i] == '_' && L->i + 1 < L->n && is_digit(L->s[L->i + 1]) &&
                            L->i > 0 && is_digit(L->s[L->i - 1])))) {
        if (L->s[L->i] != '_' && *k + 1 < cap)
            buf[(*k)++] = L->s[L->i];
        L->i++;
    }
}

static int lex_number(lexer *L)
{
    char buf[64];
    size_t k = 0;
    bool is_float = false;
    digits(L, buf, &k, sizeof buf);
    if (L->i + 1 < L->n && L->s[L->i] == '.' && is_digit(L->s[L->i + 1])) {
        is_float = true;
        buf[k++] = '.';
        L->i++;
        digits(L, buf, &k, sizeof buf);
    }
    if (L->i < L->n && (L->s[L->i] == 'e' || L->s[L->i] == 'E')) {
        size_t j = L->i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-'))
            j++;
        if (j < L->n && is_digit(L->s[j])) {
            is_float = true;
            if (k + 1 < sizeof buf)
                buf[k++] = 'e';
            for (size_t x = L->i + 1; x < j; x++)
                if (k + 1 < sizeof buf)
                    buf[k++] = L->s[x];
            L->i = j;
            digits(L, buf, &k, sizeof buf);
        }
    }
    if (k + 1 >= sizeof buf)
        return lfail(L, "number literal too long%s", "");
    buf[k] = 0;
    if (!is_float && buf[0] == '0' && strspn(buf, "0") != k)
        return lfail(L, "leading zeros in the integer literal %s", buf);
    jtok *t = push(L, is_float ? JT_FLOAT : JT_INT);
    if (!t)
        return -1;
    if (is_float) {
        t->f = strtod(buf, NULL);
    } else {
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno)
            return lfail(L, "integer literal %s out of range", buf);
        t->i = v;
    }
    return 0;
}

static const char *const ops[] = {"**", "//", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%",
                                  "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":",
                                  "|", ",", ";"};

/* The inside of {{ }} or {% %} up to its end tag; *strip_after: the tag ended with '-'. */
static int lex_tag(lexer *L, const char *end, jtok_kind end_kind, bool *strip_after, bool *keep_after)
{
    int depth = 0;
    for (;;) {
        skip_ws(L);
        if (L->i >= L->n)
            return lfail(L, "missing '%s' at the end of the template", end);
        if (depth == 0) {
            bool minus = L->s[L->i] == '-' && L->n - L->i > 2 && !memcmp(L->s + L->i + 1, end, 2);
            /* '+%}' keeps the newline trim_blocks would drop; variables have no '+}}' */
            bool plus = end_kind == JT_BLOCK_END && L->s[L->i] == '+' && L->n - L->i > 2 &&
                        !memcmp(L->s + L->i + 1, end, 2);
            if (minus || plus || at(L, end)) {
                L->i += minus || plus ? 3 : 2;
                *strip_after = minus;
                *keep_after = plus;
                return push(L, end_kind) ? 0 : -1;
            }
        }
        char c = L->s[L->i];
        if (c == '\'' || c == '"') {
            if (lex_string(L))
                return -1;
        } else if (is_digit(c)) {
            if (lex_number(L))
                return -1;
        } else if (is_name(c, true)) {
            size_t s = L->i;
            while (L->i < L->n && is_name(L->s[L->i], false))
                L->i++;
            jtok *t = push(L, JT_NAME);
            if (!t)
                return -1;
            t->s = L->s + s;
            t->n = L->i - s;
        } else {
            size_t k = 0;
            for (; k < sizeof ops / sizeof ops[0]; k++)
                if (at(L, ops[k]))
                    break;
            if (k == sizeof ops / sizeof ops[0])
                return lfail(L, "unexpected character '%s' in a tag", (char[]){c, 0});
            if (c == '(' || c == '[' || c == '{')
                depth++;
            else if ((c == ')' || c == ']' || c == '}') && depth > 0)
                depth--;
            jtok *t = push(L, JT_OP);
            if (!t)
                return -1;
            t->s = ops[k];
            t->n = strlen(ops[k]);
            L->i += t->n;
        }
    }
}

/* After an end tag: '-' strips all whitespace, otherwise trim_blocks drops one newline
 * (block and comment tags). Returns whether the text now starts a line. */
static bool after_tag(lexer *L, bool strip, bool keep, bool trim)
{
    if (strip) {
        size_t l;
        while (L->i < L->n && py_isspace_at(L->s, L->n, L->i, &l)) {
            if (L->s[L->i] == '\n')
                L->line++;
            L->i += l;
        }
        return L->i > 0 && L->s[L->i - 1] == '\n';
    }
    if (trim && !keep && L->i < L->n && L->s[L->i] == '\n') {
        L->i++;
        L->line++;
        return true;
    }
    return false;
}

static bool all_space(const char *s, size_t n)
{
    size_t l;
    for (size_t i = 0; i < n; i += l)
        if (!py_isspace_at(s, n, i, &l))
            return false;
    return true;
}

static int lex_source(lexer *L)
{
    bool line_starting = true;
    while (L->i < L->n) {
        /* the next tag opening */
        size_t j = L->i;
        const char *open = NULL;
        for (; j + 1 < L->n; j++)
            if (L->s[j] == '{' && (L->s[j + 1] == '{' || L->s[j + 1] == '%' || L->s[j + 1] == '#')) {
                open = L->s + j;
                break;
            }
        size_t text_end = open ? j : L->n;
        size_t keep = text_end - L->i;
        char sign = open && j + 2 < L->n ? L->s[j + 2] : 0;
        if (open && sign == '-') {
            size_t l;
            while (keep > 0) {
                size_t k = keep - 1;
                while (k > 0 && ((unsigned char)L->s[L->i + k] & 0xC0) == 0x80)
                    k--;
                if (!py_isspace_at(L->s + L->i, keep, k, &l))
                    break;
                keep = k;
            }
        } else if (open && sign != '+' && open[1] != '{') {
            size_t l_pos = keep;
            while (l_pos > 0 && L->s[L->i + l_pos - 1] != '\n')
                l_pos--;
            if ((l_pos > 0 || line_starting) && l_pos < keep && all_space(L->s + L->i + l_pos, keep - l_pos))
                keep = l_pos;
        }
        if (keep) {
            jtok *t = push(L, JT_DATA);
            if (!t)
                return -1;
            t->s = L->s + L->i;
            t->n = keep;
        }
        count_lines(L, L->i, text_end);
        L->i = text_end;
        if (!open)
            break;
        L->i += 2 + (sign == '-' || sign == '+');
        bool strip = false, keep_nl = false;
        if (open[1] == '#') {
            size_t k = L->i;
            for (; k + 1 < L->n; k++)
                if (L->s[k] == '#' && L->s[k + 1] == '}')
                    break;
            if (k + 1 >= L->n) {
                if (L->i >= L->n)
                    break; /* "{#" ending the source: Jinja2 stops there */
                return lfail(L, "unterminated comment%s", "");
            }
            strip = k > L->i && L->s[k - 1] == '-';
            keep_nl = k > L->i && L->s[k - 1] == '+';
            count_lines(L, L->i, k);
            L->i = k + 2;
            line_starting = after_tag(L, strip, keep_nl, true);
        } else if (open[1] == '{') {
            if (!push(L, JT_VAR_BEGIN) || lex_tag(L, "}}", JT_VAR_END, &strip, &keep_nl))
                return -1;
            line_starting = after_tag(L, strip, keep_nl, false);
        } else {
            if (!push(L, JT_BLOCK_BEGIN) || lex_tag(L, "%}", JT_BLOCK_END, &strip, &keep_nl))
                return -1;
            line_starting = after_tag(L, strip, keep_nl, true);
        }
    }
    return push(L, JT_EOF) ? 0 : -1;
}

int jinja_lex(jarena *a, const char *src, size_t len, jtok **toks, size_t *ntoks, jinja_error *err)
{
    /* newlines normalised and the final one dropped, as Jinja2 does */
    char *s = ja_alloc(a, len + 1);
    lexer L = {.a = a, .line = 1, .err = err};
    if (!s)
        return lfail(&L, "template too large (%s)", "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n && s[n - 1] == '\n')
        n--;
    s[n] = 0;
    L.s = s;
    L.n = n;
    if (lex_source(&L))
        return -1;
    *toks = L.t;
    *ntoks = L.nt;
    return 0;
}
