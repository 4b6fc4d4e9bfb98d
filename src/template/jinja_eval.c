/* The interpreter: expressions to values and statements to text, with Jinja2's scoping
 * (a for loop's body and a macro's body have their own variables; namespace() objects
 * carry values out of them) and Python's operator semantics. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/jinja_internal.h"

#define JINJA_MAX_FRAMES 1500 /* nested evaluation frames (bounds the C stack) */

/* Keeps the first failure: the innermost, which names the construct. */
static void vfail(jctx *c, int line, const char *fmt, va_list ap)
{
    if (c->err->msg[0])
        return;
    c->err->line = line;
    int k = snprintf(c->err->msg, sizeof c->err->msg, "line %d: ", line);
    vsnprintf(c->err->msg + k, sizeof c->err->msg - (size_t)k, fmt, ap);
}

int jx_fail(jctx *c, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, line, fmt, ap);
    va_end(ap);
    return -1;
}

void *jx_failp(jctx *c, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, line, fmt, ap);
    va_end(ap);
    return NULL;
}

void *jx_oom(jctx *c, int line)
{
    if (c->a->exhausted)
        return jx_failp(c, line, "template used more than %zu bytes of memory", c->lim->max_memory);
    return jx_failp(c, line, "out of memory while rendering the template");
}

int jx_put_escaped(jbuf *b, const jv *s)
{
    if (s->u.str.markup)
        return jb_put(b, s->u.str.s, s->u.str.n);
    size_t start = 0;
    for (size_t i = 0; i < s->u.str.n; i++) {
        const char *e;
        switch (s->u.str.s[i]) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&#34;"; break;
        case '\'': e = "&#39;"; break;
        default: continue;
        }
        if (jb_put(b, s->u.str.s + start, i - start) || jb_puts(b, e))
            return -1;
        start = i + 1;
    }
    return jb_put(b, s->u.str.s + start, s->u.str.n - start);
}

/* A buffer's failure: its limit or the arena's. */
void *jx_buf_fail(jctx *c, int line, const jbuf *b)
{
    if (b->n > b->limit)
        return jx_failp(c, line, "template output larger than %zu bytes", b->limit);
    return jx_oom(c, line);
}

jv *jx_buf_str(jctx *c, int line, const jbuf *b)
{
    jv *r = jv_str_ref(c->a, b->p ? b->p : "", b->n);
    return r ? r : jx_oom(c, line);
}

jv *jx_undefined(jctx *c, const char *why)
{
    jv *u = jv_new(c->a, JV_UNDEF);
    if (!u || !(u->undef_name = ja_strndup(c->a, why, strlen(why))))
        return jx_oom(c, 0);
    return u;
}

static jv *undef_named(jctx *c, const char *fmt, const char *name)
{
    char tmp[200];
    snprintf(tmp, sizeof tmp, fmt, name);
    return jx_undefined(c, tmp);
}

/* The failure of using an undefined value. */
static void *undefined_use(jctx *c, int line, const jv *v)
{
    return jx_failp(c, line, "%s", v->undef_name ? v->undef_name : "undefined value used");
}

jv *jx_to_str(jctx *c, int line, jv *v)
{
    if (v->k == JV_STR)
        return v;
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    if (jv_write_str(&b, v)) {
        if (jb_over(&b))
            return jx_buf_fail(c, line, &b);
        return jx_failp(c, line, "a %s has no text", jv_kind_name(v->k));
    }
    jv *s = jv_str_ref(c->a, b.p ? b.p : "", b.n);
    return s ? s : jx_oom(c, line);
}

/* ---- scopes ---- */

static jscope *scope_new(jctx *c, jscope *parent)
{
    jscope *s = ja_alloc(c->a, sizeof *s);
    if (!s)
        return jx_oom(c, 0);
    memset(s, 0, sizeof *s);
    s->parent = parent;
    return s;
}

static int scope_set(jctx *c, jscope *s, const char *name, jv *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->vars[i].key, name)) {
            s->vars[i].val = v;
            return 0;
        }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        jpair *p = ja_alloc(c->a, cap * sizeof *p);
        if (!p) {
            jx_oom(c, 0);
            return -1;
        }
        if (s->n)
            memcpy(p, s->vars, s->n * sizeof *p);
        s->vars = p;
        s->cap = cap;
    }
    s->vars[s->n++] = (jpair){name, strlen(name), v};
    return 0;
}

static jv *lookup(jctx *c, const char *name)
{
    for (jscope *s = c->scope; s; s = s->parent)
        for (size_t i = s->n; i-- > 0;)
            if (!strcmp(s->vars[i].key, name))
                return s->vars[i].val;
    int g = jinja_global_id(name);
    if (g >= 0) {
        jv *f = jv_new(c->a, JV_FUNC);
        if (!f)
            return jx_oom(c, 0);
        f->u.func = g;
        return f;
    }
    return undef_named(c, "'%s' is undefined", name);
}

/* ---- expressions ---- */

static jv *eval(jctx *c, const jnode *n);

static bool enter(jctx *c, int line)
{
    if (++c->steps > c->lim->max_steps) {
        jx_fail(c, line, "template exceeded %lu evaluation steps", c->lim->max_steps);
        return false;
    }
    if (++c->rdepth > JINJA_MAX_FRAMES) {
        jx_fail(c, line, "template evaluation nested deeper than %d frames", JINJA_MAX_FRAMES);
        return false;
    }
    return true;
}

