/* Shared by the files of the Jinja interpreter: the arena, values, tokens and the syntax
 * tree. Nothing here is part of jinja.h's contract. */
#ifndef KVSPILL_TEMPLATE_JINJA_INTERNAL_H
#define KVSPILL_TEMPLATE_JINJA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "template/jinja.h"

#define JINJA_MAX_NESTING 200 /* parser: nested expressions and blocks */
#define JINJA_MACRO_VARARGS 1 /* the macro's body reads varargs: extra positional arguments */
#define JINJA_MACRO_KWARGS 2  /* ... reads kwargs: unknown keyword arguments */
#define JINJA_MACRO_CALLER 4  /* ... reads caller: it can be called by {% call %} */

/* ---- arena: every allocation of a parse or a render, freed at once ---- */
typedef struct jarena_block jarena_block;
typedef struct jarena {
    jarena_block *head;
    size_t used, budget;
    bool exhausted;
} jarena;

void ja_init(jarena *a, size_t budget);
void ja_release(jarena *a);
/* NULL when the budget is spent or malloc fails (a->exhausted then says which). */
void *ja_alloc(jarena *a, size_t n);
char *ja_strndup(jarena *a, const char *s, size_t n);

/* A growable byte buffer in an arena, bounded by limit. */
typedef struct jbuf {
    jarena *a;
    char *p;
    size_t n, cap, limit;
} jbuf;
void jb_init(jbuf *b, jarena *a, size_t limit);
/* -1: the limit or the arena is exhausted (jb_over tells which). */
int jb_put(jbuf *b, const char *s, size_t n) JINJA_MUST_CHECK;
int jb_puts(jbuf *b, const char *s) JINJA_MUST_CHECK;
bool jb_over(const jbuf *b);

/* ---- values ---- */
typedef enum jv_kind {
    JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT,
    JV_NS,     /* namespace(): a dict whose attributes can be assigned */
    JV_MACRO,  /* a {% macro %} */
    JV_FUNC,   /* a global function: range, namespace, raise_exception, strftime_now, dict */
    JV_METHOD, /* a method bound to a string, list or dict */
} jv_kind;

typedef struct jv jv;
typedef struct jnode jnode;
typedef struct jscope jscope;

typedef struct jpair {
    const char *key;
    size_t klen;
    jv *val;
} jpair;

struct jv {
    jv_kind k;
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *s; size_t n; bool markup; } str; /* markup: |safe's Markup */
        struct { jv **items; size_t n; bool tuple, gen; } list; /* gen: a filter's generator */
        struct { jpair *items; size_t n, cap; } dict; /* JV_DICT and JV_NS */
        struct { const jnode *def; jscope *closure; } macro;
        int func;
        struct { int id; jv *self; } method;
    } u;
    const char *undef_name; /* JV_UNDEF: the name looked up, for messages */
};

extern jv jv_undef_value, jv_none_value, jv_true_value, jv_false_value;

jv *jv_new(jarena *a, jv_kind k);
jv *jv_int(jarena *a, int64_t i);
jv *jv_float(jarena *a, double f);
jv *jv_bool(bool b);
jv *jv_str(jarena *a, const char *s, size_t n);     /* copies s */
jv *jv_str_ref(jarena *a, const char *s, size_t n); /* s must outlive the value */
jv *jv_list(jarena *a, size_t n);                   /* n items, all NULL */
jv *jv_dict(jarena *a);
/* Appends x to a list built in the arena (cap: its capacity, 0 at first); -1 on out-of-memory. */
int jv_list_push(jarena *a, jv *l, size_t *cap, jv *x) JINJA_MUST_CHECK;
/* Sets key (copied) in a dict or namespace; -1 on out-of-memory. */
int jv_dict_set(jarena *a, jv *d, const char *key, size_t klen, jv *val) JINJA_MUST_CHECK;
jv *jv_dict_get(const jv *d, const char *key, size_t klen); /* NULL: absent */
jv *jv_from_json(jarena *a, const json_t *j);
const char *jv_kind_name(jv_kind k);

bool jv_truthy(const jv *v);
bool jv_equal(const jv *x, const jv *y);
/* Python's str(): appends the text of v; -1 when v has no text (a macro, a method) or on
 * a limit. */
int jv_write_str(jbuf *b, const jv *v) JINJA_MUST_CHECK;
int jv_write_repr(jbuf *b, const jv *v) JINJA_MUST_CHECK;
/* HF's tojson: json.dumps(v, ensure_ascii=False, indent=indent (<0: none), sort_keys). */
int jv_write_json(jbuf *b, const jv *v, int indent, bool sort_keys, int level) JINJA_MUST_CHECK;

/* ---- UTF-8 and Python string helpers ---- */
bool py_isspace_at(const char *s, size_t n, size_t i, size_t *len); /* whitespace char at i */
size_t utf8_len(const char *s, size_t n);                     /* code points */
size_t utf8_offset(const char *s, size_t n, size_t cp);       /* byte offset of code point cp */
size_t utf8_char_len(unsigned char c);

/* ---- tokens ---- */
typedef enum jtok_kind {
    JT_DATA, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END, JT_NAME, JT_STRING,
    JT_INT, JT_FLOAT, JT_OP, JT_EOF,
} jtok_kind;

typedef struct jtok {
    jtok_kind k;
    int line;
    const char *s; /* DATA, NAME, STRING (unescaped), OP: text in the arena */
    size_t n;
    int64_t i;
    double f;
} jtok;

/* Tokenises src with trim_blocks and lstrip_blocks; -1 and err on a malformed tag. */
int jinja_lex(jarena *a, const char *src, size_t len, jtok **toks, size_t *ntoks, jinja_error *err)
    JINJA_MUST_CHECK;

