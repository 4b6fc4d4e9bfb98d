/* The CUDA backend's kernels one by one (cuda_kernels.h) against the CPU's functions, so that
 * a wrong result points at its kernel rather than at a whole forward pass:
 *   - weight decoding (cuda_dequant_rows to F32 and F16, cuda_embed_rows) bit for bit
 *     against kern_dequant_row, every weight type, F16 scales over their whole range;
 *   - cuda_f32_to_f16 bit for bit against kern_f32_to_f16 (subnormals, overflow, ties);
 *   - RMSNorm (with a row list), RoPE (partial rotation, positions up to 2^20) and SwiGLU
 *     within 1e-6 relative of kern_rmsnorm, kern_rope_norm and the scalar formula;
 *   - cuda_kv_store and cuda_paged_attention through a shuffled block table: head sizes 80
 *     (not a multiple of 32), 128 and 256 (the largest), GQA and MHA, F16 and F32 KV, a
 *     context of 3001 positions, a query at position 0 and queries on both sides of a block
 *     boundary, against attention computed in double on the host (relative L2 1e-4; a position
 *     missed or read twice moves a 3001-position result by about 1e-2). */
#include <math.h>

#include "gpu_fixture.h"
#include "model/cuda/cuda_kernels.h"
#include "model/kernels.h"
#include "random_weights.h"

#define CU(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            fail_msg("%s: %s", #call, cudaGetErrorString(e_));                                     \
    } while (0)

/* Uniform in [-1, 1). */
static float next_unit(void)
{
    return (float)rw_next() / 2147483648.0f - 1.0f;
}

