/* Values: construction, conversion from JSON, truth, equality, and their text as Python
 * writes it (str, repr) and as HF's tojson writes it (json.dumps, ensure_ascii=False). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/jinja_internal.h"

jv jv_undef_value = {.k = JV_UNDEF};
jv jv_none_value = {.k = JV_NONE};
jv jv_true_value = {.k = JV_BOOL, .u.b = true};
jv jv_false_value = {.k = JV_BOOL, .u.b = false};

jv *jv_new(jarena *a, jv_kind k)
{
    jv *v = ja_alloc(a, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->k = k;
    }
    return v;
}

jv *jv_int(jarena *a, int64_t i)
{
    jv *v = jv_new(a, JV_INT);
    if (v)
        v->u.i = i;
    return v;
}

jv *jv_float(jarena *a, double f)
{
    jv *v = jv_new(a, JV_FLOAT);
    if (v)
        v->u.f = f;
    return v;
}

jv *jv_bool(bool b) { return b ? &jv_true_value : &jv_false_value; }

jv *jv_str_ref(jarena *a, const char *s, size_t n)
{
    jv *v = jv_new(a, JV_STR);
    if (v) {
        v->u.str.s = s;
        v->u.str.n = n;
    }
    return v;
}

jv *jv_str(jarena *a, const char *s, size_t n)
{
    char *p = ja_strndup(a, s, n);
    return p ? jv_str_ref(a, p, n) : NULL;
}

jv *jv_list(jarena *a, size_t n)
{
    jv *v = jv_new(a, JV_LIST);
    if (!v)
        return NULL;
    if (n > SIZE_MAX / sizeof(jv *))
        return NULL;
    v->u.list.items = ja_alloc(a, n * sizeof(jv *));
    if (!v->u.list.items)
        return NULL;
    memset(v->u.list.items, 0, n * sizeof(jv *));
    v->u.list.n = n;
    return v;
}

jv *jv_dict(jarena *a) { return jv_new(a, JV_DICT); }

int jv_list_push(jarena *a, jv *l, size_t *cap, jv *x)
{
    if (l->u.list.n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        jv **p = ja_alloc(a, ncap * sizeof *p);
        if (!p)
            return -1;
        if (l->u.list.n)
            memcpy(p, l->u.list.items, l->u.list.n * sizeof *p);
        l->u.list.items = p;
        *cap = ncap;
    }
    l->u.list.items[l->u.list.n++] = x;
    return 0;
}

jv *jv_dict_get(const jv *d, const char *key, size_t klen)
{
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.items[i].klen == klen && !memcmp(d->u.dict.items[i].key, key, klen))
            return d->u.dict.items[i].val;
    return NULL;
}

int jv_dict_set(jarena *a, jv *d, const char *key, size_t klen, jv *val)
{
    for (size_t i = 0; i < d->u.dict.n; i++)
        if (d->u.dict.items[i].klen == klen && !memcmp(d->u.dict.items[i].key, key, klen)) {
            d->u.dict.items[i].val = val;
            return 0;
        }
    if (d->u.dict.n == d->u.dict.cap) {
        size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 8;
        jpair *items = ja_alloc(a, cap * sizeof *items);
        if (!items)
            return -1;
        if (d->u.dict.n)
            memcpy(items, d->u.dict.items, d->u.dict.n * sizeof *items);
        d->u.dict.items = items;
        d->u.dict.cap = cap;
    }
    char *k = ja_strndup(a, key, klen);
    if (!k)
        return -1;
    d->u.dict.items[d->u.dict.n++] = (jpair){k, klen, val};
    return 0;
}

jv *jv_from_json(jarena *a, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        jv *d = jv_dict(a);
        const char *k;
        json_t *m;
        if (!d)
            return NULL;
        json_object_foreach((json_t *)j, k, m) {
            jv *v = jv_from_json(a, m);
            if (!v || jv_dict_set(a, d, k, strlen(k), v))
                return NULL;
        }
        return d;
    }
    case JSON_ARRAY: {
        jv *l = jv_list(a, json_array_size(j));
        for (size_t i = 0; l && i < l->u.list.n; i++)
            if (!(l->u.list.items[i] = jv_from_json(a, json_array_get(j, i))))
                return NULL;
        return l;
    }
    case JSON_STRING: return jv_str_ref(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return jv_int(a, (int64_t)json_integer_value(j));
    case JSON_REAL: return jv_float(a, json_real_value(j));
    case JSON_TRUE: return &jv_true_value;
    case JSON_FALSE: return &jv_false_value;
    default: return &jv_none_value;
    }
}

const char *jv_kind_name(jv_kind k)
{
    static const char *const names[] = {"undefined", "none", "boolean", "integer", "float",
                                        "string", "list", "dict", "namespace", "macro",
                                        "function", "method"};
    return names[k];
}

bool jv_truthy(const jv *v)
{
    switch (v->k) {
    case JV_UNDEF: case JV_NONE: return false;
    case JV_BOOL: return v->u.b;
    case JV_INT: return v->u.i != 0;
    case JV_FLOAT: return v->u.f != 0.0;
    case JV_STR: return v->u.str.n > 0;
    case JV_LIST: return v->u.list.gen || v->u.list.n > 0;
    case JV_DICT: return v->u.dict.n > 0;
    default: return true;
    }
}

static bool is_num(const jv *v) { return v->k == JV_BOOL || v->k == JV_INT || v->k == JV_FLOAT; }

static double num(const jv *v)
{
    return v->k == JV_FLOAT ? v->u.f : v->k == JV_INT ? (double)v->u.i : (double)v->u.b;
}

bool jv_equal(const jv *x, const jv *y)
{
    if (is_num(x) && is_num(y)) {
        if (x->k != JV_FLOAT && y->k != JV_FLOAT)
            return (x->k == JV_INT ? x->u.i : x->u.b) == (y->k == JV_INT ? y->u.i : y->u.b);
        return num(x) == num(y);
    }
    if (x->k != y->k)
        return false;
    switch (x->k) {
    case JV_UNDEF: case JV_NONE: return true;
    case JV_STR: return x->u.str.n == y->u.str.n && !memcmp(x->u.str.s, y->u.str.s, x->u.str.n);
    case JV_LIST:
        if (x->u.list.gen || y->u.list.gen)
            return x == y;
        if (x->u.list.tuple != y->u.list.tuple || x->u.list.n != y->u.list.n)
            return false;
        for (size_t i = 0; i < x->u.list.n; i++)
            if (!jv_equal(x->u.list.items[i], y->u.list.items[i]))
                return false;
        return true;
    case JV_DICT:
        if (x->u.dict.n != y->u.dict.n)
            return false;
        for (size_t i = 0; i < x->u.dict.n; i++) {
            const jpair *p = &x->u.dict.items[i];
            jv *o = jv_dict_get(y, p->key, p->klen);
            if (!o || !jv_equal(p->val, o))
                return false;
        }
        return true;
    default: return x == y;
    }
}

/* Python's repr(float): the shortest digits that read back as f, in fixed notation for
 * exponents -4..15 and scientific otherwise. */
