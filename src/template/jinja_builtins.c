/* Attribute and item lookup as Jinja2's environment does it (attributes first for '.',
 * items first for '[]', undefined when neither exists), the methods of strings and dicts
 * that templates call, and the global functions (range, namespace, dict, and HF's
 * raise_exception and strftime_now). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "template/jinja_internal.h"

enum {
    M_STARTSWITH, M_ENDSWITH, M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_REPLACE,
    M_UPPER, M_LOWER, M_TITLE, M_CAPITALIZE, M_JOIN, M_STR_END,
    M_GET = M_STR_END, M_ITEMS, M_KEYS, M_VALUES,
};
static const char *const str_methods[] = {"startswith", "endswith", "strip", "lstrip", "rstrip",
                                          "split", "rsplit", "replace", "upper", "lower", "title",
                                          "capitalize", "join"};
static const char *const dict_methods[] = {"get", "items", "keys", "values"};

/* Python methods outside the subset: an error rather than an undefined value. */
static const char *const str_other[] = {
    "casefold", "center", "count", "encode", "expandtabs", "find", "format", "format_map",
    "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
    "isnumeric", "isprintable", "isspace", "istitle", "isupper", "ljust", "maketrans",
    "partition", "removeprefix", "removesuffix", "rfind", "rindex", "rjust", "rpartition",
    "splitlines", "swapcase", "translate", "zfill"};
static const char *const dict_other[] = {"clear", "copy", "fromkeys", "pop", "popitem", "setdefault", "update"};
static const char *const list_other[] = {"append", "clear", "copy", "count", "extend", "index",
                                         "insert", "pop", "remove", "reverse", "sort"};

static int find(const char *const *names, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], s, len))
            return (int)i;
    return -1;
}
#define FIND(arr, s, len) find(arr, sizeof arr / sizeof arr[0], s, len)

static jv *method(jctx *c, int line, int id, jv *self)
{
    jv *m = jv_new(c->a, JV_METHOD);
    if (!m)
        return jx_oom(c, line);
    m->u.method.id = id;
    m->u.method.self = self;
    return m;
}

static jv *undefined(jctx *c, const char *what, const char *name, size_t len)
{
    char tmp[200];
    snprintf(tmp, sizeof tmp, "'%s' has no attribute '%.*s'", what, (int)(len > 80 ? 80 : len), name);
    return jx_undefined(c, tmp);
}

static const char *what(const jv *v)
{
    switch (v->k) {
    case JV_NONE: return "None";
    case JV_STR: return "str object";
    case JV_LIST: return "list object";
    case JV_DICT: return "dict object";
    default: return jv_kind_name(v->k);
    }
}

jv *jinja_getattr(jctx *c, int line, jv *obj, const char *name, size_t len)
{
    int id;
    switch (obj->k) {
    case JV_UNDEF:
        return jx_failp(c, line, "%s", obj->undef_name ? obj->undef_name : "undefined value used");
    case JV_STR:
        if ((id = FIND(str_methods, name, len)) >= 0)
            return method(c, line, id, obj);
        if (FIND(str_other, name, len) >= 0)
            return jx_failp(c, line, "unsupported string method '%.*s'", (int)len, name);
        break;
    case JV_DICT: {
        if ((id = FIND(dict_methods, name, len)) >= 0)
            return method(c, line, M_STR_END + id, obj);
        if (FIND(dict_other, name, len) >= 0)
            return jx_failp(c, line, "unsupported dict method '%.*s'", (int)len, name);
        jv *v = jv_dict_get(obj, name, len);
        if (v)
            return v;
        break;
    }
    case JV_NS: {
        jv *v = jv_dict_get(obj, name, len);
        if (v)
            return v;
        break;
    }
    case JV_LIST:
        if (FIND(list_other, name, len) >= 0)
            return jx_failp(c, line, "unsupported list method '%.*s'", (int)len, name);
        break;
    default: break;
    }
    return undefined(c, what(obj), name, len);
}

