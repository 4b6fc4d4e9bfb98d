/* `kvspill bench io --redis URL`: the redis tier's put and get bandwidth for real chunk
 * sizes, against raw pipelined SET/GET of values of the same size through hiredis,
 * measured in the same run. */
#ifndef KVSPILL_TOOLS_BENCH_BENCH_REDIS_H
#define KVSPILL_TOOLS_BENCH_BENCH_REDIS_H

/* argv[0] is the command's name ("bench io"); the options are
 * --redis URL [--chunk-bytes N] [--chunks N] [--json]. Returns the exit status. */
int bench_io_redis(int argc, char **argv);

#endif
