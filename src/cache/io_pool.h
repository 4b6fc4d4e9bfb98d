/* The I/O threads: a fixed pool serving jobs from two queues. Reads go first — a request
 * is waiting on them — then writes (write-through and promotions), as LMCache orders its
 * disk executor. */
#ifndef KVSPILL_CACHE_IO_POOL_H
#define KVSPILL_CACHE_IO_POOL_H

#include <pthread.h>

#include "kvspill.h"

typedef struct kvs_job kvs_job;
struct kvs_job {
    void (*run)(kvs_job *job);    /* on a worker; frees the job */
    void (*cancel)(kvs_job *job); /* instead of run when the pool stops first; frees the job */
    kvs_job *next;
};

typedef enum kvs_job_class { KVS_JOB_READ, KVS_JOB_WRITE } kvs_job_class;

typedef struct kvs_job_queue {
    kvs_job *head, *tail;
} kvs_job_queue;

typedef struct kvs_io_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    kvs_job_queue queues[2]; /* by kvs_job_class */
    bool stopping;
    pthread_t *threads;
    uint32_t n_threads;
} kvs_io_pool;

kvs_status kvs_io_pool_start(kvs_io_pool *pool, uint32_t n_threads, kvs_error *err);
/* Queues job; once the pool is stopping, cancels it at once instead. */
void kvs_io_pool_submit(kvs_io_pool *pool, kvs_job *job, kvs_job_class cls);
/* Lets each worker finish the job in hand, joins them, then cancels what is still queued. */
void kvs_io_pool_stop(kvs_io_pool *pool);

#endif