/* ---- syntax tree ---- */
typedef enum jnode_kind {
    /* expressions */
    JN_CONST, JN_NAME, JN_GETATTR, JN_GETITEM, JN_SLICE, JN_CALL, JN_FILTER, JN_TEST,
    JN_NEG, JN_POS, JN_NOT, JN_AND, JN_OR, JN_BINOP, JN_COMPARE, JN_COND, JN_LIST, JN_TUPLE,
    JN_DICT, JN_CONCAT,
    /* statements */
    JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SET_ATTR, JN_SET_BLOCK, JN_MACRO,
    JN_CALL_BLOCK, JN_FILTER_BLOCK, JN_BREAK, JN_CONTINUE,
} jnode_kind;

typedef enum jop {
    JOP_ADD, JOP_SUB, JOP_MUL, JOP_DIV, JOP_FLOORDIV, JOP_MOD, JOP_POW,
    JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_IN, JOP_NOTIN,
} jop;

struct jnode {
    jnode_kind k;
    int line;
    int op;            /* BINOP: operator, FILTER and TEST: id, MACRO: JINJA_MACRO_* */
    bool neg;          /* TEST: 'is not' */
    const char *name;  /* NAME, GETATTR, FILTER, TEST, MACRO, SET target, SET_ATTR attribute */
    jv *value;         /* CONST */
    jnode *a, *b, *c;  /* operands; SLICE: a[b:c:d] with d in list[0]; FOR: a iter, b filter */
    jnode **list;      /* arguments, items, body */
    size_t n;
    jnode **list2;     /* keyword values, dict values, else body, macro defaults */
    size_t n2;
    const char **names; /* keyword names, macro parameters, FOR / SET targets */
    size_t nnames;
    int *ops;          /* COMPARE: the operator before each operand after the first */
};

/* The statements of a template's top level. */
typedef struct jinja_body {
    jnode **list;
    size_t n;
} jinja_body;

struct jinja_template {
    jarena arena;
    jinja_body body;
};

int jinja_parse_tokens(jarena *a, const jtok *toks, size_t ntoks, jinja_body *out, jinja_error *err)
    JINJA_MUST_CHECK;

/* ---- render state ---- */
struct jscope {
    jscope *parent;
    jpair *vars;
    size_t n, cap;
};

typedef struct jctx {
    jarena *a;
    jinja_error *err;
    const jinja_limits *lim;
    time_t now;
    jscope *globals;
    jscope *scope;  /* innermost */
    int rdepth;     /* nested evaluation frames */
    unsigned long steps;
    int depth;      /* nested macro calls */
    int brk;        /* 1: break, 2: continue pending */
} jctx;

/* Sets err ("line N: ...") and returns -1 / NULL, for one-line failure paths. */
int jx_fail(jctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void *jx_failp(jctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The out-of-memory / limit failure of an allocation, and of a buffer (its limit or the
 * arena's). */
void *jx_oom(jctx *c, int line);
void *jx_buf_fail(jctx *c, int line, const jbuf *b);
/* The string value of a buffer's bytes. */
jv *jx_buf_str(jctx *c, int line, const jbuf *b);
/* An undefined value; why is the message of its use ("'x' is undefined"). */
jv *jx_undefined(jctx *c, const char *why);
/* x in y: 0 / 1, or -1 and err when y is no container (or x no string for a string y). */
int jx_contains(jctx *c, int line, const jv *x, const jv *y);

/* Evaluated call arguments. */
typedef struct jargs {
    jv **pos;
    size_t npos;
    const char **kwn;
    jv **kwv;
    size_t nkw;
} jargs;

/* Binds args to the parameters names[0..n) (Python's rules); missing ones stay NULL.
 * -1 and err on an unknown keyword or too many arguments. */
int jx_bind(jctx *c, int line, const char *what, const char *const *names, size_t n,
            const jargs *args, jv **out) JINJA_MUST_CHECK;

/* Filters and tests, looked up by name at parse time (-1: unknown). */
int jinja_filter_id(const char *name);
int jinja_test_id(const char *name);
jv *jinja_apply_filter(jctx *c, int line, int id, jv *v, const jargs *args);
/* 0 / 1, or -1 and err. */
int jinja_apply_test(jctx *c, int line, int id, jv *v, const jargs *args);

/* Attribute lookup on a value (methods of strings, lists and dicts, then items). */
jv *jinja_getattr(jctx *c, int line, jv *obj, const char *name, size_t len);
jv *jinja_getitem(jctx *c, int line, jv *obj, jv *key);
/* Calls a method or global function value. */
jv *jinja_call_builtin(jctx *c, int line, jv *fn, const jargs *args);
/* Globals: range, namespace, dict, raise_exception, strftime_now. */
int jinja_global_id(const char *name);
/* Calls a macro (eval). */
jv *jinja_call_macro(jctx *c, int line, jv *m, const jargs *args, jv *caller);

/* String operations shared by methods and filters (s is a string value). */
jv *jx_strip(jctx *c, int line, jv *s, const jv *chars, bool left, bool right); /* chars NULL: whitespace */
jv *jx_replace(jctx *c, int line, jv *s, jv *old, jv *new_, jv *count);
jv *jx_case(jctx *c, int line, jv *s, int mode); /* ASCII: 0 lower, 1 upper, 2 title, 3 capitalize */
jv *jx_dict_view(jctx *c, int line, jv *d, int which); /* 0 items(), 1 keys(), 2 values() */

/* Appends s HTML-escaped as markupsafe does, or as it is when s is Markup. */
int jx_put_escaped(jbuf *b, const jv *s) JINJA_MUST_CHECK;

/* String of v as {{ v }} prints it (NULL and err when it has none). */
jv *jx_to_str(jctx *c, int line, jv *v);

#endif
