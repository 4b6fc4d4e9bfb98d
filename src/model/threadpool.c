/* Workers claim tasks with an atomic counter, so uneven tasks balance themselves. A job is
 * published with a generation number. A decode step runs ~110 short jobs, so between jobs
 * workers (and the caller, waiting for them) first spin for a bounded while, then sleep
 * on a condition variable: a job that comes soon pays no futex wake-up, an idle pool
 * burns no CPU. The fields each side writes sit on their own cache lines. */
#include "model/threadpool.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ~4096 pause instructions: tens of microseconds, longer than the gap between the jobs
 * of one forward pass, far shorter than a scheduler time slice. */
#define SPIN_LIMIT 4096

typedef struct worker_arg worker_arg;

struct threadpool {
    int n_threads;
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* written by the caller per job */
    alignas(64) atomic_ulong generation;
    atomic_int stop;
    tp_task_fn fn;
    void *ctx;
    int n_tasks;
    /* written by every runner */
    alignas(64) atomic_int next;
    alignas(64) atomic_int busy; /* workers still inside the current job */
};

struct worker_arg {
    threadpool *tp;
    int index;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

static void run_tasks(threadpool *tp, int thread)
{
    for (;;) {
        int t = atomic_fetch_add(&tp->next, 1);
        if (t >= tp->n_tasks)
            return;
        tp->fn(tp->ctx, t, thread);
    }
}

static void *worker(void *arg)
{
    threadpool *tp = ((worker_arg *)arg)->tp;
    int index = ((worker_arg *)arg)->index;
    unsigned long seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN_LIMIT && atomic_load(&tp->generation) == seen &&
                        !atomic_load(&tp->stop);
             i++)
            cpu_relax();
        if (atomic_load(&tp->generation) == seen && !atomic_load(&tp->stop)) {
            pthread_mutex_lock(&tp->mu);
            while (!atomic_load(&tp->stop) && atomic_load(&tp->generation) == seen)
                pthread_cond_wait(&tp->wake, &tp->mu);
            pthread_mutex_unlock(&tp->mu);
        }
        if (atomic_load(&tp->stop))
            break;
        seen = atomic_load(&tp->generation);
        run_tasks(tp, index);
        if (atomic_fetch_sub(&tp->busy, 1) == 1) {
            /* under the mutex, so a caller between its check and its wait cannot miss it */
            pthread_mutex_lock(&tp->mu);
            pthread_cond_signal(&tp->done);
            pthread_mutex_unlock(&tp->mu);
        }
    }
    return NULL;
}

int tp_create(int n_threads, threadpool **out, model_error *err)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 256)
        return model_fail(err, "thread pool: %d threads out of range [1, 256]", n_threads);
    threadpool *tp = aligned_alloc(64, (sizeof *tp + 63) / 64 * 64);
    if (!tp)
        return model_fail(err, "thread pool: out of memory");
    memset(tp, 0, sizeof *tp);
    tp->n_threads = n_threads;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->wake, NULL);
    pthread_cond_init(&tp->done, NULL);
    tp->threads = calloc((size_t)n_threads, sizeof *tp->threads);
    tp->args = calloc((size_t)n_threads, sizeof *tp->args);
    if (!tp->threads || !tp->args) {
        tp->n_threads = 1;
        tp_destroy(tp);
        return model_fail(err, "thread pool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        tp->args[i] = (worker_arg){tp, i};
        int rc = pthread_create(&tp->threads[i], NULL, worker, &tp->args[i]);
        if (rc != 0) {
            tp->n_threads = i; /* join only the started ones */
            tp_destroy(tp);
            return model_fail(err, "thread pool: pthread_create: %s", strerror(rc));
        }
    }
    *out = tp;
    return 0;
}

void tp_destroy(threadpool *tp)
{
    if (!tp)
        return;
    pthread_mutex_lock(&tp->mu);
    atomic_store(&tp->stop, 1);
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 1; i < tp->n_threads; i++)
        pthread_join(tp->threads[i], NULL);
    pthread_mutex_destroy(&tp->mu);
    pthread_cond_destroy(&tp->wake);
    pthread_cond_destroy(&tp->done);
    free(tp->threads);
    free(tp->args);
    free(tp);
}

int tp_threads(const threadpool *tp) { return tp->n_threads; }

void tp_run(threadpool *tp, int n_tasks, tp_task_fn fn, void *ctx)
{
    if (tp->n_threads == 1 || n_tasks <= 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    tp->fn = fn;
    tp->ctx = ctx;
    tp->n_tasks = n_tasks;
    atomic_store(&tp->next, 0);
    atomic_store(&tp->busy, tp->n_threads - 1);
    /* the increment publishes the job; under the mutex so a worker going to sleep sees it */
    pthread_mutex_lock(&tp->mu);
    atomic_fetch_add(&tp->generation, 1);
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->mu);
    run_tasks(tp, 0);
    for (int i = 0; i < SPIN_LIMIT && atomic_load(&tp->busy) > 0; i++)
        cpu_relax();
    if (atomic_load(&tp->busy) > 0) {
        pthread_mutex_lock(&tp->mu);
        while (atomic_load(&tp->busy) > 0)
            pthread_cond_wait(&tp->done, &tp->mu);
        pthread_mutex_unlock(&tp->mu);
    }
}
