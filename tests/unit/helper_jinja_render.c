/* Renders a Jinja template file with a JSON context file (the variables), for the
 * comparison with Jinja2 in tests/integration/test_jinja_templates.sh.
 *   helper_jinja_render TEMPLATE CONTEXT.json
 * stdout: the rendering; exit 0; 1: the render failed (raise_exception, a type error);
 * 2: the template was refused by the parser; 3: bad usage or unreadable files. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "template/jinja.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *b2 = realloc(buf, cap *= 2);
        if (!b2) {
            free(buf);
            buf = NULL;
        } else {
            buf = b2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s TEMPLATE CONTEXT.json\n", argv[0]);
        return 3;
    }
    size_t len;
    char *src = slurp(argv[1], &len);
    if (!src) {
        perror(argv[1]);
        return 3;
    }
    json_error_t jerr;
    json_t *ctx = json_load_file(argv[2], 0, &jerr);
    if (!ctx) {
        fprintf(stderr, "%s: %s\n", argv[2], jerr.text);
        free(src);
        return 3;
    }
    jinja_error err;
    jinja_template *t = jinja_parse(src, len, &err);
    free(src);
    if (!t) {
        fprintf(stderr, "parse: %s\n", err.msg);
        json_decref(ctx);
        return 2;
    }
    char *out;
    size_t out_len;
    int rc = jinja_render(t, ctx, NULL, time(NULL), &out, &out_len, &err);
    jinja_free(t);
    json_decref(ctx);
    if (rc) {
        fprintf(stderr, "render: %s\n", err.msg);
        return 1;
    }
    fwrite(out, 1, out_len, stdout);
    free(out);
    return 0;
}
