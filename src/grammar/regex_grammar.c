/* A regular expression → a GBNF expression. The subset: literals, escapes (\d \w \s and
 * their negations, \n \t \r \f \v, \xHH, \uHHHH, escaped punctuation), classes with ranges
 * and negation, `.` (any character but a newline, as Python's re), groups `( )` `(?: )`,
 * `|`, the quantifiers * + ? {m} {m,} {m,n} (a lazy `?` after them changes nothing about
 * what matches), and anchors ^ and $ at the ends only. Anything else is an error naming
 * it: backreferences, lookarounds, \b, named groups. */
#include <stdlib.h>
#include <string.h>

#include "grammar/compile.h"
#include "grammar/gbnf_text.h"
#include "grammar/regex_internal.h"
#include "grammar/text_scan.h"

typedef struct rx {
    const char *s, *pos, *end;
    gbnf_buf *out;
    int json;          /* characters as they are written inside a JSON string */
    int depth;
    grammar_error *err;
} rx;

typedef struct rrange {
    uint32_t lo, hi;
} rrange;

typedef struct rset {
    rrange r[80]; /* 64 from a pattern, room for complements */
    size_t n;
} rset;

static int rx_fail(rx *x, const char *what)
{
    /* The pattern is counted, not NUL-terminated (a JSON string may hold a NUL). */
    size_t len = (size_t)(x->end - x->s);
    return grammar_fail(x->err, "regex: %s at offset %zu of '%.*s'", what,
                        (size_t)(x->pos - x->s), (int)(len < 80 ? len : 80), x->s);
}

static int add_range(rx *x, rset *s, uint32_t lo, uint32_t hi)
{
    if (s->n == 64)
        return rx_fail(x, "a character class with more than 64 ranges");
    s->r[s->n++] = (rrange){lo, hi};
    return 0;
}

static int by_lo(const void *a, const void *b)
{
    const rrange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void normalize(rset *s)
{
    qsort(s->r, s->n, sizeof s->r[0], by_lo);
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (m && s->r[i].lo <= s->r[m - 1].hi + 1) {
            if (s->r[i].hi > s->r[m - 1].hi)
                s->r[m - 1].hi = s->r[i].hi;
        } else {
            s->r[m++] = s->r[i];
        }
    }
    s->n = m;
}

static void complement(rset *s)
{
    normalize(s);
    rset c = {.n = 0};
    uint32_t next = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->r[i].lo > next)
            c.r[c.n++] = (rrange){next, s->r[i].lo - 1};
        next = s->r[i].hi + 1;
    }
    if (next <= 0x10FFFF)
        c.r[c.n++] = (rrange){next, 0x10FFFF};
    *s = c;
}

/* In JSON mode a class cannot match '"', '\' or a control character: written raw they
 * would end or break the string (their escaped forms are not offered). */
static void json_safe(rset *s)
{
    complement(s);
    s->r[s->n++] = (rrange){0, 0x1F};
    s->r[s->n++] = (rrange){'"', '"'};
    s->r[s->n++] = (rrange){'\\', '\\'};
    complement(s);
}

static void emit_set(rx *x, rset *s)
{
    if (x->json)
        json_safe(s);
    else
        normalize(s);
    if (s->n == 0) {
        gbnf_printf(x->out, "[^\\x00-\\U0010FFFF]"); /* matches nothing: the parser says so */
        return;
    }
    gbnf_printf(x->out, "[");
    for (size_t i = 0; i < s->n; i++) {
        gbnf_char(x->out, s->r[i].lo);
        if (s->r[i].hi != s->r[i].lo) {
            gbnf_printf(x->out, "-");
            gbnf_char(x->out, s->r[i].hi);
        }
    }
    gbnf_printf(x->out, "]");
}

static void emit_char(rx *x, uint32_t c)
{
    if (x->json && (c == '"' || c == '\\'))
        gbnf_printf(x->out, "\"\\\\%s\"", c == '"' ? "\\\"" : "\\\\");
    else if (x->json && c < 0x20)
        gbnf_printf(x->out, "\"\\\\u%04x\"", c);
    else {
        gbnf_printf(x->out, "\"");
        gbnf_char(x->out, c);
        gbnf_printf(x->out, "\"");
    }
}

static int decode_utf8(rx *x, uint32_t *out)
{
    int len = text_utf8_char(x->pos, (size_t)(x->end - x->pos), out);
    if (!len)
        return rx_fail(x, "malformed UTF-8");
    x->pos += len;
    return 0;
}

static int hex(rx *x, int n, uint32_t *out)
{
    if (text_hex(x->pos, (size_t)(x->end - x->pos), n, out))
        return rx_fail(x, "expected a hexadecimal digit");
    x->pos += n;
    return 0;
}

