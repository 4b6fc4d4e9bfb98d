#include "cache/io_streams.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct stream {
    pthread_t thread;
    bool started;
    bool use_uring;
    unsigned depth, index, count;
    size_t n;
    kvs_io_start_fn start;
    kvs_io_finish_fn finish;
    void *ctx;
} stream;

/* Local job i of a stream is job index + i * count of the batch. */
static bool stream_start(void *ctx, size_t i, kvs_io_job *job)
{
    stream *s = ctx;
    return s->start(s->ctx, s->index + i * s->count, job);
}

static void stream_finish(void *ctx, size_t i, kvs_io_job *job)
{
    stream *s = ctx;
    s->finish(s->ctx, s->index + i * s->count, job);
}

static void *stream_run(void *arg)
{
    stream *s = arg;
    kvs_io_run(s->use_uring, s->depth, s->n, stream_start, stream_finish, s);
    return NULL;
}

void kvs_io_run_streams(bool use_uring, unsigned depth, unsigned streams, size_t n,
                        kvs_io_start_fn start, kvs_io_finish_fn finish, void *ctx)
{
    if (streams > n)
        streams = (unsigned)n;
    stream *s = streams > 1 ? calloc(streams, sizeof *s) : NULL;
    if (!s) { /* one stream, or no memory for more */
        kvs_io_run(use_uring, depth, n, start, finish, ctx);
        return;
    }
    unsigned each = depth / streams ? depth / streams : 1;
    for (unsigned k = 0; k < streams; k++) {
        s[k] = (stream){.use_uring = use_uring, .depth = each, .index = k, .count = streams,
                        .n = (n - k + streams - 1) / streams, .start = start,
                        .finish = finish, .ctx = ctx};
        /* Stream 0 runs on the caller; a stream whose thread cannot start runs there too. */
        if (k > 0)
            s[k].started = pthread_create(&s[k].thread, NULL, stream_run, &s[k]) == 0;
    }
    stream_run(&s[0]);
    for (unsigned k = 1; k < streams; k++) {
        if (s[k].started)
            pthread_join(s[k].thread, NULL);
        else
            stream_run(&s[k]);
    }
    free(s);
}
