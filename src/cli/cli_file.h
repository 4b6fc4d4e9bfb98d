/* Whole files read into memory, for commands that take their input from a file. */
#ifndef KVSPILL_CLI_CLI_FILE_H
#define KVSPILL_CLI_CLI_FILE_H

#include <stddef.h>

/* The bytes of path in a malloc'd buffer (NUL-terminated; *len excludes the NUL). NULL with
 * errno set when it cannot be opened or read, or memory runs out. */
char *cli_read_file(const char *path, size_t *len);

#endif
