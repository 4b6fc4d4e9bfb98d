/* The parser: tokens to a syntax tree, with Jinja2's grammar and operator precedence
 * (condition, or, and, not, comparisons, + -, ~, * / // %, **, unary, postfix, filters
 * and tests). Statements: if/elif/else, for/else with a condition, set (also of a
 * namespace attribute, and as a block), macro, call, filter, break and continue.
 * Anything else, and any unknown filter or test, is an error naming it and its line. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "template/jinja_internal.h"

typedef struct parser {
    jarena *a;
    const jtok *t;
    size_t n, i;
    int depth, loops;
    jinja_error *err;
} parser;

typedef struct nvec {
    jnode **p;
    size_t n, cap;
} nvec;

static void *pfail(parser *P, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void *pfail(parser *P, int line, const char *fmt, ...)
{
    if (P->err->msg[0])
        return NULL; /* keep the first failure */
    P->err->line = line;
    int k = snprintf(P->err->msg, sizeof P->err->msg, "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err->msg + k, sizeof P->err->msg - (size_t)k, fmt, ap);
    va_end(ap);
    return NULL;
}

static void *poom(parser *P) { return pfail(P, P->t[P->i].line, "template too large (out of memory)"); }

static const jtok *cur(const parser *P) { return &P->t[P->i]; }
static const jtok *peek(const parser *P, size_t k) { return P->i + k < P->n ? &P->t[P->i + k] : &P->t[P->n - 1]; }

static bool tok_is(const jtok *t, jtok_kind k, const char *s)
{
    return t->k == k && (!s || (t->n == strlen(s) && !memcmp(t->s, s, t->n)));
}
static bool is_op(const parser *P, const char *s) { return tok_is(cur(P), JT_OP, s); }
static bool is_name(const parser *P, const char *s) { return tok_is(cur(P), JT_NAME, s); }

static bool skip_op(parser *P, const char *s)
{
    if (!is_op(P, s))
        return false;
    P->i++;
    return true;
}
static bool skip_name(parser *P, const char *s)
{
    if (!is_name(P, s))
        return false;
    P->i++;
    return true;
}

static const char *describe(const jtok *t, char *buf, size_t n)
{
    switch (t->k) {
    case JT_EOF: return "the end of the template";
    case JT_BLOCK_END: return "'%}'";
    case JT_VAR_END: return "'}}'";
    case JT_STRING: return "a string";
    case JT_INT: case JT_FLOAT: return "a number";
    default: snprintf(buf, n, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s); return buf;
    }
}

static void *unexpected(parser *P, const char *want)
{
    char buf[64];
    return pfail(P, cur(P)->line, "expected %s, found %s", want, describe(cur(P), buf, sizeof buf));
}

static bool expect_op(parser *P, const char *s)
{
    if (skip_op(P, s))
        return true;
    char want[16];
    snprintf(want, sizeof want, "'%s'", s);
    unexpected(P, want);
    return false;
}

static jnode *mk(parser *P, jnode_kind k, int line)
{
    jnode *n = ja_alloc(P->a, sizeof *n);
    if (!n)
        return poom(P);
    memset(n, 0, sizeof *n);
    n->k = k;
    n->line = line;
    return n;
}

static bool vpush(parser *P, nvec *v, jnode *x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        jnode **p = ja_alloc(P->a, cap * sizeof *p);
        if (!p) {
            poom(P);
            return false;
        }
        if (v->n)
            memcpy(p, v->p, v->n * sizeof *p);
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = x;
    return true;
}

static const char *name_dup(parser *P, const jtok *t)
{
    char *s = ja_strndup(P->a, t->s, t->n);
    return s ? s : poom(P);
}

static bool enter(parser *P)
{
    if (++P->depth > JINJA_MAX_NESTING) {
        pfail(P, cur(P)->line, "template nested deeper than %d levels", JINJA_MAX_NESTING);
        return false;
    }
    return true;
}

static jnode *parse_expression(parser *P, bool with_cond);
static jnode *parse_unary(parser *P, bool with_filter);
static jnode *parse_or(parser *P);

