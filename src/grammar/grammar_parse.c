/* The GBNF parser: text → rules of byte-set and rule-reference elements. Repetitions and
 * groups become generated rules; classes over non-ASCII characters become rules whose
 * alternatives are the UTF-8 byte sequences of their ranges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar_internal.h"
#include "grammar/text_scan.h"

enum { MAX_REPEAT = 10000, MAX_NEST = 200, MAX_ELEMENTS = 1 << 22 };

typedef struct evec {
    gelem *p;
    size_t n, cap;
} evec;

typedef struct crange {
    uint32_t lo, hi;
} crange;

typedef struct builder {
    const char *src, *pos, *end;
    evec *rules;
    char **names;
    unsigned char *defined;
    size_t n_rules, cap_rules;
    byteset *sets;
    size_t n_sets, cap_sets;
    size_t n_elements;
    int depth;
    grammar_error *err;
} builder;

/* "line L, column C" of the parse position, for messages. */
static int fail_at(builder *b, const char *what)
{
    int line = 1, col = 1;
    for (const char *p = b->src; p < b->pos && p < b->end; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return grammar_fail(b->err, "grammar: line %d, column %d: %s", line, col, what);
}

static int nomem(builder *b)
{
    return grammar_fail(b->err, "grammar: out of memory");
}

static int push(builder *b, evec *v, uint32_t type, uint32_t value)
{
    if (++b->n_elements > MAX_ELEMENTS)
        return grammar_fail(b->err, "grammar: more than %d elements (repetition counts too large)",
                            MAX_ELEMENTS);
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        gelem *p = realloc(v->p, cap * sizeof *p);
        if (!p)
            return nomem(b);
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = (gelem){type, value};
    return 0;
}

/* The id of rule `name` (len bytes), added undefined when new (always when fresh: a
 * generated name, unique); -1 when out of memory. */
static long rule_id(builder *b, const char *name, size_t len, int fresh)
{
    for (size_t i = 0; i < b->n_rules && !fresh; i++)
        if (b->names[i][0] != '~' && strlen(b->names[i]) == len && !memcmp(b->names[i], name, len))
            return (long)i;
    if (b->n_rules == b->cap_rules) {
        size_t cap = b->cap_rules ? 2 * b->cap_rules : 16;
        evec *r = realloc(b->rules, cap * sizeof *r);
        if (r)
            b->rules = r;
        char **nm = realloc(b->names, cap * sizeof *nm);
        if (nm)
            b->names = nm;
        unsigned char *d = realloc(b->defined, cap);
        if (d)
            b->defined = d;
        if (!r || !nm || !d)
            return -1;
        b->cap_rules = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, name, len);
    copy[len] = 0;
    b->rules[b->n_rules] = (evec){0};
    b->names[b->n_rules] = copy;
    b->defined[b->n_rules] = 0;
    return (long)b->n_rules++;
}

/* A generated rule "base_N", defined by the caller. */
static long new_rule(builder *b, uint32_t base)
{
    char name[96];
    int n = snprintf(name, sizeof name, "~%.60s~%zu", b->names[base], b->n_rules);
    long id = rule_id(b, name, (size_t)n, 1);
    if (id >= 0)
        b->defined[id] = 1;
    return id;
}

static long set_id(builder *b, const byteset *s)
{
    for (size_t i = 0; i < b->n_sets; i++)
        if (!memcmp(&b->sets[i], s, sizeof *s))
            return (long)i;
    if (b->n_sets == b->cap_sets) {
        size_t cap = b->cap_sets ? 2 * b->cap_sets : 16;
        byteset *p = realloc(b->sets, cap * sizeof *p);
        if (!p)
            return -1;
        b->sets = p;
        b->cap_sets = cap;
    }
    b->sets[b->n_sets] = *s;
    return (long)b->n_sets++;
}

static int push_range(builder *b, evec *v, uint8_t lo, uint8_t hi)
{
    byteset s = {{0}};
    for (unsigned c = lo; c <= hi; c++)
        s.w[c >> 6] |= 1ull << (c & 63);
    long id = set_id(b, &s);
    return id < 0 ? nomem(b) : push(b, v, GE_BYTES, (uint32_t)id);
}

/* ---- Characters --------------------------------------------------------------------- */

static int utf8_len(uint32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

static void utf8_encode(uint32_t c, uint8_t *o)
{
    switch (utf8_len(c)) {
    case 1: o[0] = (uint8_t)c; break;
    case 2: o[0] = (uint8_t)(0xC0 | c >> 6); o[1] = (uint8_t)(0x80 | (c & 0x3F)); break;
    case 3:
        o[0] = (uint8_t)(0xE0 | c >> 12);
        o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (c & 0x3F));
        break;
    default:
        o[0] = (uint8_t)(0xF0 | c >> 18);
        o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
        o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        o[3] = (uint8_t)(0x80 | (c & 0x3F));
    }
}

/* Decodes one UTF-8 character of the source; -1 when malformed. */
static int decode_utf8(builder *b, uint32_t *out)
{
    int len = text_utf8_char(b->pos, (size_t)(b->end - b->pos), out);
    b->pos += len;
    return len ? 0 : -1;
}

static int hex_digits(builder *b, int n, uint32_t *out)
{
    uint32_t v;
    if (text_hex(b->pos, (size_t)(b->end - b->pos), n, &v))
        return fail_at(b, "expected a hexadecimal digit in an escape");
    b->pos += n;
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return fail_at(b, "escape names no Unicode character");
    *out = v;
    return 0;
}

/* One character of a literal or class, escapes decoded. */
static int parse_char(builder *b, uint32_t *out)
{
    if (b->pos >= b->end)
        return fail_at(b, "unexpected end of the grammar");
    if (*b->pos != '\\') {
        if (decode_utf8(b, out))
            return fail_at(b, "malformed UTF-8");
        return 0;
    }
    b->pos++;
    char c = b->pos < b->end ? *b->pos++ : 0;
    switch (c) {
    case 'n': *out = '\n'; return 0;
    case 'r': *out = '\r'; return 0;
    case 't': *out = '\t'; return 0;
    case '0': *out = 0; return 0;
    case '\\': case '"': case '[': case ']': case '-': case '^': case '/':
        *out = (uint32_t)c;
        return 0;
    case 'x': return hex_digits(b, 2, out);
    case 'u': return hex_digits(b, 4, out);
    case 'U': return hex_digits(b, 8, out);
    default:
        b->pos--;
        return fail_at(b, "unknown escape");
    }
}

/* ---- Classes ------------------------------------------------------------------------ */

static int by_lo(const void *a, const void *b)
{
    const crange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges ranges, negates them over Unicode when asked, and removes the
 * surrogates: a new array (NULL when out of memory) of *n_out ranges. */
static crange *normalize_ranges(const crange *in, size_t n, int negate, size_t *n_out)
{
    crange *r = malloc((n + 3) * sizeof *r), *t = malloc((n + 3) * sizeof *t);
    if (!r || !t) {
        free(r);
        free(t);
        return NULL;
    }
    memcpy(r, in, n * sizeof *r);
    qsort(r, n, sizeof *r, by_lo);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && r[i].lo <= r[m - 1].hi + 1) {
            if (r[i].hi > r[m - 1].hi)
                r[m - 1].hi = r[i].hi;
        } else {
            r[m++] = r[i];
        }
    }
    if (negate) {
        size_t k = 0;
        uint32_t next = 0;
        for (size_t i = 0; i < m; i++) {
            if (r[i].lo > next)
                t[k++] = (crange){next, r[i].lo - 1};
            next = r[i].hi + 1;
        }
        if (next <= 0x10FFFF)
            t[k++] = (crange){next, 0x10FFFF};
        memcpy(r, t, k * sizeof *r);
        m = k;
    }
    size_t k = 0; /* one range at most holds all the surrogates: k <= m + 1 */
    for (size_t i = 0; i < m; i++) {
        if (r[i].lo < 0xD800)
            t[k++] = (crange){r[i].lo, r[i].hi < 0xD7FF ? r[i].hi : 0xD7FF};
        if (r[i].hi > 0xDFFF)
            t[k++] = (crange){r[i].lo > 0xE000 ? r[i].lo : 0xE000, r[i].hi};
    }
    free(r);
    *n_out = k;
    return t;
}

