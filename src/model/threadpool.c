/* Workers claim tasks from one atomic word holding the job's generation and its next task
 * index, and the caller waits for the job's tasks to be *done*, not for every worker to
 * check in: on an oversubscribed machine a descheduled worker then costs a job nothing
 * unless it holds a task, and the caller runs whatever the others did not claim.
 * A decode step runs ~110 short jobs, so between jobs workers (and the caller, waiting for
 * a task still running elsewhere) first spin for a bounded while, then sleep on a
 * condition variable: a job that comes soon pays no futex wake-up, an idle pool burns no
 * CPU, and a waiter whose task holder is descheduled gives its core back. The fields each
 * side writes sit on their own cache lines. */
#include "model/threadpool.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ~4096 pause instructions: tens of microseconds, longer than the gap between the jobs
 * of one forward pass, far shorter than a scheduler time slice. */
#define SPIN_LIMIT 4096

typedef struct worker_arg worker_arg;

typedef struct job_fields {
    _Atomic(tp_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_int n_tasks;
} job_fields;

struct threadpool {
    int n_threads;
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t wake, done_cv;
    /* The job's fields, double-buffered by generation parity: the caller writes the next
     * generation's slot while a worker that read the current state can still be reading
     * the current slot. A slot is rewritten only two generations later, when no claim
     * against its generation can succeed any more. */
    alignas(64) job_fields jobs[2];
    atomic_int stop;
    atomic_int caller_waiting;
    /* generation << 32 | next task index: claimed by compare-and-swap */
    alignas(64) _Atomic uint64_t state;
    /* tasks of the current job finished */
    alignas(64) atomic_int done;
    atomic_int sleepers; /* workers blocked on wake */
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

static uint32_t gen_of(uint64_t s) { return (uint32_t)(s >> 32); }

/* Runs tasks of the current job until none are left; returns the generation it last saw.
 * The fields come from the slot of the generation just read, and a claim succeeds only
 * while the state still holds that generation, so a late worker never runs a task of one
 * job with another job's function or task count. (With one set of fields, a worker that
 * read the finished job's state and then the next job's fields — written before that job
 * is published — claimed a task under the old generation, which then ran twice.) */
static uint32_t run_tasks(threadpool *tp, int thread)
{
    for (;;) {
        uint64_t s = atomic_load_explicit(&tp->state, memory_order_acquire);
        const job_fields *j = &tp->jobs[gen_of(s) & 1];
        tp_task_fn fn = atomic_load_explicit(&j->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&j->ctx, memory_order_relaxed);
        int n = atomic_load_explicit(&j->n_tasks, memory_order_relaxed);
        int t = (int)(uint32_t)s;
        if (t >= n)
            return gen_of(s);
        if (!atomic_compare_exchange_weak(&tp->state, &s, s + 1))
            continue;
        fn(ctx, t, thread);
        if (atomic_fetch_add(&tp->done, 1) + 1 == n && atomic_load(&tp->caller_waiting)) {
            /* under the mutex, so a caller between its check and its wait cannot miss it */
            pthread_mutex_lock(&tp->mu);
            pthread_cond_signal(&tp->done_cv);
            pthread_mutex_unlock(&tp->mu);
        }
    }
}

static int job_after(threadpool *tp, uint32_t seen)
{
    return atomic_load(&tp->stop) || gen_of(atomic_load(&tp->state)) != seen;
}

static void *worker(void *arg)
{
    threadpool *tp = ((worker_arg *)arg)->tp;
    int index = ((worker_arg *)arg)->index;
    uint32_t seen = 0;
    for (;;) {
        for (int i = 0; i < SPIN_LIMIT && !job_after(tp, seen); i++)
            cpu_relax();
        if (!job_after(tp, seen)) {
            pthread_mutex_lock(&tp->mu);
            atomic_fetch_add(&tp->sleepers, 1);
            while (!job_after(tp, seen))
                pthread_cond_wait(&tp->wake, &tp->mu);
            atomic_fetch_sub(&tp->sleepers, 1);
            pthread_mutex_unlock(&tp->mu);
        }
        if (atomic_load(&tp->stop))
            break;
        seen = run_tasks(tp, index);
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
    pthread_cond_init(&tp->done_cv, NULL);
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
    pthread_cond_destroy(&tp->done_cv);
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
    uint64_t next_gen = (uint64_t)gen_of(atomic_load(&tp->state)) + 1;
    job_fields *j = &tp->jobs[next_gen & 1];
    atomic_store_explicit(&j->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&j->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&j->n_tasks, n_tasks, memory_order_relaxed);
    atomic_store_explicit(&tp->done, 0, memory_order_relaxed);
    atomic_store(&tp->state, next_gen << 32); /* publishes the job */
    if (atomic_load(&tp->sleepers) > 0) {
        /* under the mutex, so a worker between its check and its wait cannot miss it */
        pthread_mutex_lock(&tp->mu);
        pthread_cond_broadcast(&tp->wake);
        pthread_mutex_unlock(&tp->mu);
    }
    run_tasks(tp, 0);
    for (int i = 0; i < SPIN_LIMIT && atomic_load(&tp->done) < n_tasks; i++)
        cpu_relax();
    if (atomic_load(&tp->done) < n_tasks) {
        pthread_mutex_lock(&tp->mu);
        atomic_store(&tp->caller_waiting, 1);
        while (atomic_load(&tp->done) < n_tasks)
            pthread_cond_wait(&tp->done_cv, &tp->mu);
        atomic_store(&tp->caller_waiting, 0);
        pthread_mutex_unlock(&tp->mu);
    }
}
