/* Token sampling. The generator is xoshiro256** seeded through splitmix64, so a seed gives
 * the same tokens on every machine. */
#include "model/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    int32_t id;
    float logit;
    float p;
} cand;

struct sampler {
    sampler_config cfg;
    uint32_t n_vocab;
    sampler_bias *bias;
    int32_t *stop;
    int32_t *history;
    size_t n_hist, cap_hist;
    uint32_t *counts; /* scratch for the penalties, all zero between calls */
    cand *cands;
    uint64_t rng[4];
};

sampler_config sampler_config_default(void)
{
    return (sampler_config){.temperature = 0.0f, .top_p = 1.0f, .repetition_penalty = 1.0f};
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t *s)
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1). */
static double next_unit(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1p-53; }

int sampler_create(const sampler_config *cfg, uint32_t n_vocab, sampler **out,
                   model_error *err)
{
    *out = NULL;
    if (n_vocab == 0)
        return model_fail(err, "sampler: empty vocabulary");
    if (cfg->top_k < 0 || !(cfg->top_p > 0.0f) || cfg->min_p < 0.0f || cfg->min_p > 1.0f ||
        !(cfg->repetition_penalty > 0.0f))
        return model_fail(err, "sampler: top_k %d, top_p %g, min_p %g or repetition_penalty %g "
                               "out of range",
                          cfg->top_k, (double)cfg->top_p, (double)cfg->min_p,
                          (double)cfg->repetition_penalty);
    for (size_t i = 0; i < cfg->n_bias; i++)
        if (cfg->bias[i].token < 0 || (uint32_t)cfg->bias[i].token >= n_vocab)
            return model_fail(err, "sampler: logit bias for token %d outside the vocabulary (%u)",
                              cfg->bias[i].token, n_vocab);
    sampler *s = calloc(1, sizeof *s);
    if (!s)
        return model_fail(err, "sampler: out of memory");
    s->cfg = *cfg;
    s->n_vocab = n_vocab;
    s->bias = malloc((cfg->n_bias + 1) * sizeof *s->bias);
    s->stop = malloc((cfg->n_stop + 1) * sizeof *s->stop);
    s->counts = calloc(n_vocab, sizeof *s->counts);
    s->cands = malloc(n_vocab * sizeof *s->cands);
    if (!s->bias || !s->stop || !s->counts || !s->cands) {
        sampler_destroy(s);
        return model_fail(err, "sampler: out of memory");
    }
    if (cfg->n_bias)
        memcpy(s->bias, cfg->bias, cfg->n_bias * sizeof *s->bias);
    if (cfg->n_stop)
        memcpy(s->stop, cfg->stop_tokens, cfg->n_stop * sizeof *s->stop);
    s->cfg.bias = s->bias;
    s->cfg.stop_tokens = s->stop;
    uint64_t seed = cfg->seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&seed);
    *out = s;
    return 0;
}

void sampler_destroy(sampler *s)
{
    if (!s)
        return;
    free(s->bias);
    free(s->stop);
    free(s->history);
    free(s->counts);
    free(s->cands);
    free(s);
}

void sampler_accept(sampler *s, int32_t token)
{
    if (s->n_hist == s->cap_hist) {
        size_t cap = s->cap_hist ? 2 * s->cap_hist : 256;
        int32_t *h = realloc(s->history, cap * sizeof *h);
        if (!h)
            return; /* penalties then see a shorter history; sampling still works */
        s->history = h;
        s->cap_hist = cap;
    }
    s->history[s->n_hist++] = token;
}

static void apply_penalties(sampler *s, float *logits)
{
    const sampler_config *c = &s->cfg;
    if (c->repetition_penalty == 1.0f && c->presence_penalty == 0.0f &&
        c->frequency_penalty == 0.0f)
        return;
    size_t from = c->penalty_last_n && s->n_hist > c->penalty_last_n
                      ? s->n_hist - c->penalty_last_n : 0;
    for (size_t i = from; i < s->n_hist; i++)
        if (s->history[i] >= 0 && (uint32_t)s->history[i] < s->n_vocab)
            s->counts[s->history[i]]++;
    for (size_t i = from; i < s->n_hist; i++) {
        int32_t t = s->history[i];
        if (t < 0 || (uint32_t)t >= s->n_vocab || s->counts[t] == 0)
            continue;
        float l = logits[t];
        l = l > 0.0f ? l / c->repetition_penalty : l * c->repetition_penalty;
        l -= (float)s->counts[t] * c->frequency_penalty + c->presence_penalty;
        logits[t] = l;
        s->counts[t] = 0; /* once per distinct token; leaves the scratch zeroed */
    }
}

static int by_logit_desc(const void *a, const void *b)
{
    float x = ((const cand *)a)->logit, y = ((const cand *)b)->logit;
    if (x != y)
        return x > y ? -1 : 1;
    return ((const cand *)a)->id - ((const cand *)b)->id;
}

/* Probabilities of the first n candidates (sorted) at temperature t. */
static void softmax_cands(cand *c, size_t n, float t)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - c[0].logit) / t);
        sum += c[i].p;
    }
    for (size_t i = 0; i < n; i++)
        c[i].p = (float)(c[i].p / sum);
}

int32_t sampler_sample(sampler *s, float *logits)
{
    const sampler_config *c = &s->cfg;
    for (size_t i = 0; i < c->n_bias; i++)
        logits[c->bias[i].token] += c->bias[i].bias;
    apply_penalties(s, logits);
    if (c->temperature <= 0.0f) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < s->n_vocab; i++)
            if (logits[i] > logits[best])
                best = i;
        return (int32_t)best;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < s->n_vocab; i++)
        if (logits[i] > -INFINITY)
            s->cands[n++] = (cand){(int32_t)i, logits[i], 0.0f};
    if (n == 0)
        return 0; /* every token banned: nothing sensible to draw */
    qsort(s->cands, n, sizeof *s->cands, by_logit_desc);
    if (c->top_k > 0 && (size_t)c->top_k < n)
        n = (size_t)c->top_k;
    softmax_cands(s->cands, n, 1.0f);
    if (c->top_p < 1.0f) {
        double cum = 0.0;
        size_t keep = n;
        for (size_t i = 0; i < n; i++) {
            cum += s->cands[i].p;
            if (cum >= c->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (c->min_p > 0.0f) {
        float floor_p = c->min_p * s->cands[0].p;
        size_t keep = 1;
        while (keep < n && s->cands[keep].p >= floor_p)
            keep++;
        n = keep;
    }
    softmax_cands(s->cands, n, c->temperature);
    double u = next_unit(s->rng), cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += s->cands[i].p;
        if (u < cum)
            return s->cands[i].id;
    }
    return s->cands[n - 1].id;
}

int sampler_should_stop(const sampler *s, int32_t token, uint32_t n_generated)
{
    for (size_t i = 0; i < s->cfg.n_stop; i++)
        if (s->cfg.stop_tokens[i] == token)
            return 1;
    return s->cfg.max_tokens && n_generated >= s->cfg.max_tokens;
}