/* After a backslash: a class escape fills set (returns 1), a character fills *c (0). */
static int parse_escape(rx *x, rset *set, uint32_t *c)
{
    if (x->pos >= x->end)
        return rx_fail(x, "a pattern ending in a backslash");
    char e = *x->pos++;
    set->n = 0;
    switch (e) {
    case 'd': case 'D':
        if (add_range(x, set, '0', '9'))
            return -1;
        if (e == 'D')
            complement(set);
        return 1;
    case 'w': case 'W':
        if (add_range(x, set, '0', '9') || add_range(x, set, 'A', 'Z') ||
            add_range(x, set, 'a', 'z') || add_range(x, set, '_', '_'))
            return -1;
        if (e == 'W')
            complement(set);
        return 1;
    case 's': case 'S':
        if (add_range(x, set, '\t', '\r') || add_range(x, set, ' ', ' '))
            return -1;
        if (e == 'S')
            complement(set);
        return 1;
    case 'n': *c = '\n'; return 0;
    case 't': *c = '\t'; return 0;
    case 'r': *c = '\r'; return 0;
    case 'f': *c = '\f'; return 0;
    case 'v': *c = '\v'; return 0;
    case 'x': return hex(x, 2, c) ? -1 : 0;
    case 'u': return hex(x, 4, c) ? -1 : 0;
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
            x->pos -= 2;
            return rx_fail(x, "an unsupported escape (backreferences, \\b, \\A and the like)");
        }
        *c = (uint32_t)(unsigned char)e;
        return 0;
    }
}

static int parse_class(rx *x)
{
    x->pos++; /* '[' */
    rset s = {.n = 0};
    int negate = x->pos < x->end && *x->pos == '^';
    if (negate)
        x->pos++;
    int first = 1;
    while (x->pos < x->end && (*x->pos != ']' || first)) {
        first = 0;
        uint32_t lo, hi;
        if (*x->pos == '\\') {
            x->pos++;
            rset sub;
            int k = parse_escape(x, &sub, &lo);
            if (k < 0)
                return -1;
            if (k == 1) {
                for (size_t i = 0; i < sub.n; i++)
                    if (add_range(x, &s, sub.r[i].lo, sub.r[i].hi))
                        return -1;
                continue;
            }
        } else if (*x->pos == '[' && x->pos + 1 < x->end && x->pos[1] == ':') {
            return rx_fail(x, "POSIX classes [:name:] are not supported");
        } else if (decode_utf8(x, &lo)) {
            return -1;
        }
        hi = lo;
        if (x->pos + 1 < x->end && *x->pos == '-' && x->pos[1] != ']') {
            x->pos++;
            if (*x->pos == '\\') {
                x->pos++;
                rset sub;
                int k = parse_escape(x, &sub, &hi);
                if (k != 0)
                    return k < 0 ? -1 : rx_fail(x, "a class escape as the end of a range");
            } else if (decode_utf8(x, &hi)) {
                return -1;
            }
            if (hi < lo)
                return rx_fail(x, "a class range runs backwards");
        }
        if (add_range(x, &s, lo, hi))
            return -1;
    }
    if (x->pos >= x->end)
        return rx_fail(x, "an unterminated character class");
    x->pos++;
    if (negate)
        complement(&s);
    emit_set(x, &s);
    return 0;
}

static int parse_alt(rx *x);

static int parse_count(rx *x, unsigned long *v)
{
    if (x->pos >= x->end || *x->pos < '0' || *x->pos > '9')
        return rx_fail(x, "expected a count in {}");
    *v = 0;
    while (x->pos < x->end && *x->pos >= '0' && *x->pos <= '9') {
        *v = *v * 10 + (unsigned long)(*x->pos++ - '0');
        if (*v > 10000)
            return rx_fail(x, "a repetition count above 10000");
    }
    return 0;
}

static int parse_quant(rx *x)
{
    if (x->pos >= x->end)
        return 0;
    char c = *x->pos;
    if (c == '*' || c == '+' || c == '?') {
        gbnf_printf(x->out, "%c", c);
        x->pos++;
    } else if (c == '{') {
        x->pos++;
        unsigned long m = 0, n = 0;
        if (parse_count(x, &m))
            return -1;
        if (x->pos < x->end && *x->pos == ',') {
            x->pos++;
            if (x->pos < x->end && *x->pos == '}') {
                gbnf_printf(x->out, "{%lu,}", m);
            } else {
                if (parse_count(x, &n))
                    return -1;
                if (n < m)
                    return rx_fail(x, "a repetition {m,n} with n < m");
                gbnf_printf(x->out, "{%lu,%lu}", m, n);
            }
        } else {
            gbnf_printf(x->out, "{%lu}", m);
        }
        if (x->pos >= x->end || *x->pos != '}')
            return rx_fail(x, "expected '}'");
        x->pos++;
    } else {
        return 0;
    }
    if (x->pos < x->end && *x->pos == '?')
        x->pos++; /* lazy: the same strings match */
    if (x->pos < x->end && (*x->pos == '*' || *x->pos == '+' || *x->pos == '?' || *x->pos == '{'))
        return rx_fail(x, "a quantifier after a quantifier (possessive or repeated)");
    return 0;
}

