#include "engine/kv_sizing.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

int kv_sizing_from_utilization(double utilization, uint64_t free_bytes, uint64_t total_bytes,
                               uint64_t min_bytes, uint64_t *kv_bytes, engine_error *err)
{
    *kv_bytes = 0;
    if (!(utilization > 0 && utilization <= 1))
        return engine_fail(err, "--gpu-memory-utilization %g: not a fraction in (0, 1]",
                          utilization);
    if (free_bytes > total_bytes)
        return engine_fail(err, "device memory: %llu bytes free of %llu",
                          (unsigned long long)free_bytes, (unsigned long long)total_bytes);
    double share = utilization * (double)total_bytes;
    double in_use = (double)(total_bytes - free_bytes);
    if (share - in_use < (double)min_bytes)
        return engine_fail(err,
                          "--gpu-memory-utilization %g: %.1f GiB of the device's %.1f GiB is "
                          "in use (the model, buffers, other processes), which leaves %.2f GiB "
                          "of its %.1f GiB share for the KV cache, less than the %.2f GiB it "
                          "needs: raise the fraction or free the device",
                          utilization, in_use / GIB, (double)total_bytes / GIB,
                          share > in_use ? (share - in_use) / GIB : 0.0, share / GIB,
                          (double)min_bytes / GIB);
    *kv_bytes = (uint64_t)(share - in_use);
    return 0;
}
