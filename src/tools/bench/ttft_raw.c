/* Raw read baselines for the TTFT benchmark. */
#include "tools/bench/ttft_raw.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/bench/ttft_engine.h"
#include "tools/bench/bench_util.h"

#define ALIGN 4096

static struct {
    uint8_t *buf;
    size_t cap;
    uint64_t bytes;
    double secs;
    int failed;
} rd;

static int read_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
    (void)f;
    size_t len = strlen(path);
    if (type != FTW_F || len < 4 || strcmp(path + len - 4, ".kvc") != 0)
        return 0;
    size_t need = ((size_t)st->st_size + ALIGN - 1) / ALIGN * ALIGN;
    if (need > rd.cap) {
        free(rd.buf);
        rd.buf = NULL;
        rd.cap = 0;
        if (posix_memalign((void **)&rd.buf, ALIGN, need))
            return rd.failed = 1;
        rd.cap = need;
    }
    double t0 = bench_now_s();
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0)
        fd = open(path, O_RDONLY); /* file systems without O_DIRECT (tmpfs) */
    if (fd < 0)
        return 0;
    size_t got = 0;
    for (ssize_t n; got < (size_t)st->st_size; got += (size_t)n)
        if ((n = pread(fd, rd.buf + got, need - got, (off_t)got)) <= 0)
            break;
    close(fd);
    rd.secs += bench_now_s() - t0;
    rd.bytes += got;
    return 0;
}

double ttft_file_read_gbs(const char *dir, uint64_t *bytes)
{
    memset(&rd, 0, sizeof rd);
    nftw(dir, read_one, 16, FTW_PHYS);
    free(rd.buf);
    *bytes = rd.bytes;
    return rd.failed || rd.secs <= 0 ? 0 : rd.bytes / rd.secs / 1e9;
}

double ttft_mem_copy_gbs(uint64_t bytes)
{
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    double best = 0;
    if (a && b) {
        memset(a, 1, bytes);
        memset(b, 2, bytes); /* fault the pages in before timing */
        for (int rep = 0; rep < 3; rep++) {
            double t0 = bench_now_s();
            memcpy(b, a, bytes);
            double gbs = bytes / (bench_now_s() - t0) / 1e9;
            best = gbs > best ? gbs : best;
        }
    }
    free(a);
    free(b);
    return best;
}