static int parse_seq(rx *x)
{
    gbnf_printf(x->out, "(\"\"");
    while (x->pos < x->end && *x->pos != '|' && *x->pos != ')') {
        char c = *x->pos;
        gbnf_printf(x->out, " ");
        if (c == '(') {
            x->pos++;
            if (x->pos < x->end && *x->pos == '?') {
                if (x->pos + 1 < x->end && x->pos[1] == ':')
                    x->pos += 2;
                else
                    return rx_fail(x, "lookarounds, named groups and flags are not supported");
            }
            if (++x->depth > 100)
                return rx_fail(x, "groups nested more than 100 deep");
            if (parse_alt(x))
                return -1;
            x->depth--;
            if (x->pos >= x->end || *x->pos != ')')
                return rx_fail(x, "expected ')'");
            x->pos++;
        } else if (c == '[') {
            if (parse_class(x))
                return -1;
        } else if (c == '.') {
            x->pos++;
            rset s = {.r = {{'\n', '\n'}}, .n = 1};
            complement(&s);
            emit_set(x, &s);
        } else if (c == '\\') {
            x->pos++;
            rset s;
            uint32_t ch;
            int k = parse_escape(x, &s, &ch);
            if (k < 0)
                return -1;
            if (k == 1)
                emit_set(x, &s);
            else
                emit_char(x, ch);
        } else if (c == '^' || c == '$') {
            return rx_fail(x, "an anchor inside the pattern (only ^ at its start and $ at its "
                              "end are supported)");
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            return rx_fail(x, "a quantifier with nothing to repeat");
        } else {
            uint32_t ch;
            if (decode_utf8(x, &ch))
                return -1;
            emit_char(x, ch);
        }
        if (parse_quant(x))
            return -1;
    }
    gbnf_printf(x->out, ")");
    return 0;
}

static int parse_alt(rx *x)
{
    gbnf_printf(x->out, "(");
    if (parse_seq(x))
        return -1;
    while (x->pos < x->end && *x->pos == '|') {
        x->pos++;
        gbnf_printf(x->out, " | ");
        if (parse_seq(x))
            return -1;
    }
    gbnf_printf(x->out, ")");
    return 0;
}

int regex_emit(gbnf_buf *out, const char *re, size_t len, int json_mode, int anchored,
               grammar_error *err)
{
    rx x = {.s = re, .pos = re, .end = re + len, .out = out, .json = json_mode, .err = err};
    int start = len && re[0] == '^';
    /* A final $ is an anchor unless an odd number of backslashes escapes it. */
    size_t slashes = 0;
    while (len >= 2 + slashes && re[len - 2 - slashes] == '\\')
        slashes++;
    int end = len > (size_t)start && re[len - 1] == '$' && slashes % 2 == 0;
    x.pos += start;
    x.end -= end;
    rset any = {.r = {{'\n', '\n'}}, .n = 1};
    complement(&any);
    gbnf_printf(out, "(");
    if (!anchored && !start) {
        emit_set(&x, &any);
        gbnf_printf(out, "* ");
    }
    if (parse_alt(&x))
        return -1;
    if (x.pos != x.end)
        return rx_fail(&x, "an unmatched ')'");
    if (!anchored && !end) {
        any = (rset){.r = {{'\n', '\n'}}, .n = 1};
        complement(&any);
        gbnf_printf(out, " ");
        emit_set(&x, &any);
        gbnf_printf(out, "*");
    }
    gbnf_printf(out, ")");
    return 0;
}

static int finish(gbnf_buf *b, char **out, grammar_error *err)
{
    if (b->oom) {
        gbnf_buf_free(b);
        return grammar_fail(err, "grammar: out of memory writing the grammar");
    }
    *out = b->p;
    return 0;
}

int grammar_from_regex(const char *re, size_t len, char **gbnf, grammar_error *err)
{
    *gbnf = NULL;
    gbnf_buf b = {0};
    gbnf_printf(&b, "root ::= ");
    if (regex_emit(&b, re, len, 0, 1, err)) {
        gbnf_buf_free(&b);
        return -1;
    }
    gbnf_printf(&b, "\n");
    return finish(&b, gbnf, err);
}

int grammar_from_choices(const char *const *choices, const size_t *lens, size_t n, char **gbnf,
                         grammar_error *err)
{
    *gbnf = NULL;
    if (n == 0)
        return grammar_fail(err, "guided_choice: no choices given");
    gbnf_buf b = {0};
    gbnf_printf(&b, "root ::= ");
    for (size_t i = 0; i < n; i++) {
        if (i)
            gbnf_printf(&b, " | ");
        gbnf_literal(&b, choices[i], lens[i]);
    }
    gbnf_printf(&b, "\n");
    return finish(&b, gbnf, err);
}
