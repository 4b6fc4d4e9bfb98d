// XXH3-64 of device memory on the device. Inputs of up to 240 bytes and the end of a long
// input (partial last block, last stripe, merge) run on one lane with xxh3_portable.h. The
// long loop - sequential across 1 KiB blocks because each block ends with a scramble - runs
// on one warp: each lane loads 4 of a block's 128 words with coalesced loads, and since
// every word of a block is added into the accumulators, the lanes' shares are summed with
// shuffles. Lane L keeps accumulator L % 8 (all 8 x 4 copies stay identical).
#include "cache/cuda/xxh3_kernel.h"
#include "cache/cuda/xxh3_portable.h"

namespace {

__constant__ uint8_t default_secret[KVS_XXH3_SECRET_SIZE] = KVS_XXH3_SECRET_BYTES;

constexpr int WORDS_PER_LANE = KVS_XXH3_BLOCK_LEN / 8 / 32; // 4
constexpr int BLOCKS_IN_FLIGHT = 4; // loads issued ahead, for memory-level parallelism

__device__ uint64_t load_word(const uint8_t *p, bool aligned)
{
    return aligned ? *(const uint64_t *)p : kvs_xxh_read64(p);
}

__global__ void xxh3_warp_kernel(const uint8_t *in, size_t len, uint64_t *out)
{
    __shared__ uint8_t secret[KVS_XXH3_SECRET_SIZE];
    unsigned lane = threadIdx.x;
    for (unsigned i = lane; i < KVS_XXH3_SECRET_SIZE; i += 32)
        secret[i] = default_secret[i];
    __syncwarp();
    if (len <= KVS_XXH3_MIDSIZE_MAX) {
        if (lane == 0)
            *out = kvs_xxh3_short(in, len, secret);
        return;
    }

    // Word w = lane + 32k of a block is word lane % 8 of stripe w / 8: its key is secret
    // word (stripe + lane % 8).
    unsigned acc_index = lane % 8;
    uint64_t init[8];
    kvs_xxh3_init_accs(init);
    uint64_t acc = init[acc_index];
    uint64_t key[WORDS_PER_LANE];
    for (int k = 0; k < WORDS_PER_LANE; k++)
        key[k] = kvs_xxh_read64(secret + 8 * ((lane + 32 * k) / 8 + acc_index));
    uint64_t scramble_key = kvs_xxh_read64(secret + KVS_XXH3_SCRAMBLE_OFFSET + 8 * acc_index);
    bool aligned = ((uintptr_t)in & 7) == 0;

    size_t blocks = kvs_xxh3_full_blocks(len);
    for (size_t b0 = 0; b0 < blocks; b0 += BLOCKS_IN_FLIGHT) {
        uint64_t word[BLOCKS_IN_FLIGHT][WORDS_PER_LANE];
        for (int g = 0; g < BLOCKS_IN_FLIGHT; g++)
            if (b0 + g < blocks)
                for (int k = 0; k < WORDS_PER_LANE; k++)
                    word[g][k] = load_word(in + (b0 + g) * KVS_XXH3_BLOCK_LEN + 8 * (lane + 32 * k),
                                           aligned);
        for (int g = 0; g < BLOCKS_IN_FLIGHT && b0 + g < blocks; g++) {
            uint64_t products = 0, words = 0;
            for (int k = 0; k < WORDS_PER_LANE; k++) {
                products += kvs_xxh3_word_product(word[g][k], key[k]);
                words += word[g][k];
            }
            for (int w = 8; w < 32; w *= 2) { // sum over the lanes of the same accumulator
                products += __shfl_xor_sync(0xffffffffu, products, w);
                words += __shfl_xor_sync(0xffffffffu, words, w);
            }
            // Words of index i feed accumulator i ^ 1: they are the neighbour lane's.
            acc += products + __shfl_xor_sync(0xffffffffu, words, 1);
            acc = kvs_xxh3_scramble_one(acc, scramble_key);
        }
    }
    uint64_t accs[8];
    for (int i = 0; i < 8; i++)
        accs[i] = __shfl_sync(0xffffffffu, acc, i);
    if (lane == 0)
        *out = kvs_xxh3_long_finish(accs, in, len, secret);
}

} // namespace

extern "C" cudaError_t kvs_xxh3_launch(const void *in, size_t n, uint64_t *out, cudaStream_t s)
{
    xxh3_warp_kernel<<<1, 32, 0, s>>>((const uint8_t *)in, n, out);
    return cudaGetLastError();
}