jv *jinja_getitem(jctx *c, int line, jv *obj, jv *key)
{
    if (obj->k == JV_UNDEF)
        return jx_failp(c, line, "%s", obj->undef_name ? obj->undef_name : "undefined value used");
    if (obj->k == JV_DICT && key->k == JV_STR) {
        jv *v = jv_dict_get(obj, key->u.str.s, key->u.str.n);
        if (v)
            return v;
    }
    if (((obj->k == JV_LIST && !obj->u.list.gen) || obj->k == JV_STR) && (key->k == JV_INT || key->k == JV_BOOL)) {
        int64_t i = key->k == JV_INT ? key->u.i : key->u.b;
        size_t len = obj->k == JV_LIST ? obj->u.list.n : utf8_len(obj->u.str.s, obj->u.str.n);
        if (i < 0)
            i += (int64_t)len;
        if (i >= 0 && (uint64_t)i < len) {
            if (obj->k == JV_LIST)
                return obj->u.list.items[i];
            size_t off = utf8_offset(obj->u.str.s, obj->u.str.n, (size_t)i);
            size_t l = utf8_char_len((unsigned char)obj->u.str.s[off]);
            if (l > obj->u.str.n - off)
                l = obj->u.str.n - off;
            jv *r = jv_str_ref(c->a, obj->u.str.s + off, l);
            return r ? r : jx_oom(c, line);
        }
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)(key->k == JV_INT ? key->u.i : key->u.b));
        return undefined(c, what(obj), tmp, strlen(tmp));
    }
    if (key->k == JV_STR)
        return jinja_getattr(c, line, obj, key->u.str.s, key->u.str.n);
    return undefined(c, what(obj), "[]", 2);
}

/* ---- string methods ---- */

static bool in_chars(const char *chars, size_t nchars, const char *s, size_t l)
{
    for (size_t i = 0; i < nchars;) {
        size_t k = utf8_char_len((unsigned char)chars[i]);
        if (k > nchars - i)
            k = nchars - i;
        if (k == l && !memcmp(chars + i, s, l))
            return true;
        i += k;
    }
    return false;
}

jv *jx_strip(jctx *c, int line, jv *s, const jv *chars, bool left, bool right)
{
    const char *p = s->u.str.s;
    size_t b = 0, e = s->u.str.n, l;
    bool ws = !chars || chars->k == JV_NONE;
    if (!ws && chars->k != JV_STR)
        return jx_failp(c, line, "strip arg must be None or str");
    while (left && b < e) {
        l = utf8_char_len((unsigned char)p[b]);
        if (l > e - b)
            l = e - b;
        if (ws ? !py_isspace_at(p, e, b, &l) : !in_chars(chars->u.str.s, chars->u.str.n, p + b, l))
            break;
        b += l;
    }
    while (right && e > b) {
        size_t k = e - 1;
        while (k > b && ((unsigned char)p[k] & 0xC0) == 0x80)
            k--;
        l = e - k;
        if (ws ? !py_isspace_at(p, e, k, &l) : !in_chars(chars->u.str.s, chars->u.str.n, p + k, e - k))
            break;
        e = k;
    }
    jv *r = jv_str_ref(c->a, p + b, e - b);
    if (r)
        r->u.str.markup = s->u.str.markup;
    return r ? r : jx_oom(c, line);
}

static jv *affix(jctx *c, int line, jv *s, jv *arg, bool start)
{
    if (!arg)
        return jx_failp(c, line, "%s() takes at least 1 argument", start ? "startswith" : "endswith");
    jv *const *opts = &arg;
    size_t n = 1;
    if (arg->k == JV_LIST && arg->u.list.tuple) {
        opts = arg->u.list.items;
        n = arg->u.list.n;
    }
    for (size_t i = 0; i < n; i++) {
        if (opts[i]->k != JV_STR)
            return jx_failp(c, line, "%s() argument must be str or a tuple of str, not '%s'",
                            start ? "startswith" : "endswith", jv_kind_name(opts[i]->k));
        size_t k = opts[i]->u.str.n;
        if (k <= s->u.str.n && !memcmp(s->u.str.s + (start ? 0 : s->u.str.n - k), opts[i]->u.str.s, k))
            return &jv_true_value;
    }
    return &jv_false_value;
}

