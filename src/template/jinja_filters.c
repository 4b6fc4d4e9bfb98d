/* Filters ({{ x | name(args) }}) and tests ({% if x is name %}): those of Jinja2 that chat
 * templates use, with Jinja2's arguments, and HF's tojson (json.dumps with
 * ensure_ascii=False, optional indent and sort_keys). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "template/jinja_internal.h"

enum {
    F_ABS, F_CAPITALIZE, F_COUNT, F_D, F_DEFAULT, F_FIRST, F_FLOAT, F_INDENT, F_INT, F_ITEMS,
    F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP, F_REJECT, F_REJECTATTR, F_REPLACE,
    F_REVERSE, F_SAFE, F_SELECT, F_SELECTATTR, F_STRING, F_TITLE, F_TOJSON, F_TRIM, F_UNIQUE,
    F_UPPER, F_N
};
static const char *const filters[F_N] = {
    "abs", "capitalize", "count", "d", "default", "first", "float", "indent", "int", "items",
    "join", "last", "length", "list", "lower", "map", "reject", "rejectattr", "replace",
    "reverse", "safe", "select", "selectattr", "string", "title", "tojson", "trim", "unique",
    "upper"};

enum {
    T_DEFINED, T_UNDEFINED, T_NONE, T_STRING, T_MAPPING, T_ITERABLE, T_SEQUENCE, T_NUMBER,
    T_INTEGER, T_FLOAT, T_BOOLEAN, T_TRUE, T_FALSE, T_CALLABLE, T_EQUALTO, T_EQ, T_NE, T_SAMEAS,
    T_IN, T_ODD, T_EVEN, T_DIVISIBLEBY, T_LOWER, T_UPPER, T_N
};
static const char *const tests[T_N] = {
    "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number",
    "integer", "float", "boolean", "true", "false", "callable", "equalto", "eq", "ne", "sameas",
    "in", "odd", "even", "divisibleby", "lower", "upper"};

static int lookup_name(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

int jinja_filter_id(const char *name) { return lookup_name(filters, F_N, name); }
int jinja_test_id(const char *name) { return lookup_name(tests, T_N, name); }

/* ---- tests ---- */

