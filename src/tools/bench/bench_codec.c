/* kvspill bench codec: what an offload KV codec (kv_codec int8, fp8) costs in accuracy and
 * what it saves in bytes, against kv_codec none in the same run. For each prompt length,
 * a prompt of seeded random tokens is prefilled into cache A; its KV for all but the last
 * prompt token goes through the codec into chunk payloads and back into cache B, by the
 * backend's own transfers, as a load from a tier does; then --gen steps are evaluated on
 * both caches with the same tokens (A's greedy choices): the relative L2 distance of B's
 * logits from A's (worst and mean over the steps) and how often their greedy choice
 * agrees. `none` is the check of the method: 0 and 100%. Also the codec's payload bytes
 * per token against none's, and its encode and decode GB/s (of the cache's bytes, one
 * thread, median of 5). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvspill.h"
#include "model/kv_codec.h"
#include "tools/bench/bench.h"
#include "tools/model_runner.h"
#include "tools/bench/bench_util.h"

enum { CHUNK = 256, MAX_LENGTHS = 8, PREFILL_BATCH = 512, CODEC_REPS = 5 };

static const kv_codec codecs[] = {KV_CODEC_NONE, KV_CODEC_INT8, KV_CODEC_FP8};
static const kvs_dtype codec_dtype[] = {KVS_DTYPE_F16, KVS_DTYPE_INT8, KVS_DTYPE_FP8_E4M3};

static void usage(FILE *f, const char *cmd)
{
    fprintf(f, "usage: kvspill %s --model FILE [--lengths 512,2048] [--gen N (16)]\n"
               "         [--device auto|cpu|cuda] [--kv f16|f32] [--threads N] [--seed S]\n",
            cmd);
}

/* Evaluates n tokens at positions [p0, p0 + n) of kv; logits of the last one when wanted. */
static int eval_run(model_runner *e, kv_cache *kv, const int32_t *tokens, uint32_t p0, uint32_t n,
                    float *logits, model_error *err)
{
    uint32_t pos[PREFILL_BATCH], seq[PREFILL_BATCH] = {0}, last = n - 1;
    for (uint32_t i = 0; i < n; i++)
        pos[i] = p0 + i;
    fwd_batch b = {n, tokens, pos, seq, logits ? 1 : 0, &last};
    kv_cache *keep = e->kv;
    e->kv = kv;
    int rc = model_runner_eval(e, &b, logits, err);
    e->kv = keep;
    return rc;
}

/* Positions [0, n) of a's KV through codec c into b, a chunk payload at a time. */
static int through_codec(model_runner *e, kv_cache *a, kv_cache *b, kv_codec c, uint32_t n,
                         model_error *err)
{
    size_t row = kv_codec_row_bytes(c, a->dtype, a->n_kv_heads, a->head_dim);
    size_t stride = (CHUNK * row + 4095) / 4096 * 4096;
    uint8_t *payload = malloc(2 * (size_t)a->n_layer * stride);
    if (!payload) {
        snprintf(err->msg, sizeof err->msg, "out of memory for a payload");
        return -1;
    }
    int rc = 0;
    for (uint32_t s = 0; !rc && s < n; s += CHUNK) {
        uint32_t end = s + CHUNK < n ? s + CHUNK : n;
        kv_xfer out = {a->ops->block_table(a, 0), s, s, end, payload, stride, false, false, c};
        kv_xfer in = {b->ops->block_table(b, 0), s, s, end, payload, stride, false, true, c};
        uint64_t fence;
        rc = e->be->ops->kv_transfer(e->be, a, &out, 1, &fence, err) ||
             e->be->ops->wait(e->be, fence, err) ||
             e->be->ops->kv_transfer(e->be, b, &in, 1, &fence, err) ||
             e->be->ops->wait(e->be, fence, err);
    }
    free(payload);
    return rc ? -1 : 0;
}

static uint32_t argmax(const float *x, size_t n)
{
    uint32_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = (uint32_t)i;
    return best;
}

static double rel_l2(const float *a, const float *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += (double)(a[i] - b[i]) * (a[i] - b[i]);
        s += (double)a[i] * a[i];
    }
    return s > 0 ? sqrt(d / s) : 0;
}

/* Median GB/s (of f16 cache bytes) of encoding and decoding 8192 rows of random values. */
static void codec_speed(kv_codec c, uint32_t heads, uint32_t dim, double *enc, double *dec)
{
    size_t rows = 8192, n = rows * heads * dim;
    uint16_t *src = malloc(n * 2), *back = malloc(n * 2);
    uint8_t *q = malloc(rows * kv_codec_row_bytes(c, KV_F16, heads, dim));
    *enc = *dec = 0;
    if (!src || !back || !q)
        goto out;
    srand(1);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint16_t)(0x3000 + rand() % 0x1000) | (uint16_t)(rand() & 1 ? 0x8000 : 0);
    double te[CODEC_REPS], td[CODEC_REPS];
    for (int r = 0; r < CODEC_REPS; r++) {
        double t0 = bench_now_s();
        kv_codec_encode(c, KV_F16, src, q, rows, heads, dim);
        double t1 = bench_now_s();
        kv_codec_decode(c, KV_F16, q, back, rows, heads, dim);
        double t2 = bench_now_s();
        te[r] = (double)n * 2 / (t1 - t0) / 1e9;
        td[r] = (double)n * 2 / (t2 - t1) / 1e9;
    }
    *enc = bench_median(te, CODEC_REPS);
    *dec = bench_median(td, CODEC_REPS);
