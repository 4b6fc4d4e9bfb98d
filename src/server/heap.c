/* heap.h over glibc's mallinfo2 and malloc_trim. */
#include "server/heap.h"

#include <malloc.h>

heap_usage heap_usage_now(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (heap_usage){.in_use = mi.uordblks + mi.hblkhd, .free = mi.fordblks};
}

size_t heap_trim(size_t threshold)
{
    heap_usage u = heap_usage_now();
    if (u.free <= threshold)
        return 0;
    malloc_trim(0);
    return u.free;
}
