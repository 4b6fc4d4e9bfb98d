#include "engine/gpu_ops.h"

#ifndef KVSPILL_HAVE_CUDA
const kvs_gpu_ops *engine_gpu_ops(backend *b)
{
    (void)b;
    return NULL;
}
#endif