static int case_test(const jv *v, bool upper)
{
    if (v->k != JV_STR)
        return 0;
    bool cased = false;
    for (size_t i = 0; i < v->u.str.n; i++) {
        char ch = v->u.str.s[i];
        if ((upper && ch >= 'a' && ch <= 'z') || (!upper && ch >= 'A' && ch <= 'Z'))
            return 0;
        cased |= (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
    }
    return cased;
}

int jinja_apply_test(jctx *c, int line, int id, jv *v, const jargs *args)
{
    static const char *const p_other[] = {"other"}, *const p_num[] = {"num"}, *const p_seq[] = {"seq"};
    jv *arg = NULL;
    const char *const *params = id == T_DIVISIBLEBY ? p_num : id == T_IN ? p_seq : p_other;
    bool takes = id == T_EQUALTO || id == T_EQ || id == T_NE || id == T_SAMEAS || id == T_IN || id == T_DIVISIBLEBY;
    if (jx_bind(c, line, tests[id], params, takes ? 1 : 0, args, &arg))
        return -1;
    if (takes && !arg)
        return jx_fail(c, line, "test '%s' needs an argument", tests[id]);
    switch (id) {
    case T_DEFINED: return v->k != JV_UNDEF;
    case T_UNDEFINED: return v->k == JV_UNDEF;
    case T_NONE: return v->k == JV_NONE;
    case T_STRING: return v->k == JV_STR;
    case T_MAPPING: return v->k == JV_DICT;
    case T_ITERABLE: return v->k == JV_STR || v->k == JV_LIST || v->k == JV_DICT || v->k == JV_UNDEF;
    case T_SEQUENCE: return v->k == JV_STR || v->k == JV_LIST || v->k == JV_DICT;
    case T_NUMBER: return v->k == JV_BOOL || v->k == JV_INT || v->k == JV_FLOAT;
    case T_INTEGER: return v->k == JV_INT;
    case T_FLOAT: return v->k == JV_FLOAT;
    case T_BOOLEAN: return v->k == JV_BOOL;
    case T_TRUE: return v->k == JV_BOOL && v->u.b;
    case T_FALSE: return v->k == JV_BOOL && !v->u.b;
    case T_CALLABLE: return v->k == JV_MACRO || v->k == JV_FUNC || v->k == JV_METHOD;
    case T_EQUALTO: case T_EQ: return jv_equal(v, arg);
    case T_NE: return !jv_equal(v, arg);
    case T_SAMEAS:
        if (v->k == JV_NONE || v->k == JV_BOOL || v->k == JV_UNDEF)
            return v->k == arg->k && (v->k != JV_BOOL || v->u.b == arg->u.b);
        return v == arg;
    case T_IN: return jx_contains(c, line, v, arg);
    case T_ODD: case T_EVEN:
        if (v->k != JV_INT && v->k != JV_BOOL)
            return jx_fail(c, line, "test '%s' needs an integer, not a %s", tests[id], jv_kind_name(v->k));
        return (int)((v->k == JV_INT ? v->u.i : v->u.b) & 1) == (id == T_ODD);
    case T_DIVISIBLEBY:
        if (v->k != JV_INT || arg->k != JV_INT)
            return jx_fail(c, line, "test 'divisibleby' needs integers");
        if (arg->u.i == 0)
            return jx_fail(c, line, "test 'divisibleby': division by zero");
        return arg->u.i == -1 || v->u.i % arg->u.i == 0;
    case T_LOWER: return case_test(v, false);
    default: return case_test(v, true);
    }
}

/* ---- helpers ---- */

static jv *to_list(jctx *c, int line, jv *v, const char *filter)
{
    switch (v->k) {
    case JV_LIST: return v;
    case JV_UNDEF: {
        jv *l = jv_list(c->a, 0);
        return l ? l : jx_oom(c, line);
    }
    case JV_DICT: return jx_dict_view(c, line, v, 1);
    case JV_STR: {
        size_t len = utf8_len(v->u.str.s, v->u.str.n), pos = 0;
        jv *l = jv_list(c->a, len);
        if (!l)
            return jx_oom(c, line);
        for (size_t i = 0; i < len; i++) {
            size_t k = utf8_char_len((unsigned char)v->u.str.s[pos]);
            if (k > v->u.str.n - pos)
                k = v->u.str.n - pos;
            if (!(l->u.list.items[i] = jv_str_ref(c->a, v->u.str.s + pos, k)))
                return jx_oom(c, line);
            pos += k;
        }
        return l;
    }
    default:
        return jx_failp(c, line, "filter '%s': a %s is not iterable", filter, jv_kind_name(v->k));
    }
}

/* Jinja2's map, select, unique, reverse and items filters return generators: iterable,
 * but neither printable, JSON serializable, subscriptable nor of a length. */
static jv *generator(jv *l)
{
    l->u.list.gen = true;
    return l;
}

/* Jinja's attribute getter: "a.b.0" looks up a, then b, then item 0. */
static jv *get_attribute(jctx *c, int line, jv *item, jv *attr)
{
    if (attr->k == JV_INT)
        return jinja_getitem(c, line, item, attr);
    if (attr->k != JV_STR)
        return jx_failp(c, line, "attribute name must be a string or an integer");
    const char *s = attr->u.str.s, *end = s + attr->u.str.n;
    while (item) {
        const char *dot = memchr(s, '.', (size_t)(end - s));
        const char *e = dot ? dot : end;
        bool digits = e > s;
        for (const char *p = s; p < e; p++)
            digits &= *p >= '0' && *p <= '9';
        jv *key = digits ? jv_int(c->a, strtoll(s, NULL, 10)) : jv_str_ref(c->a, s, (size_t)(e - s));
        if (!key)
            return jx_oom(c, line);
        item = jinja_getitem(c, line, item, key);
        if (!dot)
            break;
        s = dot + 1;
    }
    return item;
}

/* select / reject / selectattr / rejectattr. */
static jv *select_items(jctx *c, int line, int id, jv *v, const jargs *args)
{
    bool attr = id == F_SELECTATTR || id == F_REJECTATTR, keep_true = id == F_SELECT || id == F_SELECTATTR;
    size_t skip = attr ? 2 : 1; /* the attribute, the test name */
    if (args->nkw)
        return jx_failp(c, line, "filter '%s' takes no keyword arguments", filters[id]);
    if (attr && args->npos < 1)
        return jx_failp(c, line, "filter '%s' needs an attribute name", filters[id]);
    int test = -1;
    if (args->npos >= skip) {
        jv *t = args->pos[skip - 1];
        if (t->k != JV_STR)
            return jx_failp(c, line, "filter '%s': the test name must be a string", filters[id]);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)t->u.str.n, t->u.str.s);
        if ((test = jinja_test_id(name)) < 0)
            return jx_failp(c, line, "filter '%s': unsupported test '%s'", filters[id], name);
    }
    jargs targs = {args->pos + (args->npos > skip ? skip : args->npos), args->npos > skip ? args->npos - skip : 0,
                   NULL, NULL, 0};
    /* a false value (none, an empty list) selects nothing, as in Jinja2 */
    jv *seq = jv_truthy(v) ? to_list(c, line, v, filters[id]) : jv_list(c->a, 0), *out = jv_list(c->a, 0);
    size_t cap = 0;
    if (!seq)
        return NULL;
    if (!out)
        return jx_oom(c, line);
    for (size_t i = 0; i < seq->u.list.n; i++) {
        jv *x = seq->u.list.items[i];
        if (attr && !(x = get_attribute(c, line, x, args->pos[0])))
            return NULL;
        int r = test < 0 ? jv_truthy(x) : jinja_apply_test(c, line, test, x, &targs);
        if (r < 0)
            return NULL;
        if ((r != 0) == keep_true && jv_list_push(c->a, out, &cap, seq->u.list.items[i]))
            return jx_oom(c, line);
    }
    return generator(out);
}