static void *dev_copy(const void *host, size_t bytes)
{
    void *d = NULL;
    CU(cudaMalloc(&d, bytes ? bytes : 1));
    if (bytes)
        CU(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}

static void host_copy(void *host, const void *dev, size_t bytes)
{
    CU(cudaDeviceSynchronize());
    CU(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
}

#define DQ_ROWS 7
#define DQ_COLS 512

static void test_dequant_bit_exact(void **state)
{
    (void)state;
    for (int t = 0; t < KW_COUNT; t++) {
        kern_wtype wt = (kern_wtype)t;
        size_t row_bytes = DQ_COLS / kern_wtype_block_elems(wt) * kern_wtype_block_bytes(wt);
        uint8_t *rows = malloc(DQ_ROWS * row_bytes);
        float *want = malloc(DQ_ROWS * DQ_COLS * sizeof *want);
        float *got = malloc(DQ_ROWS * DQ_COLS * sizeof *got);
        uint16_t *got16 = malloc(DQ_ROWS * DQ_COLS * sizeof *got16);
        assert_non_null(rows);
        assert_non_null(want);
        assert_non_null(got);
        assert_non_null(got16);
        for (uint32_t r = 0; r < DQ_ROWS; r++) {
            rw_fill_row(wt, rows + r * row_bytes, row_bytes);
            kern_dequant_row(wt, rows + r * row_bytes, want + r * DQ_COLS, DQ_COLS);
        }
        uint8_t *d_rows = dev_copy(rows, DQ_ROWS * row_bytes);
        float *d_out = NULL;
        CU(cudaMalloc((void **)&d_out, DQ_ROWS * DQ_COLS * sizeof(float)));

        CU(cuda_dequant_rows(wt, d_rows, row_bytes, DQ_ROWS, DQ_COLS, d_out, false, 0));
        host_copy(got, d_out, DQ_ROWS * DQ_COLS * sizeof *got);
        for (uint32_t i = 0; i < DQ_ROWS * DQ_COLS; i++)
            if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
                fail_msg("%s to F32, row %u value %u: gpu %.9g, kern_dequant_row %.9g",
                         kern_wtype_name(wt), i / DQ_COLS, i % DQ_COLS, got[i], want[i]);

        CU(cuda_dequant_rows(wt, d_rows, row_bytes, DQ_ROWS, DQ_COLS, d_out, true, 0));
        host_copy(got16, d_out, DQ_ROWS * DQ_COLS * sizeof *got16);
        for (uint32_t i = 0; i < DQ_ROWS * DQ_COLS; i++)
            if (got16[i] != kern_f32_to_f16(want[i]))
                fail_msg("%s to F16, row %u value %u: gpu %04x, cpu %04x", kern_wtype_name(wt),
                         i / DQ_COLS, i % DQ_COLS, got16[i], kern_f32_to_f16(want[i]));

        /* Embedding rows: tokens in any order, repeated, the last row included. */
        const int32_t tokens[5] = {DQ_ROWS - 1, 0, 3, 3, 1};
        int32_t *d_tok = dev_copy(tokens, sizeof tokens);
        CU(cuda_embed_rows(wt, d_rows, row_bytes, d_tok, 5, DQ_COLS, d_out, 0));
        host_copy(got, d_out, 5 * DQ_COLS * sizeof *got);
        for (uint32_t i = 0; i < 5; i++)
            if (memcmp(got + i * DQ_COLS, want + (size_t)tokens[i] * DQ_COLS,
                       DQ_COLS * sizeof *got) != 0)
                fail_msg("%s: embedding row %u (token %d) differs from kern_dequant_row",
                         kern_wtype_name(wt), i, tokens[i]);
        print_message("  %-4s decoded on the gpu: F32, F16 and embedding rows bit-exact\n",
                      kern_wtype_name(wt));
        cudaFree(d_tok);
        cudaFree(d_out);
        cudaFree(d_rows);
        free(got16);
        free(got);
        free(want);
        free(rows);
    }
}

static void test_f32_to_f16_bit_exact(void **state)
{
    (void)state;
    enum { N = 1 << 16 };
    float *x = malloc(N * sizeof *x);
    uint16_t *got = malloc(N * sizeof *got);
    assert_non_null(x);
    assert_non_null(got);
    const float special[] = {0.0f,       -0.0f,    65504.0f,        65519.99f,         65520.0f,
                             -65520.0f,  1e9f,     0x1p-14f,        0x1p-24f,          0x1p-25f,
                             0x1.8p-25f, 0x1p-26f, 1.0f + 0x1p-11f, 1.0f + 0x1.8p-11f, INFINITY,
                             -INFINITY};
    size_t n_special = sizeof special / sizeof special[0];
    for (uint32_t i = 0; i < N; i++) {
        if (i < n_special)
            x[i] = special[i];
        else { /* any finite bit pattern with an exponent around the F16 range */
            uint32_t bits = rw_next();
            bits = (bits & 0x807fffffu) | ((uint32_t)(100 + rw_next() % 45) << 23);
            memcpy(&x[i], &bits, sizeof bits);
        }
    }
    float *d_x = dev_copy(x, N * sizeof *x);
    uint16_t *d_h = NULL;
    CU(cudaMalloc((void **)&d_h, N * sizeof *d_h));
    CU(cuda_f32_to_f16(d_x, d_h, N, 0));
    host_copy(got, d_h, N * sizeof *got);
    for (uint32_t i = 0; i < N; i++)
        if (got[i] != kern_f32_to_f16(x[i]))
            fail_msg("f16(%a): gpu %04x, cpu %04x", (double)x[i], got[i], kern_f32_to_f16(x[i]));
    cudaFree(d_h);
    cudaFree(d_x);
    free(got);
    free(x);
}

static void fill_unit(float *x, size_t n, float amp)
{
    for (size_t i = 0; i < n; i++)
        x[i] = amp * next_unit();
}

static void expect_rel(const float *got, const float *want, size_t n, double tol, const char *what)
{
    double e = fixture_rel_l2(got, want, n);
    if (!(e <= tol))
        fail_msg("%s: relative L2 %.3g above %.0e", what, e, tol);
}

static void test_rmsnorm(void **state)
{
    (void)state;
    enum { ROWS = 5, N = 4096 + 7 };
    float *x = malloc(ROWS * N * sizeof *x), *w = malloc(N * sizeof *w);
    float *got = malloc(ROWS * N * sizeof *got), *want = malloc(N * sizeof *want);
    assert_non_null(x);
    assert_non_null(w);
    assert_non_null(got);
    assert_non_null(want);
    fill_unit(x, ROWS * N, 3.0f);
    fill_unit(w, N, 1.5f);
    const uint32_t rows[3] = {4, 0, 2};
    float *d_x = dev_copy(x, ROWS * N * sizeof *x), *d_w = dev_copy(w, N * sizeof *w);
    uint32_t *d_rows = dev_copy(rows, sizeof rows);
    float *d_out = NULL;
    CU(cudaMalloc((void **)&d_out, ROWS * N * sizeof *d_out));

    CU(cuda_rmsnorm(d_x, NULL, d_w, d_out, ROWS, N, 1e-5f, 0));
    host_copy(got, d_out, ROWS * N * sizeof *got);
    for (uint32_t r = 0; r < ROWS; r++) {
        kern_rmsnorm(x + (size_t)r * N, w, want, N, 1e-5f);
        expect_rel(got + (size_t)r * N, want, N, 1e-6, "rmsnorm");
    }
    CU(cuda_rmsnorm(d_x, d_rows, d_w, d_out, 3, N, 1e-5f, 0));
    host_copy(got, d_out, 3 * N * sizeof *got);
    for (uint32_t r = 0; r < 3; r++) {
        kern_rmsnorm(x + (size_t)rows[r] * N, w, want, N, 1e-5f);
        expect_rel(got + (size_t)r * N, want, N, 1e-6, "rmsnorm of listed rows");
    }
    cudaFree(d_out);
    cudaFree(d_rows);
    cudaFree(d_w);
    cudaFree(d_x);
    free(want);
    free(got);
    free(w);
    free(x);
}

static void test_rope(void **state)
{
    (void)state;
    enum { N_TOK = 4, N_HEAD = 6, N_HEAD_KV = 2, HD = 128 };
    const uint32_t rots[2] = {HD, 64}; /* full and partial rotation */
    const uint32_t pos[N_TOK] = {0, 17, 32767, 1u << 20};
    size_t nq = (size_t)N_TOK * N_HEAD * HD, nk = (size_t)N_TOK * N_HEAD_KV * HD;
    float *q = malloc(nq * sizeof *q), *k = malloc(nk * sizeof *k);
    float *gq = malloc(nq * sizeof *gq), *gk = malloc(nk * sizeof *gk);
    assert_non_null(q);
    assert_non_null(k);
    assert_non_null(gq);
    assert_non_null(gk);
    uint32_t *d_pos = dev_copy(pos, sizeof pos);
    for (int c = 0; c < 2; c++) {
        fill_unit(q, nq, 2.0f);
        fill_unit(k, nk, 2.0f);
        float *d_q = dev_copy(q, nq * sizeof *q), *d_k = dev_copy(k, nk * sizeof *k);
        CU(cuda_rope_norm(d_q, d_k, d_pos, N_TOK, N_HEAD, N_HEAD_KV, HD, rots[c], 10000.0f, 0));
        host_copy(gq, d_q, nq * sizeof *gq);
        host_copy(gk, d_k, nk * sizeof *gk);
        for (uint32_t t = 0; t < N_TOK; t++) {
            kern_rope_norm(q + (size_t)t * N_HEAD * HD, N_HEAD, HD, (int)rots[c], (int)pos[t],
                           10000.0f);
            kern_rope_norm(k + (size_t)t * N_HEAD_KV * HD, N_HEAD_KV, HD, (int)rots[c], (int)pos[t],
                           10000.0f);
        }
        expect_rel(gq, q, nq, 1e-6, "rope q");
        expect_rel(gk, k, nk, 1e-6, "rope k");
        cudaFree(d_k);
        cudaFree(d_q);
    }
    cudaFree(d_pos);
    free(gk);
    free(gq);
    free(k);
    free(q);
}

static void test_swiglu(void **state)
{
    (void)state;
    enum { N = 100003 };
    float *g = malloc(N * sizeof *g), *u = malloc(N * sizeof *u), *got = malloc(N * sizeof *got);
    assert_non_null(g);
    assert_non_null(u);
    assert_non_null(got);
    fill_unit(g, N, 12.0f);
    fill_unit(u, N, 3.0f);
    float *d_g = dev_copy(g, N * sizeof *g), *d_u = dev_copy(u, N * sizeof *u);
    CU(cuda_swiglu(d_g, d_u, N, 0));
    host_copy(got, d_g, N * sizeof *got);
    for (uint32_t i = 0; i < N; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    expect_rel(got, g, N, 1e-6, "swiglu");
    cudaFree(d_u);
    cudaFree(d_g);
    free(got);
    free(u);
    free(g);
}

/* ---- the paged KV cache ---- */

#define BT 16u      /* block_tokens */
#define CTX_A 3001u /* sequence A: positions [0, 3001) */
#define CTX_B 33u   /* sequence B: positions [0, 33) */
#define BLK_A ((CTX_A + BT - 1) / BT)
#define BLK_B ((CTX_B + BT - 1) / BT)
#define N_BLK (BLK_A + BLK_B)

typedef struct attn_shape {
    uint32_t n_head, n_head_kv, head_dim;
} attn_shape;

/* Block i of the step's pointer tables (A's blocks, then B's) is pool block perm[i]. */
static void shuffle(uint32_t *perm, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rw_next() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static float kv_value(const void *pool, bool f16, size_t i)
{
    return f16 ? kern_f16_to_f32(((const uint16_t *)pool)[i]) : ((const float *)pool)[i];
}

static void attention_case(const attn_shape *sh, bool f16)
{
    uint32_t row = sh->n_head_kv * sh->head_dim, qrow = sh->n_head * sh->head_dim;
    size_t esz = f16 ? 2 : 4, blk_elems = (size_t)BT * row, pool_elems = N_BLK * blk_elems;
    uint32_t perm[N_BLK];
    shuffle(perm, N_BLK);

    /* Pools of random K and V, in the cache's dtype. */
    uint8_t *kpool = malloc(pool_elems * esz), *vpool = malloc(pool_elems * esz);
    assert_non_null(kpool);
    assert_non_null(vpool);
    for (size_t i = 0; i < pool_elems; i++) {
        float kv[2] = {next_unit(), next_unit()};
        if (f16) {
            ((uint16_t *)kpool)[i] = kern_f32_to_f16(kv[0]);
            ((uint16_t *)vpool)[i] = kern_f32_to_f16(kv[1]);
        } else {
            ((float *)kpool)[i] = kv[0];
            ((float *)vpool)[i] = kv[1];
        }
    }
    uint8_t *d_k = dev_copy(kpool, pool_elems * esz), *d_v = dev_copy(vpool, pool_elems * esz);
    void *kp[N_BLK], *vp[N_BLK];
    for (uint32_t i = 0; i < N_BLK; i++) {
        kp[i] = d_k + perm[i] * blk_elems * esz;
        vp[i] = d_v + perm[i] * blk_elems * esz;
    }
    void **d_kp = dev_copy(kp, sizeof kp), **d_vp = dev_copy(vp, sizeof vp);

    /* Queries: the end of A, inside A, B's first position, both sides of B's block edges. */
    enum { N_TOK = 6 };
    const uint32_t pos[N_TOK] = {CTX_A - 1, 1234, 0, BT - 1, BT, CTX_B - 1};
    const uint32_t off[N_TOK] = {0, 0, BLK_A, BLK_A, BLK_A, BLK_A};
    float *q = malloc((size_t)N_TOK * qrow * sizeof *q), *got = malloc((size_t)N_TOK * qrow * 4);
    assert_non_null(q);
    assert_non_null(got);
    fill_unit(q, (size_t)N_TOK * qrow, 1.5f);
    float *d_q = dev_copy(q, (size_t)N_TOK * qrow * sizeof *q), *d_out = NULL;
    uint32_t *d_pos = dev_copy(pos, sizeof pos), *d_off = dev_copy(off, sizeof off);
    CU(cudaMalloc((void **)&d_out, (size_t)N_TOK * qrow * sizeof *d_out));
    CU(cuda_paged_attention(d_q, d_out, d_kp, d_vp, d_off, d_pos, N_TOK, sh->n_head, sh->n_head_kv,
                            sh->head_dim, BT, f16, 0));
    host_copy(got, d_out, (size_t)N_TOK * qrow * sizeof *got);

    /* Attention in double on the host, position by position through the same table. */
    double *sc = malloc(CTX_A * sizeof *sc), *acc = malloc(sh->head_dim * sizeof *acc);
    float *want = malloc(sh->head_dim * sizeof *want);
    assert_non_null(sc);
    assert_non_null(acc);
    assert_non_null(want);
    double scale = 1.0 / sqrt((double)sh->head_dim);
    for (uint32_t t = 0; t < N_TOK; t++)
        for (uint32_t h = 0; h < sh->n_head; h++) {
            uint32_t kvh = h / (sh->n_head / sh->n_head_kv);
            const float *qv = q + (size_t)t * qrow + (size_t)h * sh->head_dim;
            double mx = -INFINITY, sum = 0.0;
            for (uint32_t p = 0; p <= pos[t]; p++) {
                size_t at = perm[off[t] + p / BT] * blk_elems + (size_t)(p % BT) * row +
                            (size_t)kvh * sh->head_dim;
                double s = 0.0;
                for (uint32_t d = 0; d < sh->head_dim; d++)
                    s += (double)qv[d] * kv_value(kpool, f16, at + d);
                sc[p] = s * scale;
                mx = sc[p] > mx ? sc[p] : mx;
            }
            for (uint32_t d = 0; d < sh->head_dim; d++)
                acc[d] = 0.0;
            for (uint32_t p = 0; p <= pos[t]; p++) {
                size_t at = perm[off[t] + p / BT] * blk_elems + (size_t)(p % BT) * row +
                            (size_t)kvh * sh->head_dim;
                double w = exp(sc[p] - mx);
                sum += w;
                for (uint32_t d = 0; d < sh->head_dim; d++)
                    acc[d] += w * kv_value(vpool, f16, at + d);
            }
            for (uint32_t d = 0; d < sh->head_dim; d++)
                want[d] = (float)(acc[d] / sum);
            const float *g = got + (size_t)t * qrow + (size_t)h * sh->head_dim;
            double e = fixture_rel_l2(g, want, sh->head_dim);
            if (!(e <= 1e-4))
                fail_msg("attention heads %u/%u dim %u kv %s: token %u (position %u) head %u: "
                         "relative L2 %.3g",
                         sh->n_head, sh->n_head_kv, sh->head_dim, f16 ? "f16" : "f32", t, pos[t], h,
                         e);
        }
    print_message("  attention heads %u/%u, head dim %u, kv %s: %u queries up to position %u "
                  "match\n",
                  sh->n_head, sh->n_head_kv, sh->head_dim, f16 ? "f16" : "f32", N_TOK, CTX_A - 1);
    free(want);
    free(acc);
    free(sc);
    cudaFree(d_out);
    cudaFree(d_off);
    cudaFree(d_pos);
    cudaFree(d_q);
    cudaFree(d_vp);
    cudaFree(d_kp);
    cudaFree(d_v);
    cudaFree(d_k);
    free(got);
    free(q);
    free(vpool);
    free(kpool);
}

static const attn_shape shapes[] = {{4, 2, 80}, {8, 8, 128}, {3, 1, 256}};

static void test_paged_attention(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        attention_case(&shapes[s], false);
        attention_case(&shapes[s], true);
    }
}

/* cuda_kv_store writes each token's K and V rows at its position through the table, rounded
 * to F16 as kern_f32_to_f16 rounds, and nothing else. */
static void store_case(bool f16)
{
    enum { ROW = 2 * 80, N_TOK = 4, POOL_BLK = 5 };
    size_t esz = f16 ? 2 : 4, blk_bytes = (size_t)BT * ROW * esz;
    size_t pool_bytes = POOL_BLK * blk_bytes;
    /* Two sequences of two blocks each: pointer i is pool block perm[i]. */
    const uint32_t perm[4] = {3, 0, 4, 1};
    const uint32_t pos[N_TOK] = {0, 31, 16, 15}, off[N_TOK] = {0, 0, 2, 2};
    uint8_t *d_kpool = NULL, *d_vpool = NULL;
    CU(cudaMalloc((void **)&d_kpool, pool_bytes));
    CU(cudaMalloc((void **)&d_vpool, pool_bytes));
    CU(cudaMemset(d_kpool, 0x5a, pool_bytes));
    CU(cudaMemset(d_vpool, 0xa5, pool_bytes));
    void *kp[4], *vp[4];
    for (int i = 0; i < 4; i++) {
        kp[i] = d_kpool + perm[i] * blk_bytes;
        vp[i] = d_vpool + perm[i] * blk_bytes;
    }
    float *k = malloc(N_TOK * ROW * sizeof *k), *v = malloc(N_TOK * ROW * sizeof *v);
    uint8_t *kpool = malloc(pool_bytes), *vpool = malloc(pool_bytes);
    uint8_t *gk = malloc(pool_bytes), *gv = malloc(pool_bytes);
    assert_non_null(k);
    assert_non_null(v);
    assert_non_null(kpool);
    assert_non_null(vpool);
    assert_non_null(gk);
    assert_non_null(gv);
    fill_unit(k, N_TOK * ROW, 70000.0f); /* some overflow F16 */
    fill_unit(v, N_TOK * ROW, 1.0f);
    float *d_k = dev_copy(k, N_TOK * ROW * sizeof *k), *d_v = dev_copy(v, N_TOK * ROW * sizeof *v);
    void **d_kp = dev_copy(kp, sizeof kp), **d_vp = dev_copy(vp, sizeof vp);
    uint32_t *d_pos = dev_copy(pos, sizeof pos), *d_off = dev_copy(off, sizeof off);
    CU(cuda_kv_store(d_k, d_v, d_kp, d_vp, d_off, d_pos, N_TOK, ROW, BT, f16, 0));
    host_copy(gk, d_kpool, pool_bytes);
    host_copy(gv, d_vpool, pool_bytes);

    memset(kpool, 0x5a, pool_bytes);
    memset(vpool, 0xa5, pool_bytes);
    for (uint32_t t = 0; t < N_TOK; t++) {
        size_t at = perm[off[t] + pos[t] / BT] * blk_bytes + (size_t)(pos[t] % BT) * ROW * esz;
        for (uint32_t i = 0; i < ROW; i++) {
            if (f16) {
                uint16_t hk = kern_f32_to_f16(k[t * ROW + i]), hv = kern_f32_to_f16(v[t * ROW + i]);
                memcpy(kpool + at + 2 * i, &hk, 2);
                memcpy(vpool + at + 2 * i, &hv, 2);
            } else {
                memcpy(kpool + at + 4 * i, &k[t * ROW + i], 4);
                memcpy(vpool + at + 4 * i, &v[t * ROW + i], 4);
            }
        }
    }
    assert_memory_equal(gk, kpool, pool_bytes);
    assert_memory_equal(gv, vpool, pool_bytes);
    cudaFree(d_off);
    cudaFree(d_pos);
    cudaFree(d_vp);
    cudaFree(d_kp);
    cudaFree(d_v);
    cudaFree(d_k);
    cudaFree(d_vpool);
    cudaFree(d_kpool);
    free(gv);
    free(gk);
    free(vpool);
    free(kpool);
    free(v);
    free(k);
}

static void test_kv_store(void **state)
{
    (void)state;
    store_case(false);
    store_case(true);
}

int main(void)
{
    gpu_require_device();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dequant_bit_exact),
        cmocka_unit_test(test_f32_to_f16_bit_exact),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_kv_store),
        cmocka_unit_test(test_paged_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