/* Appends the alternatives matching the UTF-8 encodings of [lo, hi] (lo >= 0x80), split
 * as regex engines do so that each alternative is a sequence of byte ranges. */
static int emit_utf8_range(builder *b, evec *v, uint32_t lo, uint32_t hi)
{
    static const uint32_t last_of_len[] = {0x7F, 0x7FF, 0xFFFF};
    for (int i = 0; i < 3; i++)
        if (lo <= last_of_len[i] && hi > last_of_len[i])
            return emit_utf8_range(b, v, lo, last_of_len[i]) ||
                   emit_utf8_range(b, v, last_of_len[i] + 1, hi);
    int n = utf8_len(lo);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if (lo & m)
                return emit_utf8_range(b, v, lo, lo | m) ||
                       emit_utf8_range(b, v, (lo | m) + 1, hi);
            if ((hi & m) != m)
                return emit_utf8_range(b, v, lo, (hi & ~m) - 1) ||
                       emit_utf8_range(b, v, hi & ~m, hi);
        }
    }
    uint8_t a[4], z[4];
    utf8_encode(lo, a);
    utf8_encode(hi, z);
    if (v->n && push(b, v, GE_ALT, 0))
        return -1;
    for (int k = 0; k < n; k++)
        if (push_range(b, v, a[k], z[k]))
            return -1;
    return 0;
}

