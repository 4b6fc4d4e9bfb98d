/* PLACEHOLDER: replaced by the TTFT benchmark. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_bench_ttft(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "kvspill %s: not built yet\n", argv[0]);
    return 2;
}