static jv *map_items(jctx *c, int line, jv *v, const jargs *args)
{
    jv *seq = jv_truthy(v) ? to_list(c, line, v, "map") : jv_list(c->a, 0), *out;
    if (!seq)
        return NULL;
    if (!(out = jv_list(c->a, seq->u.list.n)))
        return jx_oom(c, line);
    if (args->npos == 0) {
        static const char *const params[] = {"attribute", "default"};
        jv *a[2];
        if (jx_bind(c, line, "map", params, 2, args, a))
            return NULL;
        if (!a[0])
            return jx_failp(c, line, "filter 'map' needs a filter name or attribute=");
        for (size_t i = 0; i < seq->u.list.n; i++) {
            jv *x = get_attribute(c, line, seq->u.list.items[i], a[0]);
            if (!x)
                return NULL;
            out->u.list.items[i] = x->k == JV_UNDEF && a[1] ? a[1] : x;
        }
        return generator(out);
    }
    jv *f = args->pos[0];
    if (f->k != JV_STR)
        return jx_failp(c, line, "filter 'map': the filter name must be a string");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)f->u.str.n, f->u.str.s);
    int id = jinja_filter_id(name);
    if (id < 0)
        return jx_failp(c, line, "filter 'map': unsupported filter '%s'", name);
    jargs fargs = *args;
    fargs.pos++;
    fargs.npos--;
    for (size_t i = 0; i < seq->u.list.n; i++)
        if (!(out->u.list.items[i] = jinja_apply_filter(c, line, id, seq->u.list.items[i], &fargs)))
            return NULL;
    return generator(out);
}

