/* Extracting a request's prompt for prefix hashing, without templates or tokenizers. */
#include "router/router_prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int add_string(sbuf *b, const json_t *s)
{
    return json_is_string(s) ? sb_add(b, json_string_value(s), json_string_length(s)) : 0;
}

static int add_chat(sbuf *b, const json_t *messages)
{
    size_t i;
    const json_t *m;
    json_array_foreach(messages, i, m) {
        const json_t *content = json_object_get(m, "content");
        if (add_string(b, json_object_get(m, "role")) || add_string(b, content))
            return -1;
        if (json_is_array(content)) {
            size_t j;
            const json_t *part;
            json_array_foreach(content, j, part)
                if (add_string(b, json_object_get(part, "text")))
                    return -1;
        }
    }
    return 0;
}

static int add_prompt(sbuf *b, const json_t *prompt)
{
    if (json_is_string(prompt))
        return add_string(b, prompt);
    if (!json_is_array(prompt) || !json_array_size(prompt))
        return 0;
    const json_t *first = json_array_get(prompt, 0);
    if (json_is_string(first))
        return add_string(b, first);
    if (json_is_array(first)) /* a batch of token arrays: the first one */
        prompt = first;
    size_t i;
    const json_t *t;
    json_array_foreach(prompt, i, t) {
        char num[32];
        int n = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT ",", json_integer_value(t));
        if (sb_add(b, num, (size_t)n))
            return -1;
    }
    return 0;
}

int router_prompt_text(const json_t *body, bool chat, char **text, size_t *len,
                       model_error *err)
{
    sbuf b = {0};
    int rc = chat ? add_chat(&b, json_object_get(body, "messages"))
                  : add_prompt(&b, json_object_get(body, "prompt"));
    if (rc == 0 && !b.p)
        rc = sb_add(&b, "", 0);
    if (rc) {
        free(b.p);
        return model_fail(err, "out of memory reading the request's prompt");
    }
    *text = b.p;
    *len = b.len;
    return 0;
}
