#include "cli/cli_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    int saved = buf ? EIO : ENOMEM;
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = saved;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int cli_read_ints(const char *cmd, const char *path, int32_t **out, uint32_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "kvspill %s: %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    size_t cap = 256;
    int32_t *v = malloc(cap * sizeof *v);
    *n = 0;
    long x;
    int rc;
    while (v && (rc = fscanf(f, "%ld", &x)) == 1) {
        if (*n == cap) {
            int32_t *g = realloc(v, 2 * cap * sizeof *v);
            if (!g) {
                free(v);
                v = NULL;
                break;
            }
            v = g;
            cap *= 2;
        }
        v[(*n)++] = (int32_t)x;
    }
    int bad = v && !feof(f);
    fclose(f);
    if (!v || bad) {
        fprintf(stderr, "kvspill %s: %s: %s\n", cmd, path,
                v ? "not a list of integers" : "out of memory");
        free(v);
        return -1;
    }
    *out = v;
    return 0;
}
