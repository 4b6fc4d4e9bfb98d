/* Helpers shared by the unit tests. */
#ifndef KVSPILL_TESTUTIL_H
#define KVSPILL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Exit status that CTest reports as "skipped" (SKIP_RETURN_CODE). */
#define TEST_SKIP_EXIT 77

/* The reference data folder ($KVSPILL_SHARED_DIR, else ../shared from the source tree),
 * or NULL when absent. */
const char *test_shared_dir(void);
/* test_shared_dir() or exit(TEST_SKIP_EXIT) with a message saying what is missing. */
const char *test_require_shared_dir(void);
/* The path of tests/unit/helper_<name>.c's program ($KVSPILL_TEST_BIN_DIR, else ".") into
 * out (4096 bytes), or exit(TEST_SKIP_EXIT) with a message when it is not built. */
void test_require_helper(char *out, const char *name);
/* Joins into a static-per-call buffer owned by the caller: out must hold 4096 bytes. */
void test_path(char *out, const char *dir, const char *rel);

/* A fresh directory under $TMPDIR (or /tmp); removed with test_rmtree. */
void test_mkdtemp(char *out /* 4096 */, const char *tag);
void test_rmtree(const char *path);

/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL on failure. */
char *test_read_file(const char *path, size_t *size);

/* Writes text to path (the test fails when it cannot). */
void test_write_file(const char *path, const char *text);
/* Unsets each of names[0..n) (the LMCACHE_* variables a configuration test sets). */
void test_unsetenv_all(const char *const *names, size_t n);

/* Deterministic pseudo-random bytes for payloads. */
void test_fill_random(void *buf, size_t n, uint64_t seed);

#endif
