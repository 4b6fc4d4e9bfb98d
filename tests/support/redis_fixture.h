/* A private redis-server for a test: on a free 127.0.0.1 port, no persistence, optionally
 * with a password; killed with the test (PR_SET_PDEATHSIG) if the test dies first. */
#ifndef KVSPILL_TEST_REDIS_FIXTURE_H
#define KVSPILL_TEST_REDIS_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

typedef struct test_redis {
    pid_t pid;           /* 0 when not running */
    int port;
    char password[64];   /* "" for none */
    char dir[4096];      /* its working directory (removed by test_redis_stop) */
} test_redis;

/* Starts redis-server and waits until it answers PING; exit(TEST_SKIP_EXIT) with a message
 * when redis-server is not installed. password may be NULL. */
void test_redis_start(test_redis *r, const char *password);
/* Starts it again on the same port (after test_redis_kill). */
void test_redis_restart(test_redis *r);
/* Sends sig (SIGKILL, SIGSTOP, SIGCONT); for SIGKILL also waits for it to exit. */
void test_redis_signal(test_redis *r, int sig);
/* Kills it and removes its directory. */
void test_redis_stop(test_redis *r);

/* "redis://127.0.0.1:PORT" (with userinfo/db when given: NULL for none) into out. */
void test_redis_url(const test_redis *r, const char *userinfo, const char *db, char *out,
                    size_t size);

/* A hiredis connection to it, authenticated; aborts the test on failure. */
redisContext *test_redis_connect(const test_redis *r);
/* Runs one command (hiredis format), failing the test on an error reply or a lost connection;
 * returns the reply for the caller to free. */
redisReply *test_redis_command(redisContext *c, const char *fmt, ...);

#endif