static jv *unique_items(jctx *c, int line, jv *v, jv *case_sensitive, jv *attribute)
{
    jv *seq = to_list(c, line, v, "unique"), *out = jv_list(c->a, 0), *keys = jv_list(c->a, 0);
    size_t cap = 0, kcap = 0;
    bool cs = case_sensitive && jv_truthy(case_sensitive);
    if (!seq)
        return NULL;
    if (!out || !keys)
        return jx_oom(c, line);
    for (size_t i = 0; i < seq->u.list.n; i++) {
        jv *k = seq->u.list.items[i];
        if (attribute && !(k = get_attribute(c, line, k, attribute)))
            return NULL;
        if (k->k == JV_STR && !cs && !(k = jx_case(c, line, k, 0)))
            return NULL;
        bool seen = false;
        for (size_t j = 0; j < keys->u.list.n && !seen; j++)
            seen = jv_equal(keys->u.list.items[j], k);
        if (!seen && (jv_list_push(c->a, keys, &kcap, k) || jv_list_push(c->a, out, &cap, seq->u.list.items[i])))
            return jx_oom(c, line);
    }
    return generator(out);
}

static jv *join_items(jctx *c, int line, jv *v, jv *sep, jv *attribute)
{
    jv *seq = to_list(c, line, v, "join");
    if (!seq)
        return NULL;
    if (sep && !(sep = jx_to_str(c, line, sep)))
        return NULL;
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    for (size_t i = 0; i < seq->u.list.n; i++) {
        jv *x = seq->u.list.items[i];
        if (attribute && !(x = get_attribute(c, line, x, attribute)))
            return NULL;
        if (i && sep && jb_put(&b, sep->u.str.s, sep->u.str.n))
            goto over;
        if (jv_write_str(&b, x)) {
            if (jb_over(&b))
                goto over;
            return jx_failp(c, line, "filter 'join': a %s has no text", jv_kind_name(x->k));
        }
    }
    return jx_buf_str(c, line, &b);
over:
    return jx_buf_fail(c, line, &b);
}

/* Python's str.splitlines() line ends: \n \r \r\n \v \f \x1c-\x1e \x85 \u2028 \u2029. */
static size_t line_end(const char *s, size_t n, size_t i)
{
    unsigned char ch = (unsigned char)s[i];
    if (ch == '\r')
        return i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
    if (ch == '\n' || ch == '\v' || ch == '\f' || (ch >= 0x1C && ch <= 0x1E))
        return 1;
    if (ch == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0x85)
        return 2;
    if (ch == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
        ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
        return 3;
    return 0;
}

static jv *indent(jctx *c, int line, jv *v, jv *width, jv *first, jv *blank)
{
    jv *s = jx_to_str(c, line, v), *ind;
    if (!s)
        return NULL;
    if (!width) {
        ind = jv_str_ref(c->a, "    ", 4);
    } else if (width->k == JV_STR) {
        ind = width;
    } else if (width->k == JV_INT && width->u.i >= 0 && width->u.i <= 256) {
        char *p = ja_alloc(c->a, (size_t)width->u.i + 1);
        if (p)
            memset(p, ' ', (size_t)width->u.i);
        ind = p ? jv_str_ref(c->a, p, (size_t)width->u.i) : NULL;
    } else {
        return jx_failp(c, line, "filter 'indent': width must be a string or an integer 0..256");
    }
    if (!ind)
        return jx_oom(c, line);
    bool do_first = first && jv_truthy(first), do_blank = blank && jv_truthy(blank);
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    /* Jinja2 appends "\n" and splits into lines (so the text after the last line end is a
     * line, even empty), then joins them with "\n" + indentation (empty lines are not
     * indented unless blank=True) */
    const char *p = s->u.str.s;
    size_t n = s->u.str.n, i = 0, start = 0, lines = 0;
    if (do_first && jb_put(&b, ind->u.str.s, ind->u.str.n))
        goto over;
    for (;;) {
        size_t e = i < n ? line_end(p, n, i) : 0;
        if (i < n && !e) {
            i++;
            continue;
        }
        /* a line p[start, i) ends here (or the text ends) */
        if (lines > 0) {
            if (jb_put(&b, "\n", 1))
                goto over;
            if ((do_blank || i > start) && jb_put(&b, ind->u.str.s, ind->u.str.n))
                goto over;
        }
        if (jb_put(&b, p + start, i - start))
            goto over;
        lines++;
        if (i >= n)
            break;
        i += e;
        start = i;
    }
    return jx_buf_str(c, line, &b);
over:
    return jx_buf_fail(c, line, &b);
}

static bool parse_int(const char *s, size_t n, int64_t *out)
{
    char buf[72];
    size_t b = 0, e = n, k = 0, l;
    while (b < e && py_isspace_at(s, n, b, &l))
        b += l;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r'))
        e--;
    if (e == b || e - b >= sizeof buf)
        return false;
    for (size_t i = b; i < e; i++) {
        if (s[i] == '_' && i > b && i + 1 < e && s[i - 1] >= '0' && s[i - 1] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9')
            continue;
        if (!((s[i] >= '0' && s[i] <= '9') || ((s[i] == '-' || s[i] == '+') && i == b)))
            return false;
        buf[k++] = s[i];
    }
    buf[k] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || end == buf)
        return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, size_t n, double *out)
{
    char buf[72];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double f = strtod(buf, &end);
    if (end == buf)
        return false;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end)
        return false;
    *out = f;
    return true;
}

