/* A Jinja interpreter for chat templates: the subset of Jinja2 that the chat templates of
 * Hugging Face models use, rendered as transformers' apply_chat_template renders them
 * (trim_blocks and lstrip_blocks on, the trailing newline of the source dropped,
 * loop controls, raise_exception, strftime_now, and a tojson that keeps non-ASCII text).
 *
 * Templates are untrusted: parsing and rendering are bounded (nesting depth, evaluation
 * steps, memory, output size) and every failure is an error naming the construct and the
 * template line, never a partial or wrong prompt. A construct outside the subset
 * (an unknown statement, filter or test) is refused by jinja_parse, so a model whose
 * template cannot be rendered is refused when it is loaded.
 *
 * The context is a JSON object; each member is a top-level variable (messages, tools,
 * add_generation_prompt, bos_token, eos_token, and any extra keyword arguments). */
#ifndef KVSPILL_TEMPLATE_JINJA_H
#define KVSPILL_TEMPLATE_JINJA_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#define JINJA_MUST_CHECK __attribute__((warn_unused_result))

typedef struct jinja_error {
    int line;       /* template line of the failure (1-based), 0 when none applies */
    char msg[320];  /* "line 12: unknown filter 'wordwrap'" */
} jinja_error;

typedef struct jinja_limits {
    size_t max_output;     /* bytes of rendered text (and of any captured block) */
    size_t max_memory;     /* bytes of values allocated during one render */
    unsigned long max_steps; /* expressions and statements evaluated in one render */
    int max_depth;         /* nested macro calls */
} jinja_limits;

/* 16 MiB of output, 256 MiB of values, 20 million steps, 64 nested macro calls. */
jinja_limits jinja_default_limits(void);

typedef struct jinja_template jinja_template;

/* Parses a template; NULL with err set when it is malformed or uses an unsupported
 * construct (or on out-of-memory). */
jinja_template *jinja_parse(const char *src, size_t len, jinja_error *err) JINJA_MUST_CHECK;
void jinja_free(jinja_template *t);

/* Renders t with the variables of ctx (a JSON object, may be NULL). now is the time that
 * strftime_now formats (local time). On success *out is a malloc'd NUL-terminated string
 * of *out_len bytes; on failure (raise_exception, a type error, a limit) -1 and err. */
int jinja_render(const jinja_template *t, const json_t *ctx, const jinja_limits *lim, time_t now,
                 char **out, size_t *out_len, jinja_error *err) JINJA_MUST_CHECK;

#endif