out:
    free(src);
    free(back);
    free(q);
}

/* One prompt length: every codec's figures, printed. */
static int measure(const char *cmd, model_runner *e, kv_cache *b, uint32_t len, uint32_t gen,
                   unsigned seed)
{
    size_t vocab = e->m->hp.n_vocab;
    int32_t *tokens = malloc((len + gen) * sizeof *tokens);
    float *la = malloc(vocab * sizeof *la), *lb = malloc(vocab * sizeof *lb);
    model_error err = {{0}};
    int rc = -1;
    if (!tokens || !la || !lb) {
        fprintf(stderr, "kvspill %s: out of memory\n", cmd);
        goto out;
    }
    srand(seed + len);
    for (uint32_t i = 0; i < len; i++)
        tokens[i] = 3 + rand() % (int)(vocab - 3);
    for (uint32_t s = 0; s + 1 < len; s += PREFILL_BATCH) {
        uint32_t n = len - 1 - s < PREFILL_BATCH ? len - 1 - s : PREFILL_BATCH;
        if (eval_run(e, e->kv, tokens + s, s, n, NULL, &err))
            goto fail;
    }
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        if (through_codec(e, e->kv, b, codecs[k], len - 1, &err))
            goto fail;
        double worst = 0, sum = 0;
        uint32_t agree = 0;
        int32_t tok = tokens[len - 1];
        for (uint32_t g = 0; g < gen; g++) {
            if (eval_run(e, e->kv, &tok, len - 1 + g, 1, la, &err) ||
                eval_run(e, b, &tok, len - 1 + g, 1, lb, &err))
                goto fail;
            double d = rel_l2(la, lb, vocab);
            worst = d > worst ? d : worst;
            sum += d;
            uint32_t ta = argmax(la, vocab);
            agree += ta == argmax(lb, vocab);
            tok = (int32_t)ta;
        }
        printf("codec %-4s tokens %6u: logits rel L2 worst %.2e mean %.2e, greedy agreement "
               "%u/%u\n", kv_codec_name(codecs[k]), len, worst, sum / gen, agree, gen);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
out:
    free(tokens);
    free(la);
    free(lb);
    return rc;
}

int bench_codec(int argc, char **argv)
{
    const char *cmd = argv[0], *lengths = "512,2048";
    model_runner_opts o = {.device = "cpu"};
    uint32_t gen = 16;
    unsigned seed = 1;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"lengths", required_argument, 0, 'l'},
        {"gen", required_argument, 0, 'g'},     {"device", required_argument, 0, 'D'},
        {"kv", required_argument, 0, 'k'},      {"threads", required_argument, 0, 'j'},
        {"seed", required_argument, 0, 's'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model_path = optarg; break;
        case 'l': lengths = optarg; break;
        case 'g': gen = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'D': o.device = optarg; break;
        case 'k': o.kv = optarg; break;
        case 'j': o.threads = atoi(optarg); break;
        case 's': seed = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    uint32_t lens[MAX_LENGTHS];
    int n_lens;
    if (!o.model_path || optind != argc || gen == 0 ||
        bench_parse_lengths(lengths, 2, 1u << 20, lens, MAX_LENGTHS, &n_lens)) {
        usage(stderr, cmd);
        return 2;
    }
    uint32_t max_len = 0;
    for (int i = 0; i < n_lens; i++)
        max_len = lens[i] > max_len ? lens[i] : max_len;
    o.max_pos = max_len + gen;
    model_runner e;
    if (model_runner_open(cmd, &o, &e) != 0)
        return 2;
    const model_hparams *hp = &e.m->hp;
    kv_cache *b = NULL;
    model_error err = {{0}};
    int status = 1;
    if (e.be->kind != BACKEND_CPU) {
        fprintf(stderr, "kvspill %s: the codecs run on the CPU backend only (--device cpu)\n", cmd);
        goto close;
    }
    if (kv_contiguous_create(e.be, hp->n_layer, hp->n_head_kv, hp->head_dim, 1, o.max_pos,
                             e.kv->dtype, &b, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        goto close;
    }
    printf("model %s: %u layers, %u kv heads x %u, kv %s\n", o.model_path, hp->n_layer,
           hp->n_head_kv, hp->head_dim, e.kv->dtype == KV_F32 ? "f32" : "f16");
    for (size_t k = 0; k < sizeof codecs / sizeof codecs[0]; k++) {
        kvs_layout l = {hp->n_layer, hp->n_head_kv, hp->head_dim, codec_dtype[k]};
        kvs_layout none = {hp->n_layer, hp->n_head_kv, hp->head_dim, KVS_DTYPE_F16};
        double enc, dec;
        codec_speed(codecs[k], hp->n_head_kv, hp->head_dim, &enc, &dec);
        printf("codec %-4s payload %zu bytes per %u-token chunk (%.3f of f16's), encode %.2f "
               "GB/s, decode %.2f GB/s\n", kv_codec_name(codecs[k]), kvs_payload_bytes(&l, CHUNK),
               CHUNK, (double)kvs_payload_bytes(&l, CHUNK) / (double)kvs_payload_bytes(&none, CHUNK),
               enc, dec);
    }
    status = 0;
    for (int i = 0; i < n_lens && !status; i++)
        status = measure(cmd, &e, b, lens[i], gen, seed) ? 1 : 0;
close:
    kv_cache_destroy(b);
    model_runner_close(&e);
    return status;
}
