/* A small fixed pool of worker threads for data-parallel loops: tp_run hands out task
 * indices [0, n_tasks) to the workers and the calling thread, and returns when all ran. */
#ifndef KVSPILL_MODEL_THREADPOOL_H
#define KVSPILL_MODEL_THREADPOOL_H

#include "model/model_error.h"

typedef struct threadpool threadpool;
/* thread is the runner's index in [0, tp_threads): for per-thread scratch space. */
typedef void (*tp_task_fn)(void *ctx, int task, int thread);

/* n_threads counts the caller: 1 runs everything on the caller. */
int tp_create(int n_threads, threadpool **out, model_error *err) MODEL_MUST_CHECK;
void tp_destroy(threadpool *tp);
int tp_threads(const threadpool *tp);
void tp_run(threadpool *tp, int n_tasks, tp_task_fn fn, void *ctx);

#endif