static void format_float(double f, char out[40])
{
    if (isnan(f)) {
        strcpy(out, "nan");
        return;
    }
    if (isinf(f)) {
        strcpy(out, f < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    /* e is [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    char *o = out;
    if (neg)
        *o++ = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            o += sprintf(o, "0.");
            for (int i = -1; i > exp; i--)
                *o++ = '0';
            o += sprintf(o, "%s", digits);
        } else {
            for (int i = 0; i <= exp; i++)
                *o++ = i < (int)nd ? digits[i] : '0';
            *o++ = '.';
            if ((int)nd > exp + 1)
                o += sprintf(o, "%s", digits + exp + 1);
            else
                *o++ = '0';
        }
        *o = 0;
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            o += sprintf(o, "%s", digits + 1);
        }
        sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

static int put_num(jbuf *b, const jv *v)
{
    char tmp[40];
    if (v->k == JV_INT)
        snprintf(tmp, sizeof tmp, "%" PRId64, v->u.i);
    else
        format_float(v->u.f, tmp);
    return jb_puts(b, tmp);
}

static int repr_str(jbuf *b, const char *s, size_t n)
{
    bool sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = sq && !dq ? '"' : '\'';
    if (jb_put(b, &q, 1))
        return -1;
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = utf8_char_len(c);
        if (l > n - i)
            l = 1;
        const char *esc = NULL;
        char tmp[8];
        if (c == '\\')
            esc = "\\\\";
        else if (c == (unsigned char)q)
            esc = q == '\'' ? "\\'" : "\\\"";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7F) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            esc = tmp;
        } else if (l == 2 && c == 0xC2 && ((unsigned char)s[i + 1] <= 0xA0 || (unsigned char)s[i + 1] == 0xAD)) {
            snprintf(tmp, sizeof tmp, "\\x%02x", (unsigned char)s[i + 1] & 0xFF);
            esc = tmp;
        }
        if (esc) {
            if (jb_put(b, s + i - run, run) || jb_puts(b, esc))
                return -1;
            run = 0;
        } else {
            run += l;
        }
        i += l;
    }
    return jb_put(b, s + n - run, run) || jb_put(b, &q, 1) ? -1 : 0;
}

int jv_write_repr(jbuf *b, const jv *v)
{
    switch (v->k) {
    case JV_STR: return repr_str(b, v->u.str.s, v->u.str.n);
    case JV_LIST: {
        bool t = v->u.list.tuple;
        if (v->u.list.gen)
            return -1; /* Python prints a generator's address */
        if (jb_puts(b, t ? "(" : "["))
            return -1;
        for (size_t i = 0; i < v->u.list.n; i++)
            if ((i && jb_puts(b, ", ")) || jv_write_repr(b, v->u.list.items[i]))
                return -1;
        if (t && v->u.list.n == 1 && jb_puts(b, ","))
            return -1;
        return jb_puts(b, t ? ")" : "]");
    }
    case JV_DICT:
        if (jb_puts(b, "{"))
            return -1;
        for (size_t i = 0; i < v->u.dict.n; i++)
            if ((i && jb_puts(b, ", ")) || repr_str(b, v->u.dict.items[i].key, v->u.dict.items[i].klen) ||
                jb_puts(b, ": ") || jv_write_repr(b, v->u.dict.items[i].val))
                return -1;
        return jb_puts(b, "}");
    case JV_UNDEF: return jb_puts(b, "Undefined");
    default: return jv_write_str(b, v);
    }
}

