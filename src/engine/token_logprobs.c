/* One pass over the vocabulary keeps the k best in a small sorted array: k <= 20, and
 * after the first few hundred tokens almost none displace the k-th. */
#include "engine/token_logprobs.h"

#include <math.h>

double logprobs_normalizer(const float *row, uint32_t n_vocab)
{
    float mx = row[0];
    for (uint32_t i = 1; i < n_vocab; i++)
        mx = row[i] > mx ? row[i] : mx;
    double sum = 0;
    for (uint32_t i = 0; i < n_vocab; i++)
        sum += exp((double)(row[i] - mx));
    return (double)mx + log(sum);
}

uint32_t logprobs_top(const float *row, uint32_t n_vocab, double normalizer, uint32_t k,
                      engine_alt *out)
{
    if (k > ENGINE_MAX_TOP_LOGPROBS)
        k = ENGINE_MAX_TOP_LOGPROBS;
    if (k > n_vocab)
        k = n_vocab;
    uint32_t n = 0;
    for (uint32_t t = 0; t < n_vocab && k > 0; t++) {
        float v = row[t];
        if (n == k && v <= row[out[n - 1].token])
            continue;
        uint32_t at = n < k ? n++ : n - 1;
        while (at > 0 && row[out[at - 1].token] < v) {
            out[at] = out[at - 1];
            at--;
        }
        out[at].token = (int32_t)t;
    }
    for (uint32_t i = 0; i < n; i++)
        out[i].logprob = (float)((double)row[out[i].token] - normalizer);
    return n;
}
