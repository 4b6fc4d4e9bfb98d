#include "cli/cli_malloc.h"

#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void cli_limit_malloc_arenas(void)
{
#if defined(__GLIBC__)
    if (!getenv("MALLOC_ARENA_MAX"))
        (void)mallopt(M_ARENA_MAX, 2); /* a refusal leaves glibc's default: nothing to do */
#endif
}
