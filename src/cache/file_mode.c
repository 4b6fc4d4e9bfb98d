#include "cache/file_mode.h"

#include <errno.h>
#include <sys/stat.h>

mode_t kvs_file_dir_mode(mode_t file_mode)
{
    file_mode &= 0777;
    return file_mode | ((file_mode & 0444) >> 2);
}

/* The umask can only clear bits: with none beyond the owner's asked for, no chmod is due
 * (an umask that takes the owner's own bits is not a configuration anyone runs). */
static int needs_chmod(mode_t mode)
{
    return (mode & 077) != 0;
}

int kvs_file_mkdir_mode(const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0)
        return errno == EEXIST ? 0 : errno;
    if (needs_chmod(mode) && chmod(path, mode) != 0)
        return errno;
    return 0;
}

int kvs_file_fix_mode(int fd, mode_t mode)
{
    if (needs_chmod(mode) && fchmod(fd, mode) != 0)
        return errno;
    return 0;
}