static jv *to_int(jctx *c, int line, jv *v, jv *dflt)
{
    int64_t i;
    double f;
    switch (v->k) {
    case JV_INT: return v;
    case JV_BOOL: return jv_int(c->a, v->u.b) ?: jx_oom(c, line);
    case JV_FLOAT:
        if (isfinite(v->u.f) && fabs(v->u.f) < 9.2e18)
            return jv_int(c->a, (int64_t)v->u.f) ?: jx_oom(c, line);
        break;
    case JV_STR:
        if (parse_int(v->u.str.s, v->u.str.n, &i))
            return jv_int(c->a, i) ?: jx_oom(c, line);
        if (parse_float(v->u.str.s, v->u.str.n, &f) && isfinite(f) && fabs(f) < 9.2e18)
            return jv_int(c->a, (int64_t)f) ?: jx_oom(c, line);
        break;
    default: break;
    }
    return dflt ? dflt : jv_int(c->a, 0) ?: jx_oom(c, line);
}

static jv *to_float(jctx *c, int line, jv *v, jv *dflt)
{
    double f;
    switch (v->k) {
    case JV_FLOAT: return v;
    case JV_INT: case JV_BOOL:
        return jv_float(c->a, v->k == JV_INT ? (double)v->u.i : v->u.b) ?: jx_oom(c, line);
    case JV_STR:
        if (parse_float(v->u.str.s, v->u.str.n, &f))
            return jv_float(c->a, f) ?: jx_oom(c, line);
        break;
    default: break;
    }
    return dflt ? dflt : jv_float(c->a, 0.0) ?: jx_oom(c, line);
}

static jv *tojson(jctx *c, int line, jv *v, jv *const *a)
{
    /* a: ensure_ascii, indent, separators, sort_keys */
    if (a[0] && jv_truthy(a[0]))
        return jx_failp(c, line, "unsupported construct: tojson(ensure_ascii=True)");
    if (a[2] && a[2]->k != JV_NONE)
        return jx_failp(c, line, "unsupported construct: tojson(separators=...)");
    int ind = -1;
    if (a[1] && a[1]->k != JV_NONE) {
        if (a[1]->k != JV_INT || a[1]->u.i < 0 || a[1]->u.i > 64)
            return jx_failp(c, line, "filter 'tojson': indent must be an integer 0..64");
        ind = (int)a[1]->u.i;
    }
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    if (jv_write_json(&b, v, ind, a[3] && jv_truthy(a[3]), 0)) {
        if (b.n > b.limit)
            return jx_failp(c, line, "filter 'tojson': result larger than %zu bytes", b.limit);
        if (b.a->exhausted)
            return jx_oom(c, line);
        return jx_failp(c, line, "filter 'tojson': a %s (or a value inside it) is not JSON serializable",
                        jv_kind_name(v->k));
    }
    return jx_buf_str(c, line, &b);
}

