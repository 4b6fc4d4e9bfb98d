/* Run-time choice of the kernel set: the best one this CPU runs, unless the environment
 * (KVSPILL_KERNELS) or the caller asks for another. */
#include "model/kernels.h"

#include <stdlib.h>
#include <string.h>

static int cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

int kern_kind_parse(const char *s, kern_kind *out)
{
    static const struct { const char *name; kern_kind kind; } names[] = {
        {"auto", KERN_AUTO}, {"scalar", KERN_SCALAR}, {"avx2", KERN_AVX2}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].kind;
            return 0;
        }
    return -1;
}

const kern_set *kern_get(kern_kind kind)
{
    if (kind == KERN_AUTO) {
        const char *env = getenv("KVSPILL_KERNELS");
        kern_kind forced;
        if (env && *env && kern_kind_parse(env, &forced) == 0 && forced != KERN_AUTO)
            return kern_get(forced);
        return cpu_has_avx2() ? &kern_avx2_set : &kern_scalar_set;
    }
    switch (kind) {
    case KERN_SCALAR: return &kern_scalar_set;
    case KERN_AVX2: return cpu_has_avx2() ? &kern_avx2_set : NULL;
    default: return NULL;
    }
}