/* Arguments of a call, filter or test: positional, then name=value. */
static bool parse_args(parser *P, jnode *n)
{
    nvec pos = {0}, kwv = {0};
    const char **kwn = NULL;
    size_t nkw = 0, kwcap = 0;
    if (!expect_op(P, "("))
        return false;
    while (!is_op(P, ")")) {
        if (pos.n + nkw && !expect_op(P, ","))
            return false;
        if (is_op(P, ")"))
            break;
        if (is_op(P, "*") || is_op(P, "**")) {
            pfail(P, cur(P)->line, "unsupported construct: *args / **kwargs in a call");
            return false;
        }
        if (cur(P)->k == JT_NAME && tok_is(peek(P, 1), JT_OP, "=")) {
            if (nkw == kwcap) {
                kwcap = kwcap ? kwcap * 2 : 4;
                const char **k2 = ja_alloc(P->a, kwcap * sizeof *k2);
                if (!k2) {
                    poom(P);
                    return false;
                }
                if (nkw)
                    memcpy(k2, kwn, nkw * sizeof *k2);
                kwn = k2;
            }
            if (!(kwn[nkw] = name_dup(P, cur(P))))
                return false;
            P->i += 2;
            jnode *v = parse_expression(P, true);
            if (!v || !vpush(P, &kwv, v))
                return false;
            nkw++;
        } else {
            if (nkw) {
                pfail(P, cur(P)->line, "positional argument after a keyword argument");
                return false;
            }
            jnode *v = parse_expression(P, true);
            if (!v || !vpush(P, &pos, v))
                return false;
        }
    }
    P->i++;
    n->list = pos.p;
    n->n = pos.n;
    n->list2 = kwv.p;
    n->n2 = nkw;
    n->names = kwn;
    n->nnames = nkw;
    return true;
}

static jnode *parse_primary(parser *P)
{
    const jtok *t = cur(P);
    jnode *n;
    switch (t->k) {
    case JT_NAME: {
        P->i++;
        jv *c = NULL;
        if (tok_is(t, JT_NAME, "true") || tok_is(t, JT_NAME, "True"))
            c = &jv_true_value;
        else if (tok_is(t, JT_NAME, "false") || tok_is(t, JT_NAME, "False"))
            c = &jv_false_value;
        else if (tok_is(t, JT_NAME, "none") || tok_is(t, JT_NAME, "None"))
            c = &jv_none_value;
        if (!(n = mk(P, c ? JN_CONST : JN_NAME, t->line)))
            return NULL;
        n->value = c;
        if (!c && !(n->name = name_dup(P, t)))
            return NULL;
        return n;
    }
    case JT_STRING: {
        /* adjacent literals concatenate */
        size_t len = 0, k = P->i;
        for (; P->t[k].k == JT_STRING; k++)
            len += P->t[k].n;
        char *s = ja_alloc(P->a, len + 1);
        if (!s)
            return poom(P);
        len = 0;
        for (; P->i < k; P->i++) {
            memcpy(s + len, P->t[P->i].s, P->t[P->i].n);
            len += P->t[P->i].n;
        }
        s[len] = 0;
        if (!(n = mk(P, JN_CONST, t->line)) || !(n->value = jv_str_ref(P->a, s, len)))
            return n ? poom(P) : NULL;
        return n;
    }
    case JT_INT: case JT_FLOAT:
        P->i++;
        if (!(n = mk(P, JN_CONST, t->line)))
            return NULL;
        n->value = t->k == JT_INT ? jv_int(P->a, t->i) : jv_float(P->a, t->f);
        return n->value ? n : poom(P);
    case JT_OP:
        if (skip_op(P, "(")) {
            if (skip_op(P, ")"))
                return mk(P, JN_TUPLE, t->line);
            jnode *e = parse_expression(P, true);
            if (!e)
                return NULL;
            if (is_op(P, ",")) {
                nvec items = {0};
                if (!vpush(P, &items, e))
                    return NULL;
                while (skip_op(P, ",") && !is_op(P, ")")) {
                    jnode *x = parse_expression(P, true);
                    if (!x || !vpush(P, &items, x))
                        return NULL;
                }
                if (!(e = mk(P, JN_TUPLE, t->line)))
                    return NULL;
                e->list = items.p;
                e->n = items.n;
            }
            return expect_op(P, ")") ? e : NULL;
        }
        if (skip_op(P, "[")) {
            nvec items = {0};
            while (!is_op(P, "]")) {
                if (items.n && !expect_op(P, ","))
                    return NULL;
                if (is_op(P, "]"))
                    break;
                jnode *x = parse_expression(P, true);
                if (!x || !vpush(P, &items, x))
                    return NULL;
            }
            P->i++;
            if (!(n = mk(P, JN_LIST, t->line)))
                return NULL;
            n->list = items.p;
            n->n = items.n;
            return n;
        }
        if (skip_op(P, "{")) {
            nvec keys = {0}, vals = {0};
            while (!is_op(P, "}")) {
                if (keys.n && !expect_op(P, ","))
                    return NULL;
                if (is_op(P, "}"))
                    break;
                jnode *k = parse_expression(P, true);
                if (!k || !expect_op(P, ":"))
                    return NULL;
                jnode *v = parse_expression(P, true);
                if (!v || !vpush(P, &keys, k) || !vpush(P, &vals, v))
                    return NULL;
            }
            P->i++;
            if (!(n = mk(P, JN_DICT, t->line)))
                return NULL;
            n->list = keys.p;
            n->n = keys.n;
            n->list2 = vals.p;
            n->n2 = vals.n;
            return n;
        }
        break;
    default: break;
    }
    return unexpected(P, "an expression");
}

