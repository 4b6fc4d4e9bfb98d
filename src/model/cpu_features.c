/* Run-time choice of the kernel set: the best one this CPU runs, unless the environment
 * (KVSPILL_KERNELS) or the caller asks for another. */
#include "model/kernels.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
/* CPUID rather than __builtin_cpu_supports("f16c"), which clang (14) does not know. */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

static int cpu_has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
#else
    return 0;
#endif
}

static int cpu_has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

static const struct {
    const char *name;
    kern_kind kind;
} kinds[] = {{"auto", KERN_AUTO}, {"scalar", KERN_SCALAR}, {"avx2", KERN_AVX2},
             {"avx512", KERN_AVX512}};

int kern_kind_parse(const char *s, kern_kind *out)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(s, kinds[i].name)) {
            *out = kinds[i].kind;
            return 0;
        }
    return -1;
}

const char *kern_kind_name(kern_kind kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return kinds[i].name;
    return "?";
}

const kern_set *kern_get(kern_kind kind)
{
    switch (kind) {
    case KERN_AUTO: {
        const char *env = getenv("KVSPILL_KERNELS");
        kern_kind forced;
        if (env && *env && kern_kind_parse(env, &forced) == 0 && forced != KERN_AUTO)
            return kern_get(forced);
        return cpu_has_avx512() ? &kern_avx512_set
               : cpu_has_avx2() ? &kern_avx2_set
                                : &kern_scalar_set;
    }
    case KERN_SCALAR: return &kern_scalar_set;
    case KERN_AVX2: return cpu_has_avx2() ? &kern_avx2_set : NULL;
    case KERN_AVX512: return cpu_has_avx512() ? &kern_avx512_set : NULL;
    }
    return NULL;
}