static int eval_args(jctx *c, const jnode *n, jargs *args)
{
    args->npos = n->n;
    args->nkw = n->n2;
    args->kwn = n->names;
    args->pos = ja_alloc(c->a, (n->n + n->n2 + 1) * sizeof(jv *));
    if (!args->pos) {
        jx_oom(c, n->line);
        return -1;
    }
    args->kwv = args->pos + n->n;
    for (size_t i = 0; i < n->n; i++)
        if (!(args->pos[i] = eval(c, n->list[i])))
            return -1;
    for (size_t i = 0; i < n->n2; i++)
        if (!(args->kwv[i] = eval(c, n->list2[i])))
            return -1;
    return 0;
}

int jx_bind(jctx *c, int line, const char *what, const char *const *names, size_t n,
            const jargs *args, jv **out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    if (args->npos > n)
        return jx_fail(c, line, "%s takes at most %zu arguments (%zu given)", what, n, args->npos);
    for (size_t i = 0; i < args->npos; i++)
        out[i] = args->pos[i];
    for (size_t k = 0; k < args->nkw; k++) {
        size_t i = 0;
        while (i < n && strcmp(names[i], args->kwn[k]))
            i++;
        if (i == n)
            return jx_fail(c, line, "%s got an unexpected keyword argument '%s'", what, args->kwn[k]);
        if (out[i])
            return jx_fail(c, line, "%s got multiple values for argument '%s'", what, names[i]);
        out[i] = args->kwv[k];
    }
    return 0;
}

static bool is_intlike(const jv *v) { return v->k == JV_INT || v->k == JV_BOOL; }
static int64_t intval(const jv *v) { return v->k == JV_INT ? v->u.i : v->u.b; }
static bool is_number(const jv *v) { return is_intlike(v) || v->k == JV_FLOAT; }
static double fval(const jv *v) { return v->k == JV_FLOAT ? v->u.f : (double)intval(v); }

static const char *type_name(const jv *v)
{
    switch (v->k) {
    case JV_NONE: return "NoneType";
    case JV_BOOL: return "bool";
    case JV_INT: return "int";
    case JV_FLOAT: return "float";
    case JV_STR: return "str";
    case JV_LIST: return v->u.list.tuple ? "tuple" : "list";
    case JV_DICT: return "dict";
    default: return jv_kind_name(v->k);
    }
}

static jv *type_error(jctx *c, int line, const char *op, const jv *x, const jv *y)
{
    return jx_failp(c, line, "unsupported operand types for %s: '%s' and '%s'", op, type_name(x), type_name(y));
}

static jv *repeat(jctx *c, int line, const jv *seq, int64_t times)
{
    if (times < 0)
        times = 0;
    if (seq->k == JV_STR) {
        size_t n = seq->u.str.n;
        if (n && (uint64_t)times > c->lim->max_output / n)
            return jx_failp(c, line, "string repetition larger than %zu bytes", c->lim->max_output);
        char *p = ja_alloc(c->a, n * (size_t)times + 1);
        if (!p)
            return jx_oom(c, line);
        for (int64_t i = 0; i < times; i++)
            memcpy(p + (size_t)i * n, seq->u.str.s, n);
        p[n * (size_t)times] = 0;
        jv *r = jv_str_ref(c->a, p, n * (size_t)times);
        if (r)
            r->u.str.markup = seq->u.str.markup;
        return r ? r : jx_oom(c, line);
    }
    size_t n = seq->u.list.n;
    if (n && (uint64_t)times > (c->lim->max_memory / sizeof(jv *)) / n)
        return jx_oom(c, line);
    jv *r = jv_list(c->a, n * (size_t)times);
    if (!r)
        return jx_oom(c, line);
    r->u.list.tuple = seq->u.list.tuple;
    for (size_t i = 0; i < r->u.list.n; i++)
        r->u.list.items[i] = seq->u.list.items[i % n];
    return r;
}

static jv *num_result(jctx *c, int line, bool as_float, double f, int64_t i)
{
    jv *r = as_float ? jv_float(c->a, f) : jv_int(c->a, i);
    return r ? r : jx_oom(c, line);
}