static jnode *parse_subscript(parser *P, jnode *obj, int line)
{
    jnode *parts[3] = {NULL, NULL, NULL};
    int k = 0;
    bool slice = false;
    for (;;) {
        if (!is_op(P, ":") && !is_op(P, "]")) {
            if (!(parts[k] = parse_expression(P, true)))
                return NULL;
        }
        if (k < 2 && skip_op(P, ":")) {
            slice = true;
            k++;
            continue;
        }
        break;
    }
    if (!expect_op(P, "]"))
        return NULL;
    if (!slice && !parts[0])
        return unexpected(P, "a subscript");
    jnode *n = mk(P, slice ? JN_SLICE : JN_GETITEM, line);
    if (!n)
        return NULL;
    n->a = obj;
    n->b = parts[0];
    if (slice) {
        n->c = parts[1];
        if (!(n->list = ja_alloc(P->a, sizeof *n->list)))
            return poom(P);
        n->list[0] = parts[2];
        n->n = 1;
    }
    return n;
}

static jnode *parse_postfix(parser *P, jnode *n)
{
    while (n) {
        int line = cur(P)->line;
        if (skip_op(P, ".")) {
            const jtok *t = cur(P);
            jnode *g;
            if (t->k == JT_NAME) {
                if (!(g = mk(P, JN_GETATTR, line)) || !(g->name = name_dup(P, t)))
                    return NULL;
            } else if (t->k == JT_INT) {
                jnode *key = mk(P, JN_CONST, line);
                if (!key || !(g = mk(P, JN_GETITEM, line)) || !(key->value = jv_int(P->a, t->i)))
                    return key ? poom(P) : NULL;
                g->b = key;
            } else {
                return unexpected(P, "an attribute name");
            }
            P->i++;
            g->a = n;
            n = g;
        } else if (skip_op(P, "[")) {
            n = parse_subscript(P, n, line);
        } else if (is_op(P, "(")) {
            jnode *c = mk(P, JN_CALL, line);
            if (!c)
                return NULL;
            c->a = n;
            n = parse_args(P, c) ? c : NULL;
        } else {
            break;
        }
    }
    return n;
}

/* '|' name [args], repeated, onto obj (NULL: the body of a filter block). */
static jnode *parse_filter(parser *P, jnode *obj)
{
    const jtok *t = cur(P);
    if (t->k != JT_NAME)
        return unexpected(P, "a filter name");
    const char *name = name_dup(P, t);
    if (!name)
        return NULL;
    int id = jinja_filter_id(name);
    if (id < 0)
        return pfail(P, t->line, "unsupported filter '%s'", name);
    jnode *f = mk(P, JN_FILTER, t->line);
    if (!f)
        return NULL;
    f->name = name;
    P->i++;
    f->op = id;
    f->a = obj;
    if (is_op(P, "(") && !parse_args(P, f))
        return NULL;
    return f;
}

