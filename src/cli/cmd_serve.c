/* PLACEHOLDER: replaced by the server. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_serve(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "kvspill %s: not built yet\n", argv[0]);
    return 2;
}