static jv *arith(jctx *c, int line, int op, jv *x, jv *y)
{
    static const char *const sym[] = {"+", "-", "*", "/", "//", "%", "**"};
    if (x->k == JV_UNDEF)
        return undefined_use(c, line, x);
    if (y->k == JV_UNDEF)
        return undefined_use(c, line, y);
    if (op == JOP_ADD && x->k == JV_STR && y->k == JV_STR) {
        /* Markup + str escapes the str (markupsafe), as Jinja2 does even without autoescape */
        bool markup = x->u.str.markup || y->u.str.markup;
        jbuf b;
        jb_init(&b, c->a, c->lim->max_output);
        if (markup ? jx_put_escaped(&b, x) || jx_put_escaped(&b, y)
                   : jb_put(&b, x->u.str.s, x->u.str.n) || jb_put(&b, y->u.str.s, y->u.str.n))
            return jx_buf_fail(c, line, &b);
        jv *r = jv_str_ref(c->a, b.p ? b.p : "", b.n);
        if (!r)
            return jx_oom(c, line);
        r->u.str.markup = markup;
        return r;
    }
    if (op == JOP_ADD && x->k == JV_LIST && y->k == JV_LIST && x->u.list.tuple == y->u.list.tuple &&
        !x->u.list.gen && !y->u.list.gen) {
        jv *r = jv_list(c->a, x->u.list.n + y->u.list.n);
        if (!r)
            return jx_oom(c, line);
        r->u.list.tuple = x->u.list.tuple;
        for (size_t i = 0; i < x->u.list.n; i++)
            r->u.list.items[i] = x->u.list.items[i];
        for (size_t i = 0; i < y->u.list.n; i++)
            r->u.list.items[x->u.list.n + i] = y->u.list.items[i];
        return r;
    }
    if (op == JOP_MUL && (x->k == JV_STR || (x->k == JV_LIST && !x->u.list.gen)) && is_intlike(y))
        return repeat(c, line, x, intval(y));
    if (op == JOP_MUL && (y->k == JV_STR || (y->k == JV_LIST && !y->u.list.gen)) && is_intlike(x))
        return repeat(c, line, y, intval(x));
    if (op == JOP_MOD && x->k == JV_STR)
        return jx_failp(c, line, "unsupported construct: string formatting with '%%'");
    if (!is_number(x) || !is_number(y))
        return type_error(c, line, sym[op], x, y);
    bool fl = x->k == JV_FLOAT || y->k == JV_FLOAT;
    int64_t a = fl ? 0 : intval(x), b = fl ? 0 : intval(y), r;
    double fa = fval(x), fb = fval(y);
    switch (op) {
    case JOP_ADD:
        if (!fl && __builtin_add_overflow(a, b, &r))
            return jx_failp(c, line, "integer overflow in '+'");
        return num_result(c, line, fl, fa + fb, fl ? 0 : a + b);
    case JOP_SUB:
        if (!fl && __builtin_sub_overflow(a, b, &r))
            return jx_failp(c, line, "integer overflow in '-'");
        return num_result(c, line, fl, fa - fb, fl ? 0 : a - b);
    case JOP_MUL:
        if (!fl && __builtin_mul_overflow(a, b, &r))
            return jx_failp(c, line, "integer overflow in '*'");
        return num_result(c, line, fl, fa * fb, fl ? 0 : a * b);
    case JOP_DIV:
        if (fb == 0.0)
            return jx_failp(c, line, "division by zero");
        return num_result(c, line, true, fa / fb, 0);
    case JOP_FLOORDIV: case JOP_MOD:
        if (fl ? fb == 0.0 : b == 0)
            return jx_failp(c, line, "%s by zero", op == JOP_MOD ? "modulo" : "division");
        if (fl) {
            double m = fmod(fa, fb);
            if (m != 0.0 && ((m < 0) != (fb < 0)))
                m += fb;
            return num_result(c, line, true, op == JOP_MOD ? m : floor((fa - m) / fb + 0.5), 0);
        }
        if (a == INT64_MIN && b == -1)
            return jx_failp(c, line, "integer overflow in '%s'", sym[op]);
        {
            int64_t q = a / b, m = a % b;
            if (m != 0 && ((m < 0) != (b < 0))) {
                q--;
                m += b;
            }
            return num_result(c, line, false, 0, op == JOP_MOD ? m : q);
        }
    default: /* JOP_POW */
        if (!fl && b >= 0) {
            int64_t acc = 1;
            for (int64_t k = 0; k < b; k++)
                if (__builtin_mul_overflow(acc, a, &acc))
                    return jx_failp(c, line, "integer overflow in '**'");
                else if (acc == 0 || acc == 1)
                    break;
            if (acc == 1 && a == -1 && (b & 1))
                acc = -1;
            return num_result(c, line, false, 0, acc);
        }
        if (fa == 0.0 && fb < 0)
            return jx_failp(c, line, "0.0 cannot be raised to a negative power");
        return num_result(c, line, true, pow(fa, fb), 0);
    }
}

/* <, <=, >, >=: -1 on a type error (err set), else 0 / 1. */
static int order(jctx *c, int line, const jv *x, const jv *y, int *cmp)
{
    if (x->k == JV_UNDEF)
        return undefined_use(c, line, x), -1;
    if (y->k == JV_UNDEF)
        return undefined_use(c, line, y), -1;
    if (is_number(x) && is_number(y)) {
        if (x->k != JV_FLOAT && y->k != JV_FLOAT)
            *cmp = (intval(x) > intval(y)) - (intval(x) < intval(y));
        else
            *cmp = (fval(x) > fval(y)) - (fval(x) < fval(y));
        return 0;
    }
    if (x->k == JV_STR && y->k == JV_STR) {
        size_t n = x->u.str.n < y->u.str.n ? x->u.str.n : y->u.str.n;
        int r = n ? memcmp(x->u.str.s, y->u.str.s, n) : 0;
        *cmp = r ? (r > 0) - (r < 0) : (x->u.str.n > y->u.str.n) - (x->u.str.n < y->u.str.n);
        return 0;
    }
    if (x->k == JV_LIST && y->k == JV_LIST && x->u.list.tuple == y->u.list.tuple) {
        for (size_t i = 0; i < x->u.list.n && i < y->u.list.n; i++) {
            if (jv_equal(x->u.list.items[i], y->u.list.items[i]))
                continue;
            return order(c, line, x->u.list.items[i], y->u.list.items[i], cmp);
        }
        *cmp = (x->u.list.n > y->u.list.n) - (x->u.list.n < y->u.list.n);
        return 0;
    }
    jx_fail(c, line, "'<' not supported between '%s' and '%s'", type_name(x), type_name(y));
    return -1;
}