static jnode *parse_test(parser *P, jnode *obj)
{
    int line = cur(P)->line;
    bool neg = skip_name(P, "not");
    const jtok *t = cur(P);
    if (t->k != JT_NAME)
        return unexpected(P, "a test name");
    char *name = ja_strndup(P->a, t->s, t->n);
    if (!name)
        return poom(P);
    int id = jinja_test_id(name);
    if (id < 0)
        return pfail(P, t->line, "unsupported test '%s'", name);
    P->i++;
    jnode *n = mk(P, JN_TEST, line);
    if (!n)
        return NULL;
    n->name = name;
    n->op = id;
    n->a = obj;
    n->neg = neg;
    const jtok *x = cur(P);
    if (is_op(P, "(")) {
        if (!parse_args(P, n))
            return NULL;
    } else if ((x->k == JT_NAME || x->k == JT_STRING || x->k == JT_INT || x->k == JT_FLOAT ||
                tok_is(x, JT_OP, "[") || tok_is(x, JT_OP, "{")) &&
               !tok_is(x, JT_NAME, "else") && !tok_is(x, JT_NAME, "or") && !tok_is(x, JT_NAME, "and")) {
        if (tok_is(x, JT_NAME, "is"))
            return pfail(P, x->line, "tests cannot be chained with 'is'");
        jnode *arg = parse_postfix(P, parse_primary(P));
        if (!arg || !(n->list = ja_alloc(P->a, sizeof *n->list)))
            return arg ? poom(P) : NULL;
        n->list[0] = arg;
        n->n = 1;
    }
    return n;
}

static jnode *parse_filter_expr(parser *P, jnode *n)
{
    while (n) {
        if (skip_op(P, "|"))
            n = parse_filter(P, n);
        else if (skip_name(P, "is"))
            n = parse_test(P, n);
        else if (is_op(P, "(")) {
            jnode *c = mk(P, JN_CALL, cur(P)->line);
            if (!c)
                return NULL;
            c->a = n;
            n = parse_args(P, c) ? c : NULL;
        } else
            break;
    }
    return n;
}

static jnode *parse_unary(parser *P, bool with_filter)
{
    if (!enter(P))
        return NULL;
    int line = cur(P)->line;
    jnode *n;
    if (is_op(P, "-") || is_op(P, "+")) {
        bool neg = is_op(P, "-");
        P->i++;
        jnode *x = parse_unary(P, false);
        if (!x || !(n = mk(P, neg ? JN_NEG : JN_POS, line)))
            return NULL;
        n->a = x;
    } else {
        n = parse_primary(P);
    }
    n = parse_postfix(P, n);
    if (with_filter)
        n = parse_filter_expr(P, n);
    P->depth--;
    return n;
}

static jnode *binop(parser *P, int op, jnode *l, jnode *r, int line)
{
    if (!l || !r)
        return NULL;
    jnode *n = mk(P, JN_BINOP, line);
    if (n) {
        n->op = op;
        n->a = l;
        n->b = r;
    }
    return n;
}

static jnode *parse_pow(parser *P)
{
    jnode *l = parse_unary(P, true);
    while (l && is_op(P, "**")) {
        int line = cur(P)->line;
        P->i++;
        l = binop(P, JOP_POW, l, parse_unary(P, true), line);
    }
    return l;
}

static jnode *parse_math2(parser *P)
{
    jnode *l = parse_pow(P);
    for (;;) {
        int op = is_op(P, "*") ? JOP_MUL : is_op(P, "/") ? JOP_DIV : is_op(P, "//") ? JOP_FLOORDIV
                                                           : is_op(P, "%") ? JOP_MOD : -1;
        if (!l || op < 0)
            return l;
        int line = cur(P)->line;
        P->i++;
        l = binop(P, op, l, parse_pow(P), line);
    }
}

static jnode *parse_concat(parser *P)
{
    jnode *l = parse_math2(P);
    if (!l || !is_op(P, "~"))
        return l;
    nvec items = {0};
    jnode *n = mk(P, JN_CONCAT, cur(P)->line);
    if (!n || !vpush(P, &items, l))
        return NULL;
    while (skip_op(P, "~")) {
        jnode *x = parse_math2(P);
        if (!x || !vpush(P, &items, x))
            return NULL;
    }
    n->list = items.p;
    n->n = items.n;
    return n;
}

static jnode *parse_math1(parser *P)
{
    jnode *l = parse_concat(P);
    while (l && (is_op(P, "+") || is_op(P, "-"))) {
        int op = is_op(P, "+") ? JOP_ADD : JOP_SUB, line = cur(P)->line;
        P->i++;
        l = binop(P, op, l, parse_concat(P), line);
    }
    return l;
}