/* Appends to seq the element(s) matching one character of the ranges. */
static int emit_class(builder *b, evec *seq, uint32_t rule, crange *r, size_t n)
{
    if (n == 0)
        return fail_at(b, "the character class matches no character");
    byteset ascii = {{0}};
    int has_ascii = 0, has_wide = 0;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t c = r[i].lo; c <= r[i].hi && c < 0x80; c++) {
            ascii.w[c >> 6] |= 1ull << (c & 63);
            has_ascii = 1;
        }
        has_wide |= r[i].hi >= 0x80;
    }
    long sid = has_ascii ? set_id(b, &ascii) : 0;
    if (sid < 0)
        return nomem(b);
    if (!has_wide)
        return push(b, seq, GE_BYTES, (uint32_t)sid);
    long id = new_rule(b, rule);
    if (id < 0)
        return nomem(b);
    evec alts = {0};
    int rc = has_ascii ? push(b, &alts, GE_BYTES, (uint32_t)sid) : 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (r[i].hi >= 0x80)
            rc = emit_utf8_range(b, &alts, r[i].lo < 0x80 ? 0x80 : r[i].lo, r[i].hi);
    rc = rc || push(b, &alts, GE_END, 0);
    b->rules[id] = alts;
    return rc || push(b, seq, GE_REF, (uint32_t)id);
}

static int parse_class(builder *b, evec *seq, uint32_t rule)
{
    b->pos++; /* '[' */
    int negate = b->pos < b->end && *b->pos == '^';
    if (negate)
        b->pos++;
    size_t n = 0, cap = 8;
    crange *r = malloc(cap * sizeof *r);
    if (!r)
        return nomem(b);
    while (b->pos < b->end && *b->pos != ']') {
        uint32_t lo, hi;
        if (parse_char(b, &lo)) {
            free(r);
            return -1;
        }
        hi = lo;
        if (b->pos + 1 < b->end && *b->pos == '-' && b->pos[1] != ']') {
            b->pos++;
            if (parse_char(b, &hi)) {
                free(r);
                return -1;
            }
            if (hi < lo) {
                free(r);
                return fail_at(b, "a class range runs backwards");
            }
        }
        if (n == cap) {
            cap *= 2;
            crange *g = realloc(r, cap * sizeof *g);
            if (!g) {
                free(r);
                return nomem(b);
            }
            r = g;
        }
        r[n++] = (crange){lo, hi};
    }
    if (b->pos >= b->end) {
        free(r);
        return fail_at(b, "unterminated character class");
    }
    b->pos++; /* ']' */
    size_t m;
    crange *norm = normalize_ranges(r, n, negate, &m);
    free(r);
    if (!norm)
        return nomem(b);
    int rc = emit_class(b, seq, rule, norm, m);
    free(norm);
    return rc;
}

/* ---- Rules -------------------------------------------------------------------------- */

