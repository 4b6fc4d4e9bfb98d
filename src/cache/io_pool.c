#include "cache/io_pool.h"

#include <stdlib.h>
#include <string.h>

#include "cache/error.h"

static kvs_job *pop(kvs_job_queue *q)
{
    kvs_job *job = q->head;
    if (job) {
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
        job->next = NULL;
    }
    return job;
}

static void *worker(void *arg)
{
    kvs_io_pool *pool = arg;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        kvs_job *job = NULL;
        while (!pool->stopping && !(job = pop(&pool->queues[KVS_JOB_READ])) &&
               !(job = pop(&pool->queues[KVS_JOB_WRITE])))
            pthread_cond_wait(&pool->cond, &pool->lock);
        if (!job)
            break; /* stopping */
        pthread_mutex_unlock(&pool->lock);
        job->run(job);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

kvs_status kvs_io_pool_start(kvs_io_pool *pool, uint32_t n_threads, kvs_error *err)
{
    memset(pool, 0, sizeof *pool);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->threads = calloc(n_threads, sizeof *pool->threads);
    if (!pool->threads) {
        kvs_io_pool_stop(pool);
        return kvs_fail(err, KVS_ERR_NOMEM, "I/O threads: out of memory");
    }
    for (uint32_t i = 0; i < n_threads; i++) {
        int rc = pthread_create(&pool->threads[i], NULL, worker, pool);
        if (rc != 0) {
            kvs_io_pool_stop(pool);
            return kvs_fail_errno(err, rc, "start I/O thread %u of %u", i + 1, n_threads);
        }
        pool->n_threads++;
    }
    return KVS_OK;
}

void kvs_io_pool_submit(kvs_io_pool *pool, kvs_job *job, kvs_job_class cls)
{
    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    bool stopping = pool->stopping;
    if (!stopping) {
        kvs_job_queue *q = &pool->queues[cls];
        if (q->tail)
            q->tail->next = job;
        else
            q->head = job;
        q->tail = job;
        pthread_cond_signal(&pool->cond);
    }
    pthread_mutex_unlock(&pool->lock);
    if (stopping)
        job->cancel(job);
}

void kvs_io_pool_stop(kvs_io_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    for (uint32_t i = 0; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    /* No worker is left: cancel what never ran (a cancel may submit, which cancels too). */
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        kvs_job *job = pop(&pool->queues[KVS_JOB_READ]);
        if (!job)
            job = pop(&pool->queues[KVS_JOB_WRITE]);
        pthread_mutex_unlock(&pool->lock);
        if (!job)
            break;
        job->cancel(job);
    }
    free(pool->threads);
    pool->threads = NULL;
    pool->n_threads = 0;
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
}