static jv *first_last(jctx *c, int line, jv *v, bool last)
{
    if (last && v->k == JV_LIST && v->u.list.gen)
        return jx_failp(c, line, "filter 'last': a generator cannot be reversed (add '| list')");
    if (v->k == JV_UNDEF && !last)
        return v;
    jv *seq = to_list(c, line, v, last ? "last" : "first");
    if (!seq)
        return NULL;
    if (seq->u.list.n == 0) {
        jv *u = jv_new(c->a, JV_UNDEF);
        if (u)
            u->undef_name = last ? "'last' of an empty sequence" : "'first' of an empty sequence";
        return u ? u : jx_oom(c, line);
    }
    return seq->u.list.items[last ? seq->u.list.n - 1 : 0];
}

static jv *reverse(jctx *c, int line, jv *v)
{
    jv *seq = to_list(c, line, v, "reverse"), *out;
    if (!seq)
        return NULL;
    if (!(out = jv_list(c->a, seq->u.list.n)))
        return jx_oom(c, line);
    for (size_t i = 0; i < seq->u.list.n; i++)
        out->u.list.items[i] = seq->u.list.items[seq->u.list.n - 1 - i];
    if (v->k != JV_STR)
        return generator(out);
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    for (size_t i = 0; i < out->u.list.n; i++)
        if (jb_put(&b, out->u.list.items[i]->u.str.s, out->u.list.items[i]->u.str.n))
            return jx_oom(c, line);
    return jx_buf_str(c, line, &b);
}