int jv_write_str(jbuf *b, const jv *v)
{
    switch (v->k) {
    case JV_UNDEF: return 0;
    case JV_NONE: return jb_puts(b, "None");
    case JV_BOOL: return jb_puts(b, v->u.b ? "True" : "False");
    case JV_INT: case JV_FLOAT: return put_num(b, v);
    case JV_STR: return jb_put(b, v->u.str.s, v->u.str.n);
    case JV_LIST: case JV_DICT: return jv_write_repr(b, v);
    default: return -1;
    }
}

static int json_str(jbuf *b, const char *s, size_t n)
{
    if (jb_puts(b, "\""))
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char tmp[8];
        const char *esc = tmp;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default: snprintf(tmp, sizeof tmp, "\\u%04x", c);
        }
        if (jb_put(b, s + start, i - start) || jb_puts(b, esc))
            return -1;
        start = i + 1;
    }
    return jb_put(b, s + start, n - start) || jb_puts(b, "\"") ? -1 : 0;
}

static int newline(jbuf *b, int indent, int level)
{
    if (indent < 0)
        return 0;
    if (jb_puts(b, "\n"))
        return -1;
    for (int i = 0; i < indent * level; i++)
        if (jb_puts(b, " "))
            return -1;
    return 0;
}

static int cmp_pair(const void *x, const void *y)
{
    const jpair *p = *(const jpair *const *)x, *q = *(const jpair *const *)y;
    size_t n = p->klen < q->klen ? p->klen : q->klen;
    int c = memcmp(p->key, q->key, n);
    return c ? c : (p->klen > q->klen) - (p->klen < q->klen);
}

int jv_write_json(jbuf *b, const jv *v, int indent, bool sort_keys, int level)
{
    const char *sep = indent < 0 ? ", " : ",";
    switch (v->k) {
    case JV_NONE: return jb_puts(b, "null");
    case JV_BOOL: return jb_puts(b, v->u.b ? "true" : "false");
    case JV_INT: return put_num(b, v);
    case JV_FLOAT:
        if (isnan(v->u.f))
            return jb_puts(b, "NaN");
        if (isinf(v->u.f))
            return jb_puts(b, v->u.f < 0 ? "-Infinity" : "Infinity");
        return put_num(b, v);
    case JV_STR: return json_str(b, v->u.str.s, v->u.str.n);
    case JV_LIST:
        if (v->u.list.gen)
            return -1; /* not JSON serializable */
        if (v->u.list.n == 0)
            return jb_puts(b, "[]");
        if (jb_puts(b, "["))
            return -1;
        for (size_t i = 0; i < v->u.list.n; i++)
            if ((i && jb_puts(b, sep)) || newline(b, indent, level + 1) ||
                jv_write_json(b, v->u.list.items[i], indent, sort_keys, level + 1))
                return -1;
        return newline(b, indent, level) || jb_puts(b, "]") ? -1 : 0;
    case JV_DICT: {
        size_t n = v->u.dict.n;
        if (n == 0)
            return jb_puts(b, "{}");
        const jpair **order = ja_alloc(b->a, n * sizeof *order);
        if (!order)
            return -1;
        for (size_t i = 0; i < n; i++)
            order[i] = &v->u.dict.items[i];
        if (sort_keys)
            qsort(order, n, sizeof *order, cmp_pair);
        if (jb_puts(b, "{"))
            return -1;
        for (size_t i = 0; i < n; i++)
            if ((i && jb_puts(b, sep)) || newline(b, indent, level + 1) ||
                json_str(b, order[i]->key, order[i]->klen) || jb_puts(b, ": ") ||
                jv_write_json(b, order[i]->val, indent, sort_keys, level + 1))
                return -1;
        return newline(b, indent, level) || jb_puts(b, "}") ? -1 : 0;
    }
    default: return -1;
    }
}