/* str.split / rsplit (sep NULL or None: runs of whitespace). */
static jv *split(jctx *c, int line, jv *s, jv *sep, jv *maxsplit, bool from_right)
{
    if (sep && sep->k != JV_NONE && sep->k != JV_STR)
        return jx_failp(c, line, "split() separator must be str or None");
    if (maxsplit && maxsplit->k != JV_INT)
        return jx_failp(c, line, "split() maxsplit must be an integer");
    int64_t max = maxsplit ? maxsplit->u.i : -1;
    jv *l = jv_list(c->a, 0);
    size_t cap = 0;
    const char *p = s->u.str.s;
    size_t n = s->u.str.n;
    if (!l)
        return jx_oom(c, line);
    if (sep && sep->k == JV_STR) {
        const char *d = sep->u.str.s;
        size_t dn = sep->u.str.n;
        if (dn == 0)
            return jx_failp(c, line, "split(): empty separator");
        if (from_right) {
            /* pieces from the right, then reversed */
            size_t end = n;
            int64_t done = 0;
            size_t k = n;
            while (k >= dn && (max < 0 || done < max)) {
                if (!memcmp(p + k - dn, d, dn)) {
                    jv *x = jv_str_ref(c->a, p + k, end - k);
                    if (!x || jv_list_push(c->a, l, &cap, x))
                        return jx_oom(c, line);
                    end = k - dn;
                    k = end;
                    done++;
                } else {
                    k--;
                }
            }
            jv *x = jv_str_ref(c->a, p, end);
            if (!x || jv_list_push(c->a, l, &cap, x))
                return jx_oom(c, line);
            for (size_t i = 0; i < l->u.list.n / 2; i++) {
                jv *t = l->u.list.items[i];
                l->u.list.items[i] = l->u.list.items[l->u.list.n - 1 - i];
                l->u.list.items[l->u.list.n - 1 - i] = t;
            }
            return l;
        }
        size_t start = 0;
        int64_t done = 0;
        for (size_t i = 0; i + dn <= n && (max < 0 || done < max);) {
            if (!memcmp(p + i, d, dn)) {
                jv *x = jv_str_ref(c->a, p + start, i - start);
                if (!x || jv_list_push(c->a, l, &cap, x))
                    return jx_oom(c, line);
                i += dn;
                start = i;
                done++;
            } else {
                i++;
            }
        }
        jv *x = jv_str_ref(c->a, p + start, n - start);
        if (!x || jv_list_push(c->a, l, &cap, x))
            return jx_oom(c, line);
        return l;
    }
    if (from_right && max >= 0)
        return jx_failp(c, line, "unsupported construct: rsplit() on whitespace with maxsplit");
    size_t i = 0, ln;
    int64_t done = 0;
    for (;;) {
        while (i < n && py_isspace_at(p, n, i, &ln))
            i += ln;
        if (i >= n)
            break;
        size_t start = i;
        if (max >= 0 && done >= max) {
            size_t e = n;
            while (e > start) { /* Python keeps the rest, right-stripped */
                size_t k = e - 1;
                while (k > start && ((unsigned char)p[k] & 0xC0) == 0x80)
                    k--;
                if (!py_isspace_at(p, n, k, &ln))
                    break;
                e = k;
            }
            jv *x = jv_str_ref(c->a, p + start, e - start);
            if (!x || jv_list_push(c->a, l, &cap, x))
                return jx_oom(c, line);
            break;
        }
        while (i < n && !py_isspace_at(p, n, i, &ln))
            i += ln;
        jv *x = jv_str_ref(c->a, p + start, i - start);
        if (!x || jv_list_push(c->a, l, &cap, x))
            return jx_oom(c, line);
        done++;
    }
    return l;
}