int jx_contains(jctx *c, int line, const jv *x, const jv *y)
{
    switch (y->k) {
    case JV_UNDEF: return 0;
    case JV_STR:
        if (x->k != JV_STR)
            return jx_fail(c, line, "'in <string>' requires a string, not '%s'", type_name(x));
        return x->u.str.n == 0 || memmem(y->u.str.s, y->u.str.n, x->u.str.s, x->u.str.n) != NULL;
    case JV_LIST:
        for (size_t i = 0; i < y->u.list.n; i++)
            if (jv_equal(x, y->u.list.items[i]))
                return 1;
        return 0;
    case JV_DICT:
        return x->k == JV_STR && jv_dict_get(y, x->u.str.s, x->u.str.n) != NULL;
    default:
        return jx_fail(c, line, "argument of type '%s' is not iterable", type_name(y));
    }
}

static jv *compare(jctx *c, const jnode *n)
{
    jv *left = eval(c, n->list[0]);
    if (!left)
        return NULL;
    for (size_t i = 1; i < n->n; i++) {
        jv *right = eval(c, n->list[i]);
        if (!right)
            return NULL;
        int op = n->ops[i - 1], r, cmp = 0;
        switch (op) {
        case JOP_EQ: r = jv_equal(left, right); break;
        case JOP_NE: r = !jv_equal(left, right); break;
        case JOP_IN: case JOP_NOTIN:
            if ((r = jx_contains(c, n->line, left, right)) < 0)
                return NULL;
            if (op == JOP_NOTIN)
                r = !r;
            break;
        default:
            if (order(c, n->line, left, right, &cmp))
                return NULL;
            r = op == JOP_LT ? cmp < 0 : op == JOP_LE ? cmp <= 0 : op == JOP_GT ? cmp > 0 : cmp >= 0;
        }
        if (!r)
            return &jv_false_value;
        left = right;
    }
    return &jv_true_value;
}

/* Python's slice.indices for a sequence of len items. */
static int slice_indices(jctx *c, int line, jv *const parts[3], int64_t len, int64_t *start, int64_t *stop,
                         int64_t *step)
{
    for (int k = 0; k < 3; k++)
        if (parts[k] && parts[k]->k != JV_NONE && !is_intlike(parts[k]))
            return jx_fail(c, line, "slice indices must be integers or None, not '%s'", type_name(parts[k]));
    *step = parts[2] && parts[2]->k != JV_NONE ? intval(parts[2]) : 1;
    if (*step == 0)
        return jx_fail(c, line, "slice step cannot be zero");
    int64_t lower = *step > 0 ? 0 : -1, upper = *step > 0 ? len : len - 1;
    int64_t *out[2] = {start, stop};
    for (int k = 0; k < 2; k++) {
        if (!parts[k] || parts[k]->k == JV_NONE) {
            *out[k] = (k == 0) == (*step > 0) ? lower : upper;
            continue;
        }
        int64_t v = intval(parts[k]);
        if (v < 0) {
            v += len;
            if (v < lower)
                v = lower;
        } else if (v > upper) {
            v = upper;
        }
        *out[k] = v;
    }
    return 0;
}

static jv *slice(jctx *c, const jnode *n)
{
    jv *obj = eval(c, n->a), *parts[3] = {NULL, NULL, NULL};
    if (!obj)
        return NULL;
    const jnode *pn[3] = {n->b, n->c, n->list[0]};
    for (int k = 0; k < 3; k++)
        if (pn[k] && !(parts[k] = eval(c, pn[k])))
            return NULL;
    if (obj->k == JV_UNDEF)
        return undefined_use(c, n->line, obj);
    if (obj->k != JV_STR && (obj->k != JV_LIST || obj->u.list.gen))
        return undef_named(c, "'%s' object is not subscriptable", type_name(obj));
    int64_t start = 0, stop = 0, step = 1;
    size_t len = obj->k == JV_STR ? utf8_len(obj->u.str.s, obj->u.str.n) : obj->u.list.n;
    if (slice_indices(c, n->line, parts, (int64_t)len, &start, &stop, &step))
        return NULL;
    size_t count = 0;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        count++;
    if (obj->k == JV_LIST) {
        jv *r = jv_list(c->a, count);
        if (!r)
            return jx_oom(c, n->line);
        r->u.list.tuple = obj->u.list.tuple;
        size_t k = 0;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
            r->u.list.items[k++] = obj->u.list.items[i];
        return r;
    }
    /* strings: by code point */
    size_t *off = ja_alloc(c->a, (len + 1) * sizeof *off);
    char *p = ja_alloc(c->a, obj->u.str.n + 1);
    if (!off || !p)
        return jx_oom(c, n->line);
    size_t pos = 0, k = 0;
    for (size_t i = 0; i < len; i++) {
        off[i] = pos;
        size_t l = utf8_char_len((unsigned char)obj->u.str.s[pos]);
        pos += l > obj->u.str.n - pos ? obj->u.str.n - pos : l;
    }
    off[len] = obj->u.str.n;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        memcpy(p + k, obj->u.str.s + off[i], off[i + 1] - off[i]);
        k += off[i + 1] - off[i];
    }
    p[k] = 0;
    jv *r = jv_str_ref(c->a, p, k);
    return r ? r : jx_oom(c, n->line);
}