static void skip_space(builder *b, int newline_ok)
{
    while (b->pos < b->end) {
        char c = *b->pos;
        if (c == ' ' || c == '\t' || ((c == '\n' || c == '\r') && newline_ok)) {
            b->pos++;
        } else if (c == '#') {
            while (b->pos < b->end && *b->pos != '\n')
                b->pos++;
        } else {
            break;
        }
    }
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static int parse_alternates(builder *b, uint32_t rule, evec *out, int nested);

/* Makes seq[from..] one element (a rule when it is longer) and repeats it min..max times
 * (max UINT32_MAX: unbounded). */
static int repeat(builder *b, evec *seq, size_t from, uint32_t rule, uint32_t min, uint32_t max)
{
    gelem x = seq->p[from];
    if (seq->n - from > 1) {
        long id = new_rule(b, rule);
        if (id < 0)
            return nomem(b);
        evec body = {0};
        int rc = 0;
        for (size_t i = from; i < seq->n && !rc; i++)
            rc = push(b, &body, seq->p[i].type, seq->p[i].value);
        b->rules[id] = body; /* freed with the builder, complete or not */
        if (rc || push(b, &b->rules[id], GE_END, 0))
            return -1;
        x = (gelem){GE_REF, (uint32_t)id};
    }
    seq->n = from;
    for (uint32_t i = 0; i < min; i++)
        if (push(b, seq, x.type, x.value))
            return -1;
    if (max == min)
        return 0;
    /* Unbounded: R ::= x R | ε. Bounded: R_1 ::= x | ε, R_k ::= x R_{k-1} | ε. */
    long prev = -1;
    uint32_t levels = max == UINT32_MAX ? 1 : max - min;
    for (uint32_t k = 0; k < levels; k++) {
        long id = new_rule(b, rule);
        if (id < 0)
            return nomem(b);
        evec *r = &b->rules[id];
        *r = (evec){0};
        if (push(b, r, x.type, x.value))
            return -1;
        if (max == UINT32_MAX ? push(b, r, GE_REF, (uint32_t)id)
                              : prev >= 0 && push(b, r, GE_REF, (uint32_t)prev))
            return -1;
        if (push(b, r, GE_ALT, 0) || push(b, r, GE_END, 0))
            return -1;
        prev = id;
    }
    return push(b, seq, GE_REF, (uint32_t)prev);
}

static int parse_count(builder *b, uint32_t *out)
{
    if (b->pos >= b->end || *b->pos < '0' || *b->pos > '9')
        return fail_at(b, "expected a repetition count");
    uint32_t v = 0;
    while (b->pos < b->end && *b->pos >= '0' && *b->pos <= '9') {
        v = v * 10 + (uint32_t)(*b->pos++ - '0');
        if (v > MAX_REPEAT)
            return fail_at(b, "a repetition count above 10000");
    }
    *out = v;
    return 0;
}

static int parse_braces(builder *b, uint32_t *min, uint32_t *max)
{
    b->pos++; /* '{' */
    skip_space(b, 1);
    if (parse_count(b, min))
        return -1;
    skip_space(b, 1);
    *max = *min;
    if (b->pos < b->end && *b->pos == ',') {
        b->pos++;
        skip_space(b, 1);
        *max = UINT32_MAX;
        if (b->pos < b->end && *b->pos != '}' && parse_count(b, max))
            return -1;
        skip_space(b, 1);
    }
    if (b->pos >= b->end || *b->pos != '}')
        return fail_at(b, "expected '}' closing a repetition");
    b->pos++;
    if (*max < *min)
        return fail_at(b, "a repetition {m,n} with n < m");
    return 0;
}

static int parse_sequence(builder *b, uint32_t rule, evec *seq, int nested)
{
    size_t last = SIZE_MAX; /* where the last item's elements start */
    while (b->pos < b->end) {
        char c = *b->pos;
        size_t start = seq->n;
        if (c == '"') {
            b->pos++;
            while (b->pos < b->end && *b->pos != '"') {
                uint32_t cp;
                uint8_t u[4];
                if (parse_char(b, &cp))
                    return -1;
                utf8_encode(cp, u);
                for (int k = 0; k < utf8_len(cp); k++)
                    if (push_range(b, seq, u[k], u[k]))
                        return -1;
            }
            if (b->pos >= b->end)
                return fail_at(b, "unterminated string literal");
            b->pos++;
            last = start == seq->n ? SIZE_MAX : start; /* "" is nothing to repeat */
        } else if (c == '[') {
            if (parse_class(b, seq, rule))
                return -1;
            last = start;
        } else if (c == '.') {
            b->pos++;
            crange any = {0, 0x10FFFF};
            size_t m;
            crange *norm = normalize_ranges(&any, 1, 0, &m);
            if (!norm)
                return nomem(b);
            int rc = emit_class(b, seq, rule, norm, m);
            free(norm);
            if (rc)
                return -1;
            last = start;
        } else if (c == '(') {
            b->pos++;
            if (++b->depth > MAX_NEST)
                return fail_at(b, "groups nested more than 200 deep");
            long id = new_rule(b, rule);
            if (id < 0)
                return nomem(b);
            evec body = {0};
            skip_space(b, 1);
            int rc = parse_alternates(b, rule, &body, 1);
            b->rules[id] = body;
            b->depth--;
            if (rc)
                return -1;
            if (b->pos >= b->end || *b->pos != ')')
                return fail_at(b, "expected ')'");
            b->pos++;
            if (push(b, seq, GE_REF, (uint32_t)id))
                return -1;
            last = start;
        } else if (is_name_char(c)) {
            const char *name = b->pos;
            while (b->pos < b->end && is_name_char(*b->pos))
                b->pos++;
            long id = rule_id(b, name, (size_t)(b->pos - name), 0);
            if (id < 0)
                return nomem(b);
            if (push(b, seq, GE_REF, (uint32_t)id))
                return -1;
            last = start;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (last == SIZE_MAX)
                return fail_at(b, "a repetition with nothing before it");
            uint32_t min = c == '+' ? 1 : 0, max = c == '?' ? 1 : UINT32_MAX;
            if (c == '{') {
                if (parse_braces(b, &min, &max))
                    return -1;
            } else {
                b->pos++;
            }
            if (repeat(b, seq, last, rule, min, max))
                return -1;
            last = SIZE_MAX;
        } else {
            break;
        }
        skip_space(b, nested);
    }
    return 0;
}

static int parse_alternates(builder *b, uint32_t rule, evec *out, int nested)
{
    if (parse_sequence(b, rule, out, nested))
        return -1;
    while (b->pos < b->end && *b->pos == '|') {
        b->pos++;
        skip_space(b, 1);
        if (push(b, out, GE_ALT, 0) || parse_sequence(b, rule, out, nested))
            return -1;
    }
    return push(b, out, GE_END, 0);
}

static int parse_rule(builder *b)
{
    const char *name = b->pos;
    while (b->pos < b->end && is_name_char(*b->pos))
        b->pos++;
    if (b->pos == name)
        return fail_at(b, "expected a rule name");
    size_t len = (size_t)(b->pos - name);
    skip_space(b, 0);
    if (b->end - b->pos < 3 || memcmp(b->pos, "::=", 3))
        return fail_at(b, "expected '::=' after the rule name");
    b->pos += 3;
    skip_space(b, 1);
    long id = rule_id(b, name, len, 0);
    if (id < 0)
        return nomem(b);
    if (b->defined[id]) {
        char msg[160];
        snprintf(msg, sizeof msg, "rule '%.*s' is defined twice", (int)(len < 64 ? len : 64),
                 name);
        return fail_at(b, msg);
    }
    b->defined[id] = 1;
    evec body = {0};
    int rc = parse_alternates(b, (uint32_t)id, &body, 0);
    b->rules[id] = body;
    if (rc)
        return -1;
    skip_space(b, 0);
    if (b->pos < b->end && *b->pos != '\n' && *b->pos != '\r')
        return fail_at(b, "unexpected character");
    return 0;
}

/* ---- Checks ------------------------------------------------------------------------- */

/* Fixed point of "rule r can match [the empty string | some finite string]". */
static void fixed_point(const builder *b, unsigned char *ok, int empty_only)
{
    memset(ok, 0, b->n_rules);
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t r = 0; r < b->n_rules; r++) {
            if (ok[r])
                continue;
            const gelem *e = b->rules[r].p;
            int alt_ok = 1;
            for (size_t i = 0;; i++) {
                if (gelem_ends_seq(&e[i])) {
                    if (alt_ok) {
                        ok[r] = 1;
                        changed = 1;
                        break;
                    }
                    if (e[i].type == GE_END)
                        break;
                    alt_ok = 1;
                } else if (e[i].type == GE_BYTES) {
                    alt_ok &= !empty_only;
                } else {
                    alt_ok &= ok[e[i].value];
                }
            }
        }
    }
}

