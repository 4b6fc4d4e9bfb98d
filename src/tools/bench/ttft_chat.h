/* `kvspill bench ttft --concurrency N --turns T`: N clients replay a multi-turn chat at
 * once, sharing a system prompt; each turn resends the whole conversation. */
#ifndef KVSPILL_TOOLS_BENCH_TTFT_CHAT_H
#define KVSPILL_TOOLS_BENCH_TTFT_CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include "tools/bench/ttft_engine.h"

/* Runs cache off (no prefix caching, no offload) then on (prefix caching and the mem and
 * file tiers under base->dir/chat) and prints generated tokens/s and TTFT p50/p99. */
int ttft_chat_bench(const ttft_setup *base, uint32_t clients, uint32_t turns, bool json);

#endif
