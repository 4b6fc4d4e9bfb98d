#include "redis_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)len, path, prog);
        if (access(dir, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    return false;
}

/* A port the kernel just gave out; another process may take it before redis-server
 * binds it, so the caller retries with a new one when the server fails to start. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        fprintf(stderr, "redis fixture: no free port: %s\n", strerror(errno));
        abort();
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void exec_server(const test_redis *r)
{
    char port[16], log[4200];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    const char *argv[20];
    int n = 0;
    argv[n++] = "redis-server";
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--dir";
    argv[n++] = r->dir;
    if (r->password[0]) {
        argv[n++] = "--requirepass";
        argv[n++] = r->password;
    }
    argv[n] = NULL;
    execvp("redis-server", (char **)argv);
    _exit(127);
}

/* Starts the server on r->port; true once it answers, false if it exited (port taken). */
static bool spawn(test_redis *r)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "redis fixture: fork: %s\n", strerror(errno));
        abort();
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        exec_server(r);
    }
    r->pid = pid;
    for (int waited = 0; waited < 10000; waited += 20) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            return false;
        }
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
        if (c && !c->err) {
            redisReply *rep = redisCommand(c, "PING"); /* NOAUTH is an answer too */
            bool up = rep != NULL;
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            if (up)
                return true;
        } else if (c) {
            redisFree(c);
        }
        sleep_ms(20);
    }
    fprintf(stderr, "redis fixture: redis-server on port %d did not answer in 10 s (log: %s)\n",
            r->port, r->dir);
    abort();
}

void test_redis_start(test_redis *r, const char *password)
{
    if (!in_path("redis-server")) {
        fprintf(stderr, "SKIP: redis-server is not installed (Debian: apt-get install "
                        "redis-server; scripts/install-deps.sh does it)\n");
        exit(TEST_SKIP_EXIT);
    }
    memset(r, 0, sizeof *r);
    snprintf(r->password, sizeof r->password, "%s", password ? password : "");
    test_mkdtemp(r->dir, "redis");
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = free_port();
        if (spawn(r))
            return;
    }
    fprintf(stderr, "redis fixture: redis-server would not start; see %s/redis.log\n", r->dir);
    abort();
}

void test_redis_restart(test_redis *r)
{
    /* The old server's socket may linger for a moment after SIGKILL. */
    for (int attempt = 0; attempt < 50; attempt++) {
        if (spawn(r))
            return;
        sleep_ms(100);
    }
    fprintf(stderr, "redis fixture: could not restart redis-server on port %d; see %s\n",
            r->port, r->dir);
    abort();
}

void test_redis_signal(test_redis *r, int sig)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, sig);
    if (sig == SIGKILL) {
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        r->pid = 0;
    }
}

void test_redis_stop(test_redis *r)
{
    test_redis_signal(r, SIGKILL);
    if (r->dir[0])
        test_rmtree(r->dir);
    r->dir[0] = '\0';
}

void test_redis_url(const test_redis *r, const char *userinfo, const char *db, char *out,
                    size_t size)
{
    snprintf(out, size, "redis://%s%s127.0.0.1:%d%s%s", userinfo ? userinfo : "",
             userinfo ? "@" : "", r->port, db ? "/" : "", db ? db : "");
}

redisContext *test_redis_connect(const test_redis *r)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err) {
        fprintf(stderr, "redis fixture: connect to port %d: %s\n", r->port,
                c ? c->errstr : "out of memory");
        abort();
    }
    if (r->password[0])
        freeReplyObject(test_redis_command(c, "AUTH %s", r->password));
    return c;
}

redisReply *test_redis_command(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!rep)
        fail_msg("redis command '%s': %s", fmt, c->errstr);
    if (rep->type == REDIS_REPLY_ERROR)
        fail_msg("redis command '%s': %s", fmt, rep->str);
    return rep;
}