static jv *call(jctx *c, const jnode *n)
{
    jv *fn = eval(c, n->a);
    jargs args;
    if (!fn || eval_args(c, n, &args))
        return NULL;
    switch (fn->k) {
    case JV_MACRO: return jinja_call_macro(c, n->line, fn, &args, NULL);
    case JV_FUNC: case JV_METHOD: return jinja_call_builtin(c, n->line, fn, &args);
    case JV_UNDEF: return undefined_use(c, n->line, fn);
    default: return jx_failp(c, n->line, "'%s' object is not callable", type_name(fn));
    }
}

/* A filter chain; base replaces the innermost operand when that is NULL (filter blocks). */
static jv *filter(jctx *c, const jnode *n, jv *base)
{
    jv *v;
    if (!n->a)
        v = base;
    else if (n->a->k == JN_FILTER)
        v = filter(c, n->a, base);
    else
        v = eval(c, n->a);
    jargs args;
    if (!v || eval_args(c, n, &args))
        return NULL;
    return jinja_apply_filter(c, n->line, n->op, v, &args);
}

static jv *build(jctx *c, const jnode *n)
{
    if (n->k == JN_DICT) {
        jv *d = jv_dict(c->a);
        if (!d)
            return jx_oom(c, n->line);
        for (size_t i = 0; i < n->n; i++) {
            jv *k = eval(c, n->list[i]), *v;
            if (!k || !(v = eval(c, n->list2[i])))
                return NULL;
            if (k->k != JV_STR)
                return jx_failp(c, n->line, "unsupported construct: a dict key of type '%s' (only strings)",
                                type_name(k));
            if (jv_dict_set(c->a, d, k->u.str.s, k->u.str.n, v))
                return jx_oom(c, n->line);
        }
        return d;
    }
    jv *l = jv_list(c->a, n->n);
    if (!l)
        return jx_oom(c, n->line);
    l->u.list.tuple = n->k == JN_TUPLE;
    for (size_t i = 0; i < n->n; i++)
        if (!(l->u.list.items[i] = eval(c, n->list[i])))
            return NULL;
    return l;
}

static jv *concat(jctx *c, const jnode *n)
{
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    for (size_t i = 0; i < n->n; i++) {
        jv *v = eval(c, n->list[i]);
        if (!v)
            return NULL;
        if (jv_write_str(&b, v)) {
            if (jb_over(&b))
                return jx_buf_fail(c, n->line, &b);
            return jx_failp(c, n->line, "a %s has no text for '~'", jv_kind_name(v->k));
        }
    }
    jv *r = jv_str_ref(c->a, b.p ? b.p : "", b.n);
    return r ? r : jx_oom(c, n->line);
}

static jv *eval_inner(jctx *c, const jnode *n)
{
    jv *x, *y;
    switch (n->k) {
    case JN_CONST: return n->value;
    case JN_NAME: return lookup(c, n->name);
    case JN_GETATTR:
        if (!(x = eval(c, n->a)))
            return NULL;
        return jinja_getattr(c, n->line, x, n->name, strlen(n->name));
    case JN_GETITEM:
        if (!(x = eval(c, n->a)) || !(y = eval(c, n->b)))
            return NULL;
        return jinja_getitem(c, n->line, x, y);
    case JN_SLICE: return slice(c, n);
    case JN_CALL: return call(c, n);
    case JN_FILTER: return filter(c, n, NULL);
    case JN_TEST: {
        jargs args;
        if (!(x = eval(c, n->a)) || eval_args(c, n, &args))
            return NULL;
        int r = jinja_apply_test(c, n->line, n->op, x, &args);
        return r < 0 ? NULL : jv_bool(n->neg ? !r : r);
    }
    case JN_NEG: case JN_POS:
        if (!(x = eval(c, n->a)))
            return NULL;
        if (x->k == JV_UNDEF)
            return undefined_use(c, n->line, x);
        if (!is_number(x))
            return jx_failp(c, n->line, "bad operand type for unary %s: '%s'", n->k == JN_NEG ? "-" : "+",
                            type_name(x));
        if (n->k == JN_POS)
            return x->k == JV_BOOL ? num_result(c, n->line, false, 0, intval(x)) : x;
        if (x->k == JV_FLOAT)
            return num_result(c, n->line, true, -x->u.f, 0);
        if (intval(x) == INT64_MIN)
            return jx_failp(c, n->line, "integer overflow in unary '-'");
        return num_result(c, n->line, false, 0, -intval(x));
    case JN_NOT:
        if (!(x = eval(c, n->a)))
            return NULL;
        return jv_bool(!jv_truthy(x));
    case JN_AND: case JN_OR:
        if (!(x = eval(c, n->a)))
            return NULL;
        if (jv_truthy(x) == (n->k == JN_OR))
            return x;
        return eval(c, n->b);
    case JN_BINOP:
        if (!(x = eval(c, n->a)) || !(y = eval(c, n->b)))
            return NULL;
        return arith(c, n->line, n->op, x, y);
    case JN_COMPARE: return compare(c, n);
    case JN_COND:
        if (!(x = eval(c, n->a)))
            return NULL;
        if (jv_truthy(x))
            return eval(c, n->b);
        return n->c ? eval(c, n->c) : undef_named(c, "%s", "the 'else' of a conditional expression is undefined");
    case JN_LIST: case JN_TUPLE: case JN_DICT: return build(c, n);
    case JN_CONCAT: return concat(c, n);
    default: return jx_failp(c, n->line, "a statement where an expression was expected");
    }
}