static jnode *parse_compare(parser *P)
{
    jnode *first = parse_math1(P);
    if (!first)
        return NULL;
    nvec operands = {0};
    int ops[64], nops = 0;
    int line = cur(P)->line;
    for (;;) {
        int op = is_op(P, "==") ? JOP_EQ : is_op(P, "!=") ? JOP_NE : is_op(P, "<") ? JOP_LT
                 : is_op(P, "<=") ? JOP_LE : is_op(P, ">") ? JOP_GT : is_op(P, ">=") ? JOP_GE : -1;
        if (op >= 0)
            P->i++;
        else if (skip_name(P, "in"))
            op = JOP_IN;
        else if (is_name(P, "not") && tok_is(peek(P, 1), JT_NAME, "in")) {
            P->i += 2;
            op = JOP_NOTIN;
        } else
            break;
        if (nops == 64)
            return pfail(P, line, "comparison chain longer than 64 operators");
        if (!operands.n && !vpush(P, &operands, first))
            return NULL;
        jnode *x = parse_math1(P);
        if (!x || !vpush(P, &operands, x))
            return NULL;
        ops[nops++] = op;
    }
    if (!nops)
        return first;
    jnode *n = mk(P, JN_COMPARE, line);
    if (!n || !(n->ops = ja_alloc(P->a, (size_t)nops * sizeof(int))))
        return n ? poom(P) : NULL;
    memcpy(n->ops, ops, (size_t)nops * sizeof(int));
    n->list = operands.p;
    n->n = operands.n;
    return n;
}

static jnode *parse_not(parser *P)
{
    if (is_name(P, "not")) {
        int line = cur(P)->line;
        P->i++;
        if (!enter(P))
            return NULL;
        jnode *x = parse_not(P), *n;
        P->depth--;
        if (!x || !(n = mk(P, JN_NOT, line)))
            return NULL;
        n->a = x;
        return n;
    }
    return parse_compare(P);
}

/* 'or' of 'and's of 'not's, left-associative. */
static jnode *parse_logic(parser *P, bool is_or)
{
    jnode *l = is_or ? parse_logic(P, false) : parse_not(P);
    while (l && is_name(P, is_or ? "or" : "and")) {
        int line = cur(P)->line;
        P->i++;
        jnode *r = is_or ? parse_logic(P, false) : parse_not(P), *n;
        if (!r || !(n = mk(P, is_or ? JN_OR : JN_AND, line)))
            return NULL;
        n->a = l;
        n->b = r;
        l = n;
    }
    return l;
}

static jnode *parse_or(parser *P) { return parse_logic(P, true); }

static jnode *parse_expression(parser *P, bool with_cond)
{
    if (!enter(P))
        return NULL;
    jnode *e = parse_or(P);
    while (e && with_cond && is_name(P, "if")) {
        int line = cur(P)->line;
        P->i++;
        jnode *c = parse_or(P), *n, *other = NULL;
        if (!c)
            return NULL;
        if (skip_name(P, "else") && !(other = parse_expression(P, true)))
            return NULL;
        if (!(n = mk(P, JN_COND, line)))
            return NULL;
        n->a = c;
        n->b = e;
        n->c = other;
        e = n;
    }
    P->depth--;
    return e;
}

/* An expression, or a tuple of them without parentheses ({{ a, b }}, set x = 1, 2). */
static jnode *parse_tuple(parser *P, bool with_cond)
{
    int line = cur(P)->line;
    jnode *e = parse_expression(P, with_cond);
    if (!e || !is_op(P, ","))
        return e;
    nvec items = {0};
    if (!vpush(P, &items, e))
        return NULL;
    while (skip_op(P, ",")) {
        if (cur(P)->k == JT_BLOCK_END || cur(P)->k == JT_VAR_END)
            break;
        jnode *x = parse_expression(P, with_cond);
        if (!x || !vpush(P, &items, x))
            return NULL;
    }
    jnode *t = mk(P, JN_TUPLE, line);
    if (t) {
        t->list = items.p;
        t->n = items.n;
    }
    return t;
}

/* ---- statements ---- */

