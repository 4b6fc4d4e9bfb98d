/* Register-tiled products, shared by the vector kernel sets: a product walks its weight
 * rows ROWS at a time and, for each group, the batch's tokens TOKS at a time, through a
 * tile function specialised for that shape; leftover rows run one at a time and leftover
 * tokens one at a time. The tile functions come from one always-inline template per type,
 * so every (row, token) result goes through the same operations whatever the shape, and
 * batching never changes the arithmetic. Plain C: each instruction set's file includes it. */
#ifndef KVSPILL_MODEL_KERNELS_TILED_H
#define KVSPILL_MODEL_KERNELS_TILED_H

#include <stddef.h>
#include <stdint.h>

/* y[t*ys + r] for the tile's rows r (ws bytes apart) and tokens t (as bytes apart). */
typedef void (*kern_tile_fn)(int k, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                             float *y, size_t ys);

typedef struct kern_tiles {
    int rows, toks;
    kern_tile_fn full, rows_x1, one_x_toks, one_x1;
} kern_tiles;

static inline void kern_tiled_gemm(const kern_tiles *s, int k, const uint8_t *w, size_t ws,
                                   int n_rows, const uint8_t *a, size_t as, int n_tok, float *y,
                                   size_t ys)
{
    for (int r = 0; r < n_rows;) {
        int full = n_rows - r >= s->rows;
        const uint8_t *wr = w + (size_t)r * ws;
        int t = 0;
        for (; t + s->toks <= n_tok; t += s->toks)
            (full ? s->full : s->one_x_toks)(k, wr, ws, a + (size_t)t * as, as,
                                             y + (size_t)t * ys + r, ys);
        for (; t < n_tok; t++)
            (full ? s->rows_x1 : s->one_x1)(k, wr, ws, a + (size_t)t * as, as,
                                            y + (size_t)t * ys + r, ys);
        r += full ? s->rows : 1;
    }
}

/* Defines the product `name` (a kern_gemm_fn, with the given linkage: static or empty)
 * from tile template `tmpl`, called as tmpl(R, T, <the extra arguments>, k, w, ws, a, as,
 * y, ys) for the four shapes R × T, R × 1, 1 × T, 1 × 1. A macro because each shape must be
 * its own function for the template's R and T to be constants. */
#define KERN_TILED_GEMM(linkage, name, R, T, tmpl, ...)                                       \
    static void name##_full(int k, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,  \
                            float *y, size_t ys)                                              \
    {                                                                                         \
        tmpl(R, T, __VA_ARGS__, k, w, ws, a, as, y, ys);                                      \
    }                                                                                         \
    static void name##_rows_x1(int k, const uint8_t *w, size_t ws, const uint8_t *a,          \
                               size_t as, float *y, size_t ys)                                \
    {                                                                                         \
        tmpl(R, 1, __VA_ARGS__, k, w, ws, a, as, y, ys);                                      \
    }                                                                                         \
    static void name##_one_x_toks(int k, const uint8_t *w, size_t ws, const uint8_t *a,       \
                                  size_t as, float *y, size_t ys)                             \
    {                                                                                         \
        tmpl(1, T, __VA_ARGS__, k, w, ws, a, as, y, ys);                                      \
    }                                                                                         \
    static void name##_one_x1(int k, const uint8_t *w, size_t ws, const uint8_t *a,           \
                              size_t as, float *y, size_t ys)                                 \
    {                                                                                         \
        tmpl(1, 1, __VA_ARGS__, k, w, ws, a, as, y, ys);                                      \
    }                                                                                         \
    static const kern_tiles name##_tiles = {R, T, name##_full, name##_rows_x1,                \
                                            name##_one_x_toks, name##_one_x1};                \
    linkage void name(int k, const uint8_t *w, size_t ws, int n_rows, const uint8_t *a,       \
                      size_t as, int n_tok, float *y, size_t ys)                              \
    {                                                                                         \
        kern_tiled_gemm(&name##_tiles, k, w, ws, n_rows, a, as, n_tok, y, ys);                \
    }

#endif