static jv *eval(jctx *c, const jnode *n)
{
    if (!enter(c, n->line))
        return NULL;
    jv *v = eval_inner(c, n);
    c->rdepth--;
    return v;
}

/* ---- statements ---- */

static int exec_body(jctx *c, jnode *const *list, size_t n, jbuf *out);

/* Renders a body into a new string value. */
static jv *capture(jctx *c, int line, jnode *const *list, size_t n)
{
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    if (exec_body(c, list, n, &b))
        return NULL;
    return jx_buf_str(c, line, &b);
}

static int emit(jctx *c, int line, jbuf *out, jv *v)
{
    if (jv_write_str(out, v) == 0)
        return 0;
    if (jb_over(out))
        return jx_buf_fail(c, line, out), -1;
    return jx_fail(c, line, "cannot print a %s", jv_kind_name(v->k));
}

static int assign(jctx *c, int line, const char *const *names, size_t n, jv *v)
{
    if (n == 1)
        return scope_set(c, c->scope, names[0], v);
    if (v->k == JV_UNDEF)
        return undefined_use(c, line, v), -1;
    if (v->k != JV_LIST)
        return jx_fail(c, line, "cannot unpack a '%s' into %zu variables", type_name(v), n);
    if (v->u.list.n != n)
        return jx_fail(c, line, "cannot unpack %zu values into %zu variables", v->u.list.n, n);
    for (size_t i = 0; i < n; i++)
        if (scope_set(c, c->scope, names[i], v->u.list.items[i]))
            return -1;
    return 0;
}

/* The items a for loop walks: a list's items, a dict's keys, a string's characters. */
static jv *iterable(jctx *c, int line, jv *v)
{
    switch (v->k) {
    case JV_LIST: return v;
    case JV_UNDEF: return jv_list(c->a, 0) ?: jx_oom(c, line);
    case JV_DICT: {
        jv *l = jv_list(c->a, v->u.dict.n);
        for (size_t i = 0; l && i < v->u.dict.n; i++)
            if (!(l->u.list.items[i] = jv_str_ref(c->a, v->u.dict.items[i].key, v->u.dict.items[i].klen)))
                l = NULL;
        return l ? l : jx_oom(c, line);
    }
    case JV_STR: {
        size_t len = utf8_len(v->u.str.s, v->u.str.n), pos = 0;
        jv *l = jv_list(c->a, len);
        for (size_t i = 0; l && i < len; i++) {
            size_t k = utf8_char_len((unsigned char)v->u.str.s[pos]);
            if (k > v->u.str.n - pos)
                k = v->u.str.n - pos;
            if (!(l->u.list.items[i] = jv_str_ref(c->a, v->u.str.s + pos, k)))
                l = NULL;
            pos += k;
        }
        return l ? l : jx_oom(c, line);
    }
    default: return jx_failp(c, line, "'%s' object is not iterable", type_name(v));
    }
}

static jv *loop_object(jctx *c, size_t i, size_t len, jv *const *items)
{
    jv *d = jv_dict(c->a);
    if (!d)
        return NULL;
    struct { const char *k; jv *v; } f[] = {
        {"index", jv_int(c->a, (int64_t)i + 1)},
        {"index0", jv_int(c->a, (int64_t)i)},
        {"revindex", jv_int(c->a, (int64_t)(len - i))},
        {"revindex0", jv_int(c->a, (int64_t)(len - i - 1))},
        {"first", jv_bool(i == 0)},
        {"last", jv_bool(i + 1 == len)},
        {"length", jv_int(c->a, (int64_t)len)},
        {"depth", jv_int(c->a, 1)},
        {"depth0", jv_int(c->a, 0)},
        {"previtem", i > 0 ? items[i - 1] : NULL},
        {"nextitem", i + 1 < len ? items[i + 1] : NULL},
    };
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        if (!f[k].v) {
            if (k < 9)
                return NULL;
            continue; /* previtem / nextitem: undefined at the ends */
        }
        if (jv_dict_set(c->a, d, f[k].k, strlen(f[k].k), f[k].v))
            return NULL;
    }
    return d;
}

