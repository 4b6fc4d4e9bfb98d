// Runs one kernel launch block by block (tests/gpu/emu/run.sh): the threads of a block are
// coroutines (started with makecontext, switched with _setjmp/_longjmp, which make no system
// call) that run until a barrier: __syncthreads waits for every thread of the block that has
// not returned, __syncwarp and each shuffle for every such thread of the warp; threads at
// barriers of different kinds that can never meet are reported as a deadlock. Launches
// outside the device's limits (grid.y or .z above 65535, more than 1024 threads) abort.
// __shared__ arrays are statics here: zero at the first block, then what the last block left.
// Launches from several host threads run one after the other.
#include "emu_kernel.h"
#include <cstdio>
#include <cstdlib>
#include <csetjmp>
#include <mutex>
#include <ucontext.h>
#include <vector>

emu_thread_ctx *emu_cur;
uint3 emu_block_idx;
dim3 emu_block_dim, emu_grid_dim;

namespace
{
enum st { RUN, BLOCK_BAR, WARP_BAR, DONE };
struct th {
    emu_thread_ctx ctx;
    ucontext_t uc;
    st state;
    char *stack;
    bool started;
    jmp_buf jb;
};
jmp_buf sched_jb;
ucontext_t sched_uc;
std::vector<th> threads;
const std::function<void()> *cur_body;
uint64_t slots[32][2][32];
th *cur_th;
const size_t STACK = 512 * 1024;

/* A coroutine runs the kernel body once per block it is given: after the body it parks
 * here, and the scheduler resumes it for the next block. */
void entry(void)
{
    for (;;) {
        (*cur_body)();
        cur_th->state = DONE;
        if (!_setjmp(cur_th->jb))
            _longjmp(sched_jb, 1);
    }
}

void wait_as(st s)
{
    cur_th->state = s;
    if (!_setjmp(cur_th->jb))
        _longjmp(sched_jb, 1);
}
} // namespace

void emu_block_barrier(void)
{
    wait_as(BLOCK_BAR);
}
void emu_warp_barrier(void)
{
    wait_as(WARP_BAR);
}
uint64_t *emu_warp_slots(unsigned phase)
{
    return slots[threadIdx.x / 32][phase];
}

void emu_launch(dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                const std::function<void()> &body)
{
    (void)s;
    /* One launch at a time: I/O threads hash device memory while the engine's thread runs
     * the forward pass, and the coroutines and the kernels' __shared__ statics are global. */
    static std::mutex one_at_a_time;
    std::lock_guard<std::mutex> hold(one_at_a_time);
    unsigned nth = block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || nth == 0 || grid.x > 2147483647u ||
        grid.y > 65535 || grid.z > 65535 || nth > 1024 || block.y != 1 || block.z != 1 ||
        smem > 0) {
        fprintf(stderr, "emu: bad launch grid (%u,%u,%u) block (%u,%u,%u) smem %zu\n", grid.x,
                grid.y, grid.z, block.x, block.y, block.z, smem);
        abort();
    }
    emu_grid_dim = grid;
    emu_block_dim = block;
    cur_body = &body;
    if (threads.size() < nth) {
        size_t old = threads.size();
        threads.reserve(1024); /* never moved: parked coroutines point into their slot */
        threads.resize(nth);
        for (size_t i = old; i < nth; i++) {
            th &T = threads[i];
            T.stack = (char *)malloc(STACK);
            T.started = false;
            getcontext(&T.uc);
            T.uc.uc_stack.ss_sp = T.stack;
            T.uc.uc_stack.ss_size = STACK;
            T.uc.uc_link = &sched_uc;
            makecontext(&T.uc, entry, 0);
        }
    }
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                emu_block_idx = make_uint3(bx, by, bz);
                for (unsigned t = 0; t < nth; t++) {
                    th &T = threads[t];
                    T.ctx.tid = make_uint3(t, 0, 0);
                    T.ctx.shfl_phase = 0;
                    T.state = RUN;
                }
                for (;;) {
                    bool ran = false;
                    for (unsigned t = 0; t < nth; t++)
                        if (threads[t].state == RUN) {
                            cur_th = &threads[t];
                            emu_cur = &cur_th->ctx;
                            if (!_setjmp(sched_jb)) {
                                if (!cur_th->started) {
                                    cur_th->started = true;
                                    swapcontext(&sched_uc, &cur_th->uc);
                                } else
                                    _longjmp(cur_th->jb, 1);
                            }
                            ran = true;
                        }
                    if (ran)
                        continue;
                    bool all_done = true, released = false;
                    for (unsigned w = 0; w * 32 < nth; w++) {
                        unsigned end = (w + 1) * 32 < nth ? (w + 1) * 32 : nth;
                        bool any = false, all_warp = true;
                        for (unsigned t = w * 32; t < end; t++) {
                            if (threads[t].state == DONE)
                                continue;
                            any = true;
                            all_warp &= threads[t].state == WARP_BAR;
                        }
                        if (any && all_warp) {
                            for (unsigned t = w * 32; t < end; t++)
                                if (threads[t].state == WARP_BAR)
                                    threads[t].state = RUN, released = true;
                        }
                    }
                    if (released)
                        continue;
                    bool all_block = true, any = false;
                    for (unsigned t = 0; t < nth; t++) {
                        if (threads[t].state == DONE)
                            continue;
                        all_done = false;
                        any = true;
                        all_block &= threads[t].state == BLOCK_BAR;
                    }
                    if (all_done)
                        break;
                    if (any && all_block) {
                        for (unsigned t = 0; t < nth; t++)
                            if (threads[t].state == BLOCK_BAR)
                                threads[t].state = RUN;
                        continue;
                    }
                    fprintf(stderr, "emu: deadlock in block (%u,%u,%u): mixed barriers\n", bx, by,
                            bz);
                    abort();
                }
            }
}