static bool end_block(parser *P)
{
    if (cur(P)->k == JT_BLOCK_END) {
        P->i++;
        return true;
    }
    unexpected(P, "'%}'");
    return false;
}

/* Parses statements until a {% name %} in ends (consumed up to the name);
 * *which: the index in ends. */
static bool parse_body(parser *P, const char *const *ends, size_t nends, nvec *body, size_t *which);

/* '%}', a body up to {% end %}, and its '%}'. loops: 0 where break and continue cannot
 * reach an enclosing loop (macro and call bodies, a for loop's else), -1 to leave it. */
static bool parse_block(parser *P, const char *end, int loops, jnode ***list, size_t *n)
{
    int saved = P->loops;
    nvec body = {0};
    size_t which;
    if (loops >= 0)
        P->loops = loops;
    bool ok = end_block(P) && parse_body(P, &end, 1, &body, &which) && end_block(P);
    P->loops = saved;
    *list = body.p;
    *n = body.n;
    return ok;
}

static bool parse_names(parser *P, const char ***names, size_t *n, const char *what)
{
    size_t cap = 0;
    bool paren = skip_op(P, "(");
    *n = 0;
    do {
        if (cur(P)->k != JT_NAME) {
            unexpected(P, what);
            return false;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            const char **p = ja_alloc(P->a, cap * sizeof *p);
            if (!p) {
                poom(P);
                return false;
            }
            if (*n)
                memcpy(p, *names, *n * sizeof *p);
            *names = p;
        }
        if (!((*names)[(*n)++] = name_dup(P, cur(P))))
            return false;
        P->i++;
    } while (skip_op(P, ","));
    return !paren || expect_op(P, ")");
}

static jnode *parse_if(parser *P, int line)
{
    static const char *const ends[] = {"elif", "else", "endif"};
    jnode *n = mk(P, JN_IF, line), *top = n;
    for (;;) {
        nvec body = {0};
        size_t which;
        if (!n || !(n->a = parse_tuple(P, false)) || !end_block(P) || !parse_body(P, ends, 3, &body, &which))
            return NULL;
        n->list = body.p;
        n->n = body.n;
        if (which == 0) { /* elif: an if in the else branch */
            jnode *e = mk(P, JN_IF, cur(P)->line);
            if (!e || !(n->list2 = ja_alloc(P->a, sizeof *n->list2)))
                return e ? poom(P) : NULL;
            n->list2[0] = e;
            n->n2 = 1;
            n = e;
            continue;
        }
        if (which == 1) {
            nvec els = {0};
            if (!end_block(P) || !parse_body(P, ends + 2, 1, &els, &which))
                return NULL;
            n->list2 = els.p;
            n->n2 = els.n;
        }
        return end_block(P) ? top : NULL;
    }
}

static jnode *parse_for(parser *P, int line)
{
    static const char *const ends[] = {"else", "endfor"};
    jnode *n = mk(P, JN_FOR, line);
    if (!n || !parse_names(P, &n->names, &n->nnames, "a loop variable"))
        return NULL;
    if (!skip_name(P, "in"))
        return unexpected(P, "'in'");
    if (!(n->a = parse_tuple(P, false)))
        return NULL;
    if (skip_name(P, "if") && !(n->b = parse_expression(P, true)))
        return NULL;
    if (is_name(P, "recursive"))
        return pfail(P, cur(P)->line, "unsupported construct: recursive for loop");
    nvec body = {0};
    size_t which;
    P->loops++;
    if (!end_block(P) || !parse_body(P, ends, 2, &body, &which))
        return NULL;
    P->loops--;
    n->list = body.p;
    n->n = body.n;
    if (which == 0)
        return parse_block(P, "endfor", 0, &n->list2, &n->n2) ? n : NULL;
    return end_block(P) ? n : NULL;
}