static int exec_for(jctx *c, const jnode *n, jbuf *out)
{
    jv *seq = eval(c, n->a);
    if (!seq || !(seq = iterable(c, n->line, seq)))
        return -1;
    jscope *outer = c->scope;
    jv **items = seq->u.list.items;
    size_t len = seq->u.list.n;
    if (n->b) { /* {% for x in xs if cond %}: loop.* counts the kept items */
        jv **kept = ja_alloc(c->a, (len + 1) * sizeof *kept);
        size_t k = 0;
        if (!kept)
            return jx_oom(c, n->line), -1;
        for (size_t i = 0; i < len; i++) {
            if (!(c->scope = scope_new(c, outer)) || assign(c, n->line, n->names, n->nnames, items[i]))
                return c->scope = outer, -1;
            jv *keep = eval(c, n->b);
            c->scope = outer;
            if (!keep)
                return -1;
            if (jv_truthy(keep))
                kept[k++] = items[i];
        }
        items = kept;
        len = k;
    }
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        jv *loop = loop_object(c, i, len, items);
        if (!loop)
            return jx_oom(c, n->line), -1;
        if (!(c->scope = scope_new(c, outer)) || scope_set(c, c->scope, "loop", loop) ||
            assign(c, n->line, n->names, n->nnames, items[i])) {
            c->scope = outer;
            return -1;
        }
        rc = exec_body(c, n->list, n->n, out);
        c->scope = outer;
        if (c->brk == 1) {
            c->brk = 0;
            break;
        }
        c->brk = 0;
    }
    if (rc == 0 && len == 0 && n->n2)
        rc = exec_body(c, n->list2, n->n2, out);
    return rc;
}

jv *jinja_call_macro(jctx *c, int line, jv *m, const jargs *args, jv *caller)
{
    const jnode *def = m->u.macro.def;
    if (c->depth >= c->lim->max_depth)
        return jx_failp(c, line, "macro calls nested deeper than %d", c->lim->max_depth);
    jscope *saved = c->scope;
    jscope *s = scope_new(c, m->u.macro.closure);
    if (!s)
        return NULL;
    size_t np = def->nnames;
    size_t nextra = args->npos > np ? args->npos - np : 0;
    if (nextra && !(def->op & JINJA_MACRO_VARARGS))
        return jx_failp(c, line, "macro '%s' takes not more than %zu argument(s)", def->name, np);
    jv *varargs = jv_list(c->a, nextra), *kwargs = jv_dict(c->a);
    if (!varargs || !kwargs)
        return jx_oom(c, line);
    varargs->u.list.tuple = true;
    jv **vals = ja_alloc(c->a, (np + 1) * sizeof *vals);
    if (!vals)
        return jx_oom(c, line);
    for (size_t i = 0; i < np; i++)
        vals[i] = i < args->npos ? args->pos[i] : NULL;
    for (size_t i = 0; i < nextra; i++)
        varargs->u.list.items[i] = args->pos[np + i];
    if (caller && !(def->op & JINJA_MACRO_CALLER))
        return jx_failp(c, line, "macro '%s' called by {%% call %%} does not use caller()", def->name);
    for (size_t k = 0; k < args->nkw; k++) {
        size_t i = 0;
        if ((def->op & JINJA_MACRO_CALLER) && !strcmp(args->kwn[k], "caller")) {
            if (caller)
                return jx_failp(c, line, "macro '%s' got a caller argument and a {%% call %%} block", def->name);
            caller = args->kwv[k];
            continue;
        }
        while (i < np && strcmp(def->names[i], args->kwn[k]))
            i++;
        if (i == np) {
            if (!(def->op & JINJA_MACRO_KWARGS))
                return jx_failp(c, line, "macro '%s' takes no keyword argument '%s'", def->name, args->kwn[k]);
            if (jv_dict_set(c->a, kwargs, args->kwn[k], strlen(args->kwn[k]), args->kwv[k]))
                return jx_oom(c, line);
            continue;
        }
        if (vals[i])
            return jx_failp(c, line, "macro '%s' got multiple values for argument '%s'", def->name, def->names[i]);
        vals[i] = args->kwv[k];
    }
    c->scope = s;
    if (scope_set(c, s, "varargs", varargs) || scope_set(c, s, "kwargs", kwargs) ||
        (caller && scope_set(c, s, "caller", caller))) {
        c->scope = saved;
        return NULL;
    }
    for (size_t i = 0; i < np; i++) {
        jv *v = vals[i];
        if (!v && def->list2[i] && !(v = eval(c, def->list2[i]))) {
            c->scope = saved;
            return NULL;
        }
        if (!v && !(v = undef_named(c, "parameter '%s' is undefined", def->names[i]))) {
            c->scope = saved;
            return NULL;
        }
        if (scope_set(c, s, def->names[i], v)) {
            c->scope = saved;
            return NULL;
        }
    }
    c->depth++;
    int brk = c->brk;
    c->brk = 0;
    jv *r = capture(c, line, def->list, def->n);
    c->brk = brk;
    c->depth--;
    c->scope = saved;
    return r;
}