jv *jinja_apply_filter(jctx *c, int line, int id, jv *v, const jargs *args)
{
    static const char *const p_default[] = {"default_value", "boolean"}, *const p_indent[] = {"width", "first", "blank"},
                             *const p_int[] = {"default", "base"}, *const p_float[] = {"default"},
                             *const p_join[] = {"d", "attribute"}, *const p_replace[] = {"old", "new", "count"},
                             *const p_tojson[] = {"ensure_ascii", "indent", "separators", "sort_keys"},
                             *const p_trim[] = {"chars"}, *const p_unique[] = {"case_sensitive", "attribute"};
    const char *const *params = NULL;
    size_t np = 0;
    jv *a[4] = {NULL, NULL, NULL, NULL}, *s;
    switch (id) {
    case F_D: case F_DEFAULT: params = p_default; np = 2; break;
    case F_INDENT: params = p_indent; np = 3; break;
    case F_INT: params = p_int; np = 2; break;
    case F_FLOAT: params = p_float; np = 1; break;
    case F_JOIN: params = p_join; np = 2; break;
    case F_REPLACE: params = p_replace; np = 3; break;
    case F_TOJSON: params = p_tojson; np = 4; break;
    case F_TRIM: params = p_trim; np = 1; break;
    case F_UNIQUE: params = p_unique; np = 2; break;
    case F_MAP: case F_SELECT: case F_REJECT: case F_SELECTATTR: case F_REJECTATTR: np = SIZE_MAX; break;
    default: break;
    }
    if (np != SIZE_MAX && jx_bind(c, line, filters[id], params, np, args, a))
        return NULL;
    switch (id) {
    case F_ABS:
        if (v->k == JV_INT && v->u.i != INT64_MIN)
            return v->u.i < 0 ? jv_int(c->a, -v->u.i) ?: jx_oom(c, line) : v;
        if (v->k == JV_FLOAT)
            return jv_float(c->a, fabs(v->u.f)) ?: jx_oom(c, line);
        if (v->k == JV_BOOL)
            return jv_int(c->a, v->u.b) ?: jx_oom(c, line);
        return jx_failp(c, line, "filter 'abs' needs a number, not a %s", jv_kind_name(v->k));
    case F_CAPITALIZE: case F_LOWER: case F_UPPER: case F_TITLE:
        if (!(s = jx_to_str(c, line, v)))
            return NULL;
        return jx_case(c, line, s, id == F_LOWER ? 0 : id == F_UPPER ? 1 : id == F_TITLE ? 2 : 3);
    case F_COUNT: case F_LENGTH:
        switch (v->k) {
        case JV_STR: return jv_int(c->a, (int64_t)utf8_len(v->u.str.s, v->u.str.n)) ?: jx_oom(c, line);
        case JV_LIST:
            if (v->u.list.gen)
                return jx_failp(c, line, "filter 'length': a generator has no length (add '| list')");
            return jv_int(c->a, (int64_t)v->u.list.n) ?: jx_oom(c, line);
        case JV_DICT: return jv_int(c->a, (int64_t)v->u.dict.n) ?: jx_oom(c, line);
        case JV_UNDEF: return jv_int(c->a, 0) ?: jx_oom(c, line);
        default: return jx_failp(c, line, "filter 'length': a %s has no length", jv_kind_name(v->k));
        }
    case F_D: case F_DEFAULT:
        if (v->k == JV_UNDEF || (a[1] && jv_truthy(a[1]) && !jv_truthy(v)))
            return a[0] ? a[0] : jv_str_ref(c->a, "", 0) ?: jx_oom(c, line);
        return v;
    case F_FIRST: case F_LAST: return first_last(c, line, v, id == F_LAST);
    case F_FLOAT: return to_float(c, line, v, a[0]);
    case F_INT:
        if (a[1] && !(a[1]->k == JV_INT && a[1]->u.i == 10))
            return jx_failp(c, line, "unsupported construct: int(base=...) other than 10");
        return to_int(c, line, v, a[0]);
    case F_INDENT: return indent(c, line, v, a[0], a[1], a[2]);
    case F_ITEMS:
        if (v->k == JV_UNDEF)
            return jv_list(c->a, 0) ?: jx_oom(c, line);
        if (v->k != JV_DICT)
            return jx_failp(c, line, "filter 'items' needs a mapping, not a %s", jv_kind_name(v->k));
        return (s = jx_dict_view(c, line, v, 0)) ? generator(s) : NULL;
    case F_JOIN: return join_items(c, line, v, a[0], a[1]);
    case F_LIST:
        if (v->k == JV_LIST && v->u.list.gen) {
            jv *l = jv_list(c->a, v->u.list.n);
            if (!l)
                return jx_oom(c, line);
            memcpy(l->u.list.items, v->u.list.items, v->u.list.n * sizeof *l->u.list.items);
            return l;
        }
        return to_list(c, line, v, "list");
    case F_MAP: return map_items(c, line, v, args);
    case F_SELECT: case F_REJECT: case F_SELECTATTR: case F_REJECTATTR: return select_items(c, line, id, v, args);
    case F_REPLACE: {
        jv *old, *nw;
        if (!a[0] || !a[1])
            return jx_failp(c, line, "filter 'replace' needs old and new");
        if (!(s = jx_to_str(c, line, v)) || !(old = jx_to_str(c, line, a[0])) || !(nw = jx_to_str(c, line, a[1])))
            return NULL;
        return jx_replace(c, line, s, old, nw, a[2]);
    }
    case F_REVERSE: return reverse(c, line, v);
    case F_SAFE:
        if (!(s = jx_to_str(c, line, v)) || !(s = jv_str_ref(c->a, s->u.str.s, s->u.str.n)))
            return s ? NULL : jx_oom(c, line);
        s->u.str.markup = true;
        return s;
    case F_STRING: return jx_to_str(c, line, v);
    case F_TOJSON: return tojson(c, line, v, a);
    case F_TRIM:
        if (!(s = jx_to_str(c, line, v)))
            return NULL;
        return jx_strip(c, line, s, a[0], true, true);
    default: return unique_items(c, line, v, a[0], a[1]);
    }
}