/* Depth-first search over "r may start with s" (through nullable prefixes). */
static int left_recursive(const builder *b, uint32_t r, const unsigned char *nullable,
                          unsigned char *color, int depth)
{
    if (color[r] == 1 || depth > 100000)
        return (int)r + 1;
    if (color[r] == 2)
        return 0;
    color[r] = 1;
    const gelem *e = b->rules[r].p;
    int at_start = 1;
    for (size_t i = 0;; i++) {
        if (gelem_ends_seq(&e[i])) {
            if (e[i].type == GE_END)
                break;
            at_start = 1;
        } else if (at_start) {
            if (e[i].type == GE_REF) {
                int hit = left_recursive(b, e[i].value, nullable, color, depth + 1);
                if (hit)
                    return hit;
                at_start = nullable[e[i].value];
            } else {
                at_start = 0;
            }
        }
    }
    color[r] = 2;
    return 0;
}

static int check(builder *b, uint32_t root)
{
    for (size_t r = 0; r < b->n_rules; r++)
        if (!b->defined[r])
            return grammar_fail(b->err, "grammar: rule '%.64s' is used but not defined",
                                b->names[r]);
    unsigned char *flags = malloc(3 * b->n_rules);
    if (!flags)
        return nomem(b);
    unsigned char *nullable = flags, *color = flags + b->n_rules, *productive = color + b->n_rules;
    fixed_point(b, nullable, 1);
    fixed_point(b, productive, 0);
    memset(color, 0, b->n_rules);
    int rc = 0;
    for (uint32_t r = 0; r < b->n_rules && !rc; r++) {
        int hit = left_recursive(b, r, nullable, color, 0);
        if (hit)
            rc = grammar_fail(b->err, "grammar: rule '%.64s' is left-recursive (it can start "
                                      "with itself), which a top-down matcher cannot follow",
                              b->names[hit - 1]);
    }
    if (!rc && !productive[root])
        rc = grammar_fail(b->err, "grammar: rule 'root' matches no finite string");
    free(flags);
    return rc;
}

