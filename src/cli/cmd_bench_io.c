/* PLACEHOLDER: replaced by the real command. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_bench_io(int argc, char **argv)
{
    fprintf(stderr, "kvspill %s: not built yet\n", argv[0]);
    return 2;
}
