#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *test_shared_dir(void)
{
    static char dir[4096];
    const char *env = getenv("KVSPILL_SHARED_DIR");
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "../shared");
    struct stat st;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/testdata", dir);
    return stat(probe, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

const char *test_require_shared_dir(void)
{
    const char *dir = test_shared_dir();
    if (!dir) {
        fprintf(stderr, "SKIP: reference data not found (set KVSPILL_SHARED_DIR to the "
                        "folder holding testdata/)\n");
        exit(TEST_SKIP_EXIT);
    }
    return dir;
}

void test_require_helper(char *out, const char *name)
{
    const char *bin = getenv("KVSPILL_TEST_BIN_DIR");
    snprintf(out, 4096, "%s/helper_%s", bin ? bin : ".", name);
    if (access(out, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s not built\n", out);
        exit(TEST_SKIP_EXIT);
    }
}

void test_path(char *out, const char *dir, const char *rel)
{
    snprintf(out, 4096, "%s/%s", dir, rel);
}

void test_mkdtemp(char *out, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, 4096, "%s/kvspill-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(out)) {
        fprintf(stderr, "mkdtemp %s: %s\n", out, strerror(errno));
        abort();
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* tests make read-only directories; undo before removing */
    return remove(path);
}

static int unlock_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_D || flag == FTW_DNR)
        chmod(path, 0700);
    (void)st;
    return 0;
}

void test_rmtree(const char *path)
{
    nftw(path, unlock_entry, 16, FTW_PHYS);
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

void test_unsetenv_all(const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        unsetenv(names[i]);
}

char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    rewind(f);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (size)
            *size = (size_t)n;
    }
    return buf;
}

void test_fill_random(void *buf, size_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p[i] = (uint8_t)(s >> 24);
    }
}
