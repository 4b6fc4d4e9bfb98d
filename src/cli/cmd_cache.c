/* PLACEHOLDER: replaced by the real command. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_cache_ls(int argc, char **argv)
{
    fprintf(stderr, "kvspill %s: not built yet\n", argv[0]);
    return 2;
}
int cmd_cache_stat(int argc, char **argv)
{
    fprintf(stderr, "kvspill %s: not built yet\n", argv[0]);
    return 2;
}
int cmd_cache_verify(int argc, char **argv)
{
    fprintf(stderr, "kvspill %s: not built yet\n", argv[0]);
    return 2;
}
int cmd_cache_gc(int argc, char **argv)
{
    fprintf(stderr, "kvspill %s: not built yet\n", argv[0]);
    return 2;
}