jv *jx_replace(jctx *c, int line, jv *s, jv *old, jv *new_, jv *count)
{
    if (!old || !new_ || old->k != JV_STR || new_->k != JV_STR)
        return jx_failp(c, line, "replace() needs two strings");
    if (count && count->k != JV_INT && count->k != JV_NONE)
        return jx_failp(c, line, "replace() count must be an integer");
    int64_t max = count && count->k == JV_INT ? count->u.i : -1;
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    const char *p = s->u.str.s;
    size_t n = s->u.str.n, on = old->u.str.n, i = 0;
    int64_t done = 0;
    if (on == 0) { /* between every character, and at both ends */
        while (max < 0 || done < max) {
            if (jb_put(&b, new_->u.str.s, new_->u.str.n))
                goto over;
            done++;
            if (i >= n)
                break;
            size_t l = utf8_char_len((unsigned char)p[i]);
            if (l > n - i)
                l = n - i;
            if (jb_put(&b, p + i, l))
                goto over;
            i += l;
        }
        if (jb_put(&b, p + i, n - i))
            goto over;
    } else {
        size_t start = 0;
        while (i + on <= n && (max < 0 || done < max)) {
            if (!memcmp(p + i, old->u.str.s, on)) {
                if (jb_put(&b, p + start, i - start) || jb_put(&b, new_->u.str.s, new_->u.str.n))
                    goto over;
                i += on;
                start = i;
                done++;
            } else {
                i++;
            }
        }
        if (jb_put(&b, p + start, n - start))
            goto over;
    }
    return jx_buf_str(c, line, &b);
over:
    return jx_buf_fail(c, line, &b);
}

jv *jx_case(jctx *c, int line, jv *s, int mode)
{
    char *p = ja_alloc(c->a, s->u.str.n + 1);
    if (!p)
        return jx_oom(c, line);
    bool prev_alpha = false;
    for (size_t i = 0; i < s->u.str.n; i++) {
        char ch = s->u.str.s[i];
        bool lower = ch >= 'a' && ch <= 'z', upper = ch >= 'A' && ch <= 'Z';
        bool up = mode == 1 || (mode == 2 && !prev_alpha) || (mode == 3 && i == 0);
        if (up && lower)
            ch = (char)(ch - 32);
        else if (!up && upper)
            ch = (char)(ch + 32);
        prev_alpha = lower || upper || ((unsigned char)ch >= 0x80 && mode == 2);
        p[i] = ch;
    }
    p[s->u.str.n] = 0;
    jv *r = jv_str_ref(c->a, p, s->u.str.n);
    if (r)
        r->u.str.markup = s->u.str.markup;
    return r ? r : jx_oom(c, line);
}

static jv *join(jctx *c, int line, jv *sep, jv *seq)
{
    if (!seq || seq->k != JV_LIST)
        return jx_failp(c, line, "join() needs a list");
    jbuf b;
    jb_init(&b, c->a, c->lim->max_output);
    for (size_t i = 0; i < seq->u.list.n; i++) {
        jv *x = seq->u.list.items[i];
        if (x->k != JV_STR)
            return jx_failp(c, line, "join(): item %zu is a %s, not a string", i, jv_kind_name(x->k));
        if ((i && jb_put(&b, sep->u.str.s, sep->u.str.n)) || jb_put(&b, x->u.str.s, x->u.str.n))
            return b.n > b.limit ? jx_failp(c, line, "join() result larger than %zu bytes", b.limit)
                                 : jx_oom(c, line);
    }
    return jx_buf_str(c, line, &b);
}