static jnode *parse_set(parser *P, int line)
{
    if (cur(P)->k != JT_NAME)
        return unexpected(P, "a variable name");
    jnode *n;
    if (tok_is(peek(P, 1), JT_OP, ".")) {
        if (!(n = mk(P, JN_SET_ATTR, line)) || !(n->names = ja_alloc(P->a, sizeof *n->names)) ||
            !(n->names[0] = name_dup(P, cur(P))))
            return n ? poom(P) : NULL;
        n->nnames = 1;
        P->i += 2;
        if (cur(P)->k != JT_NAME)
            return unexpected(P, "an attribute name");
        if (!(n->name = name_dup(P, cur(P))))
            return NULL;
        P->i++;
    } else {
        if (!(n = mk(P, JN_SET, line)) || !parse_names(P, &n->names, &n->nnames, "a variable name"))
            return NULL;
    }
    if (skip_op(P, "=")) {
        if (!(n->a = parse_tuple(P, true)))
            return NULL;
        return end_block(P) ? n : NULL;
    }
    if (n->k != JN_SET || n->nnames != 1)
        return unexpected(P, "'='");
    /* {% set x %}...{% endset %}, optionally through filters */
    n->k = JN_SET_BLOCK;
    jnode *f = NULL;
    while (skip_op(P, "|"))
        if (!(f = parse_filter(P, f)))
            return NULL;
    n->a = f;
    return parse_block(P, "endset", -1, &n->list, &n->n) ? n : NULL;
}

/* Parameters with defaults: (a, b=expr). */
static bool parse_params(parser *P, jnode *n)
{
    nvec defaults = {0};
    size_t cap = 0;
    if (!expect_op(P, "("))
        return false;
    while (!is_op(P, ")")) {
        if (n->nnames && !expect_op(P, ","))
            return false;
        if (cur(P)->k != JT_NAME) {
            unexpected(P, "a parameter name");
            return false;
        }
        if (n->nnames == cap) {
            cap = cap ? cap * 2 : 4;
            const char **p = ja_alloc(P->a, cap * sizeof *p);
            if (!p) {
                poom(P);
                return false;
            }
            if (n->nnames)
                memcpy(p, n->names, n->nnames * sizeof *p);
            n->names = p;
        }
        if (!(n->names[n->nnames] = name_dup(P, cur(P))))
            return false;
        P->i++;
        jnode *d = NULL;
        if (skip_op(P, "=") && !(d = parse_expression(P, true)))
            return false;
        if (!d && defaults.n && defaults.p[defaults.n - 1]) {
            pfail(P, cur(P)->line, "parameter '%s' without a default follows one with a default",
                  n->names[n->nnames]);
            return false;
        }
        if (!vpush(P, &defaults, d))
            return false;
        n->nnames++;
    }
    P->i++;
    n->list2 = defaults.p;
    n->n2 = defaults.n;
    return true;
}

/* Whether the tree n reads the variable name (a macro taking extra positional or keyword
 * arguments only when its body reads varargs or kwargs, as Jinja2 decides). */
static bool reads(const jnode *n, const char *name)
{
    if (!n)
        return false;
    if (n->k == JN_NAME && !strcmp(n->name, name))
        return true;
    if (reads(n->a, name) || reads(n->b, name) || reads(n->c, name))
        return true;
    for (size_t i = 0; i < n->n; i++)
        if (reads(n->list[i], name))
            return true;
    for (size_t i = 0; i < n->n2; i++)
        if (reads(n->list2[i], name))
            return true;
    return false;
}

static void mark_extra_args(jnode *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (reads(m->list[i], "varargs"))
            m->op |= JINJA_MACRO_VARARGS;
        if (reads(m->list[i], "kwargs"))
            m->op |= JINJA_MACRO_KWARGS;
        if (reads(m->list[i], "caller"))
            m->op |= JINJA_MACRO_CALLER;
    }
}

static jnode *parse_macro(parser *P, int line)
{
    jnode *n = mk(P, JN_MACRO, line);
    if (!n)
        return NULL;
    if (cur(P)->k != JT_NAME)
        return unexpected(P, "a macro name");
    if (!(n->name = name_dup(P, cur(P))))
        return NULL;
    P->i++;
    if (!parse_params(P, n) || !parse_block(P, "endmacro", 0, &n->list, &n->n))
        return NULL;
    mark_extra_args(n);
    return n;
}

static jnode *parse_call_block(parser *P, int line)
{
    jnode *n = mk(P, JN_CALL_BLOCK, line), *caller = mk(P, JN_MACRO, line);
    if (!n || !caller)
        return NULL;
    caller->name = "caller";
    if (is_op(P, "(") && !parse_params(P, caller))
        return NULL;
    if (!(n->a = parse_expression(P, true)))
        return NULL;
    if (n->a->k != JN_CALL)
        return pfail(P, line, "{%% call %%} needs a macro call");
    n->b = caller;
    if (!parse_block(P, "endcall", 0, &caller->list, &caller->n))
        return NULL;
    mark_extra_args(caller);
    return n;
}

