/* The benchmark drivers of `kvspill bench` (bench/RESULTS.md): each measures one part of
 * kvspill against a baseline run in the same process, on the same machine, at the same
 * time. Each is a command as the CLI dispatches it: argv[0] is its full name ("bench io"),
 * and it returns the exit status: 0 when it measured, 2 for a usage error, non-zero with a
 * message on stderr when it could not measure. */
#ifndef KVSPILL_TOOLS_BENCH_BENCH_H
#define KVSPILL_TOOLS_BENCH_BENCH_H

int bench_io(int argc, char **argv);     /* the file and redis tiers against raw I/O */
int bench_engine(int argc, char **argv); /* prefill and decode against memory bandwidth */
int bench_ttft(int argc, char **argv);   /* time to first token, cold and from each tier */
int bench_gds(int argc, char **argv);    /* GPUDirect Storage against pread + cudaMemcpy */
int bench_scale(int argc, char **argv);  /* the file tier at 10^4..10^6 objects */
int bench_router(int argc, char **argv); /* the router against direct access */
int bench_codec(int argc, char **argv);  /* the offload KV codecs' accuracy and bytes */

#endif