static void builder_free(builder *b)
{
    for (size_t i = 0; i < b->n_rules; i++) {
        free(b->rules[i].p);
        free(b->names[i]);
    }
    free(b->rules);
    free(b->names);
    free(b->defined);
    free(b->sets);
}

static int flatten(builder *b, uint32_t root, grammar **out)
{
    grammar *g = calloc(1, sizeof *g);
    size_t n = 0;
    for (size_t r = 0; r < b->n_rules; r++)
        n += b->rules[r].n;
    if (g) {
        g->el = malloc((n + 1) * sizeof *g->el);
        g->rule_start = malloc(b->n_rules * sizeof *g->rule_start);
    }
    if (!g || !g->el || !g->rule_start) {
        grammar_free(g);
        return nomem(b);
    }
    for (size_t r = 0; r < b->n_rules; r++) {
        g->rule_start[r] = (uint32_t)g->n_el;
        memcpy(g->el + g->n_el, b->rules[r].p, b->rules[r].n * sizeof *g->el);
        g->n_el += b->rules[r].n;
    }
    g->n_rules = b->n_rules;
    g->sets = b->sets;
    g->n_sets = b->n_sets;
    b->sets = NULL;
    g->root = root;
    *out = g;
    return 0;
}

int grammar_parse(const char *text, size_t len, grammar **out, grammar_error *err)
{
    *out = NULL;
    builder b = {.src = text, .pos = text, .end = text + len, .err = err};
    int rc = 0;
    skip_space(&b, 1);
    while (b.pos < b.end && !rc) {
        rc = parse_rule(&b);
        skip_space(&b, 1);
    }
    long root = -1;
    for (size_t i = 0; i < b.n_rules && !rc; i++)
        if (!strcmp(b.names[i], "root"))
            root = (long)i;
    if (!rc && root < 0)
        rc = grammar_fail(err, "grammar: no rule named 'root'");
    if (!rc)
        rc = check(&b, (uint32_t)root) || flatten(&b, (uint32_t)root, out);
    builder_free(&b);
    return rc ? -1 : 0;
}

void grammar_free(grammar *g)
{
    if (!g)
        return;
    free(g->el);
    free(g->rule_start);
    free(g->sets);
    free(g);
}

size_t grammar_n_rules(const grammar *g) { return g->n_rules; }
