/* Whole files and lists of integers read into memory, for commands that take their input
 * from a file. */
#ifndef KVSPILL_CLI_CLI_FILE_H
#define KVSPILL_CLI_CLI_FILE_H

#include <stddef.h>
#include <stdint.h>

/* The bytes of path in a malloc'd buffer (NUL-terminated; *len excludes the NUL). NULL with
 * errno set when it cannot be opened or read, or memory runs out. */
char *cli_read_file(const char *path, size_t *len);

/* Whitespace-separated integers of a file into a malloc'd array; -1 (reported) on failure. */
int cli_read_ints(const char *cmd, const char *path, int32_t **out, uint32_t *n);

#endif