static int exec_stmt(jctx *c, const jnode *n, jbuf *out)
{
    jv *v;
    switch (n->k) {
    case JN_TEXT:
        if (jb_put(out, n->value->u.str.s, n->value->u.str.n))
            return jx_buf_fail(c, n->line, out), -1;
        return 0;
    case JN_OUTPUT:
        if (!(v = eval(c, n->a)))
            return -1;
        return emit(c, n->line, out, v);
    case JN_IF:
        if (!(v = eval(c, n->a)))
            return -1;
        return jv_truthy(v) ? exec_body(c, n->list, n->n, out) : exec_body(c, n->list2, n->n2, out);
    case JN_FOR: return exec_for(c, n, out);
    case JN_SET:
        if (!(v = eval(c, n->a)))
            return -1;
        return assign(c, n->line, n->names, n->nnames, v);
    case JN_SET_ATTR: {
        jv *ns = lookup(c, n->names[0]);
        if (!ns || !(v = eval(c, n->a)))
            return -1;
        if (ns->k != JV_NS)
            return jx_fail(c, n->line, "cannot assign attribute '%s' of '%s': not a namespace()", n->name,
                           n->names[0]);
        return jv_dict_set(c->a, ns, n->name, strlen(n->name), v) ? jx_oom(c, n->line), -1 : 0;
    }
    case JN_SET_BLOCK:
        if (!(v = capture(c, n->line, n->list, n->n)) || (n->a && !(v = filter(c, n->a, v))))
            return -1;
        return assign(c, n->line, n->names, n->nnames, v);
    case JN_MACRO:
        if (!(v = jv_new(c->a, JV_MACRO)))
            return jx_oom(c, n->line), -1;
        v->u.macro.def = n;
        v->u.macro.closure = c->scope;
        return scope_set(c, c->scope, n->name, v);
    case JN_CALL_BLOCK: {
        jv *fn = eval(c, n->a->a), *caller;
        jargs args;
        if (!fn || eval_args(c, n->a, &args))
            return -1;
        if (fn->k != JV_MACRO)
            return fn->k == JV_UNDEF ? (undefined_use(c, n->line, fn), -1)
                                     : jx_fail(c, n->line, "{%% call %%} of a '%s', not a macro", type_name(fn));
        if (!(caller = jv_new(c->a, JV_MACRO)))
            return jx_oom(c, n->line), -1;
        caller->u.macro.def = n->b;
        caller->u.macro.closure = c->scope;
        if (!(v = jinja_call_macro(c, n->line, fn, &args, caller)))
            return -1;
        return emit(c, n->line, out, v);
    }
    case JN_FILTER_BLOCK:
        if (!(v = capture(c, n->line, n->list, n->n)) || !(v = filter(c, n->a, v)))
            return -1;
        return emit(c, n->line, out, v);
    case JN_BREAK: c->brk = 1; return 0;
    case JN_CONTINUE: c->brk = 2; return 0;
    default:
        if (!(v = eval(c, n)))
            return -1;
        return emit(c, n->line, out, v);
    }
}

static int exec_body(jctx *c, jnode *const *list, size_t n, jbuf *out)
{
    for (size_t i = 0; i < n && !c->brk; i++) {
        if (!enter(c, list[i]->line))
            return -1;
        int rc = exec_stmt(c, list[i], out);
        c->rdepth--;
        if (rc)
            return -1;
    }
    return 0;
}

jinja_limits jinja_default_limits(void)
{
    return (jinja_limits){.max_output = 16u << 20, .max_memory = 256u << 20, .max_steps = 20000000ul,
                          .max_depth = 64};
}

jinja_template *jinja_parse(const char *src, size_t len, jinja_error *err)
{
    jinja_template *t = malloc(sizeof *t);
    err->line = 0;
    err->msg[0] = 0;
    if (!t) {
        snprintf(err->msg, sizeof err->msg, "out of memory parsing the template");
        return NULL;
    }
    jtok *toks;
    size_t ntoks;
    ja_init(&t->arena, (size_t)64 << 20);
    if (jinja_lex(&t->arena, src, len, &toks, &ntoks, err) ||
        jinja_parse_tokens(&t->arena, toks, ntoks, &t->body, err)) {
        jinja_free(t);
        return NULL;
    }
    return t;
}

void jinja_free(jinja_template *t)
{
    if (t) {
        ja_release(&t->arena);
        free(t);
    }
}

int jinja_render(const jinja_template *t, const json_t *ctx, const jinja_limits *lim, time_t now,
                 char **out, size_t *out_len, jinja_error *err)
{
    jinja_limits dl = jinja_default_limits();
    jarena a;
    jctx c = {.a = &a, .err = err, .lim = lim ? lim : &dl, .now = now};
    err->line = 0;
    err->msg[0] = 0;
    *out = NULL;
    *out_len = 0;
    ja_init(&a, c.lim->max_memory);
    int rc = -1;
    if (ctx && !json_is_object(ctx)) {
        snprintf(err->msg, sizeof err->msg, "template context is not a JSON object");
        goto done;
    }
    if (!(c.globals = c.scope = scope_new(&c, NULL)))
        goto done;
    if (ctx) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)ctx, k, m) {
            jv *v = jv_from_json(&a, m);
            char *name = ja_strndup(&a, k, strlen(k));
            if (!v || !name) {
                jx_oom(&c, 0);
                goto done;
            }
            if (scope_set(&c, c.globals, name, v))
                goto done;
        }
    }
    jbuf b;
    jb_init(&b, &a, c.lim->max_output);
    if (exec_body(&c, t->body.list, t->body.n, &b))
        goto done;
    *out = malloc(b.n + 1);
    if (!*out) {
        snprintf(err->msg, sizeof err->msg, "out of memory for a %zu-byte prompt", b.n);
        goto done;
    }
    if (b.n)
        memcpy(*out, b.p, b.n);
    (*out)[b.n] = 0;
    *out_len = b.n;
    rc = 0;
done:
    ja_release(&a);
    return rc;
}
