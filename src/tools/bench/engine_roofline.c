/* bench engine's baselines (engine_roofline.h). Each baseline runs on `threads` threads at
 * once and keeps the best of ROUNDS, as the figures it judges are one run on an otherwise
 * busy or idle machine. */
#include "tools/bench/engine_roofline.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tools/bench/bench_util.h"

#define ROUNDS 5
#define MAX_THREADS 64
/* A peak run lasts about this long: long against thread start-up, short in a test. */
#define PEAK_SECONDS 0.02

typedef struct probe_part {
    const kern_probe *probe;
    int quantized;
    const uint8_t *p;
    size_t n;
    long rounds;       /* of the peak loop */
    double work;       /* bytes read or flops done */
    uint64_t sink;     /* keeps the result alive */
} probe_part;

static void *run_part(void *arg)
{
    probe_part *r = arg;
    if (r->p) {
        r->sink = r->probe->read(r->p, r->n);
        r->work = (double)r->n;
    } else if (r->quantized) {
        int32_t s;
        r->work = r->probe->dot_q8(r->rounds, &s);
        r->sink = (uint64_t)s;
    } else {
        float s;
        r->work = r->probe->fma_f32(r->rounds, &s);
        memcpy(&r->sink, &s, sizeof s);
    }
    return NULL;
}

/* The best rate (work per second, all threads together) of ROUNDS runs; -1 on failure.
 * With lo set, thread i reads its contiguous share of [lo, hi); else it runs the peak. */
static double best_rate(const char *cmd, const kern_probe *pr, int quantized, const uint8_t *lo,
                        const uint8_t *hi, long rounds, int threads)
{
    size_t per = lo ? (size_t)(hi - lo) / (size_t)threads : 0;
    double best = 0.0;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t th[MAX_THREADS];
        probe_part parts[MAX_THREADS];
        double t0 = bench_now_s();
        int started = 0, rc = 0;
        for (; started < threads; started++) {
            const uint8_t *p = lo ? lo + (size_t)started * per : NULL;
            size_t n = !lo ? 0 : started == threads - 1 ? (size_t)(hi - p) : per;
            parts[started] = (probe_part){pr, quantized, p, n, rounds, 0.0, 0};
            rc = pthread_create(&th[started], NULL, run_part, &parts[started]);
            if (rc != 0)
                break;
        }
        double work = 0.0;
        for (int i = 0; i < started; i++) {
            pthread_join(th[i], NULL);
            work += parts[i].work;
        }
        if (rc != 0) {
            fprintf(stderr, "kvspill %s: baseline thread: %s\n", cmd, strerror(rc));
            return -1.0;
        }
        double rate = work / (bench_now_s() - t0);
        best = rate > best ? rate : best;
    }
    return best;
}

/* Rounds of the peak loop that take about PEAK_SECONDS on one thread (the machine's speed
 * and the build's optimisation vary by orders of magnitude). */
static long peak_rounds(const kern_probe *pr, int quantized)
{
    probe_part r = {pr, quantized, NULL, 0, 1024, 0.0, 0};
    for (;;) {
        double t0 = bench_now_s();
        run_part(&r);
        double dt = bench_now_s() - t0;
        if (dt >= PEAK_SECONDS / 4 || r.rounds > (1L << 40))
            return (long)((double)r.rounds * PEAK_SECONDS / (dt > 0.0 ? dt : PEAK_SECONDS));
        r.rounds *= 2;
    }
}

static int is_output(const gguf_tensor *t) { return strcmp(t->name, "output.weight") == 0; }
static int is_embedding(const gguf_tensor *t) { return strcmp(t->name, "token_embd.weight") == 0; }

static int has_output(const gguf_file *gf)
{
    for (uint64_t i = 0; i < gguf_n_tensors(gf); i++)
        if (is_output(gguf_tensor_at(gf, i)))
            return 1;
    return 0;
}

int engine_roofline_measure(const char *cmd, const gguf_file *gf, const model *m,
                            const kern_set *ks, int threads, engine_roofline *out)
{
    const uint8_t *lo = NULL, *hi = NULL;
    int tied = !has_output(gf);
    out->decode_bytes = 0.0;
    for (uint64_t i = 0; i < gguf_n_tensors(gf); i++) {
        const gguf_tensor *t = gguf_tensor_at(gf, i);
        const uint8_t *a = t->data, *b = a + t->size;
        lo = !lo || a < lo ? a : lo;
        hi = !hi || b > hi ? b : hi;
        /* the embedding is read one row a step, unless it is also the output matrix */
        if (!is_embedding(t) || tied)
            out->decode_bytes += (double)t->size;
    }
    int quantized = kern_wtype_act(m->layers[0].wq.type) == KA_Q8;
    out->isa = ks->probe->name;
    out->peak_kind = quantized ? "dot_q8" : "fma_f32";
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    double bytes_s = best_rate(cmd, ks->probe, quantized, lo, hi, 0, threads);
    double flops_s = best_rate(cmd, ks->probe, quantized, NULL, NULL,
                               peak_rounds(ks->probe, quantized), threads);
    if (bytes_s < 0.0 || flops_s < 0.0)
        return -1;
    out->read_gbs = bytes_s / 1e9;
    out->peak_gflops = flops_s / 1e9;
    return 0;
}

double engine_prefill_flops(const gguf_file *gf, const model *m, uint32_t n_prompt,
                            uint32_t n_out)
{
    int tied = !has_output(gf);
    double per_token = 0.0, per_out = 0.0;
    for (uint64_t i = 0; i < gguf_n_tensors(gf); i++) {
        const gguf_tensor *t = gguf_tensor_at(gf, i);
        double weights = (double)t->ne[0] * (double)t->ne[1];
        if (is_output(t) || (tied && is_embedding(t)))
            per_out += 2.0 * weights;
        else if (strncmp(t->name, "blk.", 4) == 0 && t->n_dims == 2)
            per_token += 2.0 * weights;
    }
    /* token i attends to i + 1 positions: a multiply-add per head value for its score and
     * one for its weighted sum */
    double n = n_prompt;
    double attention = 4.0 * m->hp.q_dim * (n * (n + 1.0) / 2.0) * m->hp.n_layer;
    return per_token * n + per_out * n_out + attention;
}
