/* Timed waits on condition variables that keep CLOCK_MONOTONIC time, so that a change of
 * the wall clock neither cuts a wait short nor stretches it. */
#ifndef KVSPILL_CACHE_DEADLINE_H
#define KVSPILL_CACHE_DEADLINE_H

#include <pthread.h>
#include <time.h>

/* pthread_cond_init with the monotonic clock: 0, or the error number. */
int kvs_cond_init_monotonic(pthread_cond_t *cond);
/* The monotonic time ms milliseconds from now (now when ms <= 0), for
 * pthread_cond_timedwait on a condition made by kvs_cond_init_monotonic. */
struct timespec kvs_deadline_after_ms(long ms);

#endif