jv *jx_dict_view(jctx *c, int line, jv *d, int which)
{
    jv *l = jv_list(c->a, d->u.dict.n);
    if (!l)
        return jx_oom(c, line);
    for (size_t i = 0; i < d->u.dict.n; i++) {
        const jpair *p = &d->u.dict.items[i];
        jv *k = jv_str_ref(c->a, p->key, p->klen), *x = k;
        if (!k)
            return jx_oom(c, line);
        if (which == 0) {
            if (!(x = jv_list(c->a, 2)))
                return jx_oom(c, line);
            x->u.list.tuple = true;
            x->u.list.items[0] = k;
            x->u.list.items[1] = p->val;
        } else if (which == 2) {
            x = p->val;
        }
        l->u.list.items[i] = x;
    }
    return l;
}

static jv *call_method(jctx *c, int line, jv *m, const jargs *args)
{
    static const char *const p_affix[] = {"prefix", "start", "end"}, *const p_chars[] = {"chars"},
                             *const p_split[] = {"sep", "maxsplit"}, *const p_repl[] = {"old", "new", "count"},
                             *const p_join[] = {"iterable"}, *const p_get[] = {"key", "default"};
    jv *self = m->u.method.self, *a[3];
    int id = m->u.method.id;
    const char *name = id < M_STR_END ? str_methods[id] : dict_methods[id - M_STR_END];
    const char *const *params = NULL;
    size_t np = 0;
    switch (id) {
    case M_STARTSWITH: case M_ENDSWITH: params = p_affix; np = 1; break;
    case M_STRIP: case M_LSTRIP: case M_RSTRIP: params = p_chars; np = 1; break;
    case M_SPLIT: case M_RSPLIT: params = p_split; np = 2; break;
    case M_REPLACE: params = p_repl; np = 3; break;
    case M_JOIN: params = p_join; np = 1; break;
    case M_GET: params = p_get; np = 2; break;
    default: break;
    }
    if (args->nkw && (id == M_STARTSWITH || id == M_ENDSWITH || id == M_REPLACE || id == M_JOIN || id == M_GET))
        return jx_failp(c, line, "%s() takes no keyword arguments", name);
    if (jx_bind(c, line, name, params, np, args, a))
        return NULL;
    switch (id) {
    case M_STARTSWITH: case M_ENDSWITH: return affix(c, line, self, a[0], id == M_STARTSWITH);
    case M_STRIP: case M_LSTRIP: case M_RSTRIP:
        return jx_strip(c, line, self, a[0], id != M_RSTRIP, id != M_LSTRIP);
    case M_SPLIT: case M_RSPLIT: return split(c, line, self, a[0], a[1], id == M_RSPLIT);
    case M_REPLACE: return jx_replace(c, line, self, a[0], a[1], a[2]);
    case M_LOWER: return jx_case(c, line, self, 0);
    case M_UPPER: return jx_case(c, line, self, 1);
    case M_TITLE: return jx_case(c, line, self, 2);
    case M_CAPITALIZE: return jx_case(c, line, self, 3);
    case M_JOIN: return join(c, line, self, a[0]);
    case M_GET: {
        if (!a[0])
            return jx_failp(c, line, "get() takes at least 1 argument");
        jv *v = a[0]->k == JV_STR ? jv_dict_get(self, a[0]->u.str.s, a[0]->u.str.n) : NULL;
        return v ? v : a[1] ? a[1] : &jv_none_value;
    }
    default: return jx_dict_view(c, line, self, id - M_ITEMS);
    }
}

/* ---- globals ---- */

enum { G_RANGE, G_NAMESPACE, G_DICT, G_RAISE, G_STRFTIME };
static const char *const globals[] = {"range", "namespace", "dict", "raise_exception", "strftime_now"};

int jinja_global_id(const char *name)
{
    return FIND(globals, name, strlen(name));
}

