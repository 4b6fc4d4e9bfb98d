/* The multi-turn chat replay of the TTFT benchmark: one thread per client, each blocking on
 * its own requests, as concurrent HTTP clients would. */
#include "tools/bench/ttft_chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model.h"
#include "tools/bench/bench_util.h"

enum { SYSTEM_TOKENS = 512, USER_TOKENS = 64, REPLY_TOKENS = 16 };

typedef struct client {
    engine *e;
    uint32_t id, turns, vocab;
    double *ttft;      /* turns entries */
    uint64_t generated, prompt, computed; /* prompt: submitted; computed: of them not cached */
    int failed;
} client;

static int32_t tok(uint64_t seed, uint32_t i, uint32_t vocab)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + i + 1;
    x ^= x >> 31, x *= 0xbf58476d1ce4e5b9ull, x ^= x >> 29;
    return 3 + (int32_t)(x % (vocab - 3));
}

static void *client_main(void *arg)
{
    client *c = arg;
    size_t cap = SYSTEM_TOKENS + (size_t)c->turns * (USER_TOKENS + REPLY_TOKENS), n = 0;
    int32_t *h = malloc(cap * sizeof *h);
    if (!h) {
        c->failed = 1;
        return NULL;
    }
    h[n++] = 1;
    for (uint32_t i = 1; i < SYSTEM_TOKENS; i++) /* the same for every client */
        h[n++] = tok(0, i, c->vocab);
    for (uint32_t t = 0; t < c->turns && !c->failed; t++) {
        for (uint32_t i = 0; i < USER_TOKENS; i++)
            h[n++] = tok(1 + c->id * 1000 + t, i, c->vocab);
        ttft_sample s;
        if (ttft_run(c->e, h, n, REPLY_TOKENS, &s)) {
            c->failed = 1;
        } else {
            c->ttft[t] = s.ttft_s;
            c->generated += s.n_tokens;
            c->prompt += n;
            c->computed += n - s.cached;
            memcpy(h + n, s.tokens, s.n_tokens * sizeof *h);
            n += s.n_tokens;
        }
        free(s.tokens);
    }
    free(h);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct chat_result {
    double tokens_per_s, p50, p99;
    uint64_t prompt, computed; /* prompt tokens submitted; of them computed */
} chat_result;

static int run(engine *e, uint32_t clients, uint32_t turns, chat_result *out)
{
    client *cs = calloc(clients, sizeof *cs);
    pthread_t *th = calloc(clients, sizeof *th);
    double *all = calloc((size_t)clients * turns, sizeof *all);
    int rc = -1;
    if (!cs || !th || !all)
        goto out;
    double t0 = bench_now_s();
    uint32_t started = 0;
    for (; started < clients; started++) {
        cs[started] = (client){e, started, turns, engine_model(e)->hp.n_vocab,
                               all + (size_t)started * turns, 0, 0, 0, 0};
        if (pthread_create(&th[started], NULL, client_main, &cs[started]))
            break;
    }
    uint64_t generated = 0, prompt = 0, computed = 0;
    int failed = started < clients;
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        generated += cs[i].generated;
        prompt += cs[i].prompt;
        computed += cs[i].computed;
        failed |= cs[i].failed;
    }
    double wall = bench_now_s() - t0;
    if (failed)
        goto out;
    size_t n = (size_t)clients * turns;
    qsort(all, n, sizeof *all, cmp_double);
    out->tokens_per_s = generated / wall;
    out->p50 = all[n / 2];
    out->p99 = all[(size_t)((n - 1) * 0.99)];
    out->computed = computed;
    out->prompt = prompt;
    rc = 0;
out:
    free(cs);
    free(th);
    free(all);
    return rc;
}

int ttft_chat_bench(const ttft_setup *base, uint32_t clients, uint32_t turns, bool json)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/chat", base->dir);
    mkdir(dir, 0755);
    ttft_setup s = *base;
    s.max_len = SYSTEM_TOKENS + turns * (USER_TOKENS + REPLY_TOKENS) + 8;
    chat_result r[2];
    for (int on = 0; on < 2; on++) {
        s.apc = on;
        s.dir = on ? dir : NULL;
        s.mem_tier = true;
        engine *e;
        if (ttft_engine_open(&s, &e))
            return 2;
        int rc = run(e, clients, turns, &r[on]);
        engine_destroy(e);
        if (rc) {
            fprintf(stderr, "kvspill bench ttft: a chat request failed\n");
            return 1;
        }
    }
    if (json)
        printf("{\"clients\":%u,\"turns\":%u,\"off\":{\"tokens_per_s\":%.2f,\"ttft_p50_s\":%.6f,"
               "\"ttft_p99_s\":%.6f},\"on\":{\"tokens_per_s\":%.2f,\"ttft_p50_s\":%.6f,"
               "\"ttft_p99_s\":%.6f,\"prompt_tokens\":%llu,\"computed_tokens\":%llu},"
               "\"throughput_ratio\":%.3f}\n",
               clients, turns, r[0].tokens_per_s, r[0].p50, r[0].p99, r[1].tokens_per_s,
               r[1].p50, r[1].p99, (unsigned long long)r[1].prompt,
               (unsigned long long)r[1].computed, r[1].tokens_per_s / r[0].tokens_per_s);
    else
        printf("%u clients x %u turns (system %d, user %d, reply %d tokens)\n"
               "cache off: %.1f generated tok/s, TTFT p50 %.1f ms, p99 %.1f ms\n"
               "cache on:  %.1f generated tok/s, TTFT p50 %.1f ms, p99 %.1f ms; "
               "computed %llu of %llu prompt tokens\n"
               "on/off throughput: %.2fx\n",
               clients, turns, SYSTEM_TOKENS, USER_TOKENS, REPLY_TOKENS, r[0].tokens_per_s,
               r[0].p50 * 1e3, r[0].p99 * 1e3, r[1].tokens_per_s, r[1].p50 * 1e3,
               r[1].p99 * 1e3, (unsigned long long)r[1].computed,
               (unsigned long long)r[1].prompt, r[1].tokens_per_s / r[0].tokens_per_s);
    return 0;
}
