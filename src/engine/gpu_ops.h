/* The GPU services a CUDA backend lends the KV offload library (kvspill.h's kvs_gpu_ops):
 * pinned host memory, device staging memory, copies and the device checksum that verifies
 * payloads read with GPUDirect Storage. */
#ifndef KVSPILL_ENGINE_GPU_OPS_H
#define KVSPILL_ENGINE_GPU_OPS_H

#include "kvspill.h"
#include "model/backend.h"
#include "engine/engine_error.h"

/* The operations for backend b's device; NULL for a CPU backend (and in a build without
 * CUDA), in which case the cache keeps everything in ordinary host memory. Valid as long
 * as b. */
const kvs_gpu_ops *engine_gpu_ops(backend *b);

/* The operations for CUDA device `device` without a backend (tools that move bytes between
 * storage and the GPU but run no model: `kvspill bench gds`); NULL with a message when the
 * build has no CUDA or the device cannot be used. */
const kvs_gpu_ops *engine_gpu_ops_device(int device, engine_error *err);

#endif