static jnode *parse_filter_block(parser *P, int line)
{
    jnode *n = mk(P, JN_FILTER_BLOCK, line), *f = NULL;
    if (!n)
        return NULL;
    do {
        if (!(f = parse_filter(P, f)))
            return NULL;
    } while (skip_op(P, "|"));
    n->a = f;
    return parse_block(P, "endfilter", -1, &n->list, &n->n) ? n : NULL;
}

static jnode *parse_statement(parser *P)
{
    const jtok *t = cur(P);
    int line = t->line;
    if (t->k != JT_NAME)
        return unexpected(P, "a statement name");
    P->i++;
    if (tok_is(t, JT_NAME, "if"))
        return parse_if(P, line);
    if (tok_is(t, JT_NAME, "for"))
        return parse_for(P, line);
    if (tok_is(t, JT_NAME, "set"))
        return parse_set(P, line);
    if (tok_is(t, JT_NAME, "macro"))
        return parse_macro(P, line);
    if (tok_is(t, JT_NAME, "call"))
        return parse_call_block(P, line);
    if (tok_is(t, JT_NAME, "filter"))
        return parse_filter_block(P, line);
    if (tok_is(t, JT_NAME, "break") || tok_is(t, JT_NAME, "continue")) {
        if (!P->loops)
            return pfail(P, line, "'%.*s' outside a for loop", (int)t->n, t->s);
        jnode *n = mk(P, tok_is(t, JT_NAME, "break") ? JN_BREAK : JN_CONTINUE, line);
        return n && end_block(P) ? n : NULL;
    }
    return pfail(P, line, "unsupported statement '%.*s'", (int)t->n, t->s);
}

static bool parse_body(parser *P, const char *const *ends, size_t nends, nvec *body, size_t *which)
{
    if (!enter(P))
        return false;
    for (;;) {
        const jtok *t = cur(P);
        jnode *n = NULL;
        if (t->k == JT_EOF) {
            if (!nends) {
                P->depth--;
                return true;
            }
            pfail(P, t->line, "missing '{%% %s %%}' at the end of the template", ends[nends - 1]);
            return false;
        }
        if (t->k == JT_DATA) {
            P->i++;
            if (!(n = mk(P, JN_TEXT, t->line)) || !(n->value = jv_str_ref(P->a, t->s, t->n))) {
                poom(P);
                return false;
            }
        } else if (t->k == JT_VAR_BEGIN) {
            P->i++;
            if (!(n = mk(P, JN_OUTPUT, t->line)) || !(n->a = parse_tuple(P, true)))
                return false;
            if (cur(P)->k != JT_VAR_END) {
                unexpected(P, "'}}'");
                return false;
            }
            P->i++;
        } else if (t->k == JT_BLOCK_BEGIN) {
            const jtok *name = peek(P, 1);
            for (size_t k = 0; k < nends; k++)
                if (tok_is(name, JT_NAME, ends[k])) {
                    P->i += 2;
                    *which = k;
                    P->depth--;
                    return true;
                }
            static const char *const closers[] = {"elif", "else", "endif", "endfor", "endset",
                                                  "endmacro", "endcall", "endfilter"};
            for (size_t k = 0; k < sizeof closers / sizeof closers[0]; k++)
                if (tok_is(name, JT_NAME, closers[k])) {
                    pfail(P, name->line, "unexpected '{%% %s %%}'", closers[k]);
                    return false;
                }
            P->i++;
            if (!(n = parse_statement(P)))
                return false;
        } else {
            unexpected(P, "text or a tag");
            return false;
        }
        if (!vpush(P, body, n))
            return false;
    }
}

int jinja_parse_tokens(jarena *a, const jtok *toks, size_t ntoks, jinja_body *out, jinja_error *err)
{
    parser P = {.a = a, .t = toks, .n = ntoks, .err = err};
    nvec body = {0};
    size_t which;
    err->msg[0] = 0;
    if (!parse_body(&P, NULL, 0, &body, &which))
        return -1;
    out->list = body.p;
    out->n = body.n;
    return 0;
}