static jv *range(jctx *c, int line, const jargs *args)
{
    if (args->nkw || args->npos < 1 || args->npos > 3)
        return jx_failp(c, line, "range() takes 1 to 3 positional arguments");
    int64_t v[3] = {0, 0, 1};
    for (size_t i = 0; i < args->npos; i++) {
        jv *x = args->pos[i];
        if (x->k != JV_INT && x->k != JV_BOOL)
            return jx_failp(c, line, "range() arguments must be integers, not '%s'", jv_kind_name(x->k));
        v[args->npos == 1 ? 1 : i] = x->k == JV_INT ? x->u.i : x->u.b;
    }
    if (v[2] == 0)
        return jx_failp(c, line, "range() step must not be zero");
    uint64_t count = 0;
    if (v[2] > 0 && v[0] < v[1])
        count = ((uint64_t)v[1] - (uint64_t)v[0] - 1) / (uint64_t)v[2] + 1;
    else if (v[2] < 0 && v[0] > v[1])
        count = ((uint64_t)v[0] - (uint64_t)v[1] - 1) / ((uint64_t)(-(v[2] + 1)) + 1) + 1;
    if (count > c->lim->max_steps)
        return jx_failp(c, line, "range() of %llu items exceeds the step limit", (unsigned long long)count);
    jv *l = jv_list(c->a, (size_t)count);
    if (!l)
        return jx_oom(c, line);
    for (uint64_t i = 0; i < count; i++)
        if (!(l->u.list.items[i] = jv_int(c->a, v[0] + (int64_t)i * v[2])))
            return jx_oom(c, line);
    return l;
}

static jv *make_dict(jctx *c, int line, const jargs *args, jv_kind k, const char *name)
{
    jv *d = jv_new(c->a, k);
    if (!d)
        return jx_oom(c, line);
    if (args->npos > 1)
        return jx_failp(c, line, "%s() takes at most 1 positional argument", name);
    if (args->npos == 1) {
        jv *src = args->pos[0];
        if (src->k != JV_DICT)
            return jx_failp(c, line, "%s() positional argument must be a dict, not '%s'", name, jv_kind_name(src->k));
        for (size_t i = 0; i < src->u.dict.n; i++)
            if (jv_dict_set(c->a, d, src->u.dict.items[i].key, src->u.dict.items[i].klen, src->u.dict.items[i].val))
                return jx_oom(c, line);
    }
    for (size_t i = 0; i < args->nkw; i++)
        if (jv_dict_set(c->a, d, args->kwn[i], strlen(args->kwn[i]), args->kwv[i]))
            return jx_oom(c, line);
    return d;
}

static jv *strftime_now(jctx *c, int line, const jargs *args)
{
    if (args->nkw || args->npos != 1 || args->pos[0]->k != JV_STR)
        return jx_failp(c, line, "strftime_now() takes one format string");
    struct tm tm;
    time_t now = c->now;
    if (!localtime_r(&now, &tm))
        return jx_failp(c, line, "strftime_now(): the time cannot be converted");
    char fmt[256], out[4096]; /* room for any expansion of a 255-byte format */
    jv *f = args->pos[0];
    if (f->u.str.n >= sizeof fmt)
        return jx_failp(c, line, "strftime_now(): format longer than %zu bytes", sizeof fmt - 1);
    memcpy(fmt, f->u.str.s, f->u.str.n);
    fmt[f->u.str.n] = 0;
    size_t n = strftime(out, sizeof out, fmt, &tm);
    jv *r = jv_str(c->a, out, n);
    return r ? r : jx_oom(c, line);
}

jv *jinja_call_builtin(jctx *c, int line, jv *fn, const jargs *args)
{
    if (fn->k == JV_METHOD)
        return call_method(c, line, fn, args);
    switch (fn->u.func) {
    case G_RANGE: return range(c, line, args);
    case G_NAMESPACE: return make_dict(c, line, args, JV_NS, "namespace");
    case G_DICT: return make_dict(c, line, args, JV_DICT, "dict");
    case G_RAISE: {
        if (args->npos < 1)
            return jx_failp(c, line, "raise_exception() needs a message");
        jv *msg = jx_to_str(c, line, args->pos[0]);
        if (!msg)
            return NULL;
        return jx_failp(c, line, "template raised an exception: %.*s", (int)(msg->u.str.n > 240 ? 240 : msg->u.str.n),
                        msg->u.str.s);
    }
    default: return strftime_now(c, line, args);
    }
}
