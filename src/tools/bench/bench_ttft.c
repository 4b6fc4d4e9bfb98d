/* kvspill bench ttft: time to first token per prompt length, driving the engine in process
 * (engine.h, as `kvspill serve` does, without HTTP in the measurement). Cases:
 *   cold     no offload, no prefix caching: the whole prompt is computed;
 *   mem      LMCache mem tier (prefix caching off), later requests in the same engine;
 *   file     a second engine on the same directory, mem tier off, writer still open;
 *   restart  writer and reader closed, a fresh engine as `serve` runs it (APC, mem tier on);
 *   process  a child process (this binary, --child) on the same directory.
 * mem and file are the median of 3 requests; restart and process are one request each (only
 * the first request of an engine is a restart).
 * A prompt is L + 1 tokens so that L tokens (whole chunks) can come from the cache and one
 * is computed. Ideal of a warm case = bytes the tiers read ÷ the bandwidth of reading the
 * same bytes raw in this run (memcpy for mem, O_DIRECT reads of the object files for the
 * others) + one decode step (measured in the cold run). --concurrency: see ttft_chat.h. */
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/model.h"
#include "tools/bench/bench.h"
#include "tools/bench/ttft_chat.h"
#include "tools/bench/ttft_engine.h"
#include "tools/bench/ttft_raw.h"
#include "tools/bench/bench_util.h"

#define MAX_LENGTHS 16
#define CHUNK 256
#define REPS 3

extern char **environ;

enum { C_COLD, C_MEM, C_FILE, C_RESTART, C_PROCESS, N_CASES };
static const char *const case_names[N_CASES] = {"cold", "mem", "file", "restart", "process"};

typedef struct row {
    ttft_sample s;
    uint64_t bytes;
    double ideal_s;
} row;

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: kvspill %s --model FILE --cache-dir DIR [--lengths 1024,2048,4096,8192]\n"
            "         [--device auto|cpu|cuda] [--tier local_disk|gds] [--threads 2] [--json]\n"
            "         [--kv-codec none|int8|fp8]\n"
            "       kvspill %s --model FILE --cache-dir DIR --concurrency N --turns T\n"
            "         [--device auto|cpu|cuda] [--threads 2] [--json]\n"
            "DIR gets one subdirectory per length (removed first if present). --tier gds\n"
            "puts it in the gds tier (cuFile into GPU memory where it works).\n"
            "--child LEN (used by the benchmark itself) runs the second-process case.\n",
            cmd, cmd);
}

/* The prompt of length n + 1 for a length: seeded by n, so a child process rebuilds it. */
static int32_t *make_prompt(uint32_t n, uint32_t vocab)
{
    int32_t *p = malloc((n + 1) * sizeof *p);
    uint64_t x = 0x9e3779b97f4a7c15ull ^ n;
    if (!p)
        return NULL;
    p[0] = 1;
    for (uint32_t i = 1; i <= n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = 3 + (int32_t)(x % (vocab - 3));
    }
    return p;
}

static void len_dir(char *out, size_t cap, const char *root, uint32_t len)
{
    snprintf(out, cap, "%s/L%u", root, len);
}

/* One request on a fresh prompt copy; bytes: what the tiers read for it. */
static int measure(engine *e, const int32_t *p, uint32_t len, uint32_t max_tokens, row *r)
{
    uint64_t b0 = ttft_bytes_read(e);
    if (ttft_run(e, p, len + 1, max_tokens, &r->s))
        return -1;
    r->bytes = ttft_bytes_read(e) - b0;
    return 0;
}

/* The median of REPS requests by TTFT (each one loads again: prefix caching is off). */
static int measure_median(engine *e, const int32_t *p, uint32_t len, row *r)
{
    row v[REPS];
    int n = 0;
    for (; n < REPS; n++)
        if (measure(e, p, len, 1, &v[n]))
            break;
    for (int i = 1; i < n; i++) /* insertion sort by ttft */
        for (int j = i; j > 0 && v[j].s.ttft_s < v[j - 1].s.ttft_s; j--) {
            row t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        if (i != n / 2)
            free(v[i].s.tokens);
    if (n < REPS) {
        if (n)
            free(v[n / 2].s.tokens);
        return -1;
    }
    *r = v[n / 2];
    return 0;
}

static int child_main(const ttft_setup *base, uint32_t len)
{
    ttft_setup s = *base;
    char dir[4096];
    len_dir(dir, sizeof dir, base->dir, len);
    s.dir = dir;
    s.apc = false;
    s.mem_tier = false;
    engine *e;
    if (ttft_engine_open(&s, &e))
        return 2;
    int32_t *p = make_prompt(len, engine_model(e)->hp.n_vocab);
    row r = {0};
    int rc = p && !measure(e, p, len, 1, &r) ? 0 : 1;
    if (!rc)
        printf("%.9f %u %llu\n", r.s.ttft_s, r.s.cached, (unsigned long long)r.bytes);
    free(r.s.tokens);
    free(p);
    engine_destroy(e);
    return rc;
}

/* Runs `kvspill <cmd> ... --child LEN` and reads its one line. */
static int run_child(const char *cmd, const ttft_setup *s, uint32_t len, row *r)
{
    char lenbuf[16], thr[16], self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    snprintf(lenbuf, sizeof lenbuf, "%u", len);
    snprintf(thr, sizeof thr, "%d", s->threads);
    char sub[64];
    snprintf(sub, sizeof sub, "%s", cmd);
    char *space = strchr(sub, ' ');
    if (!space)
        return -1;
    *space = 0;
    char *argv[] = {self, sub, space + 1, "--model", (char *)s->model, "--cache-dir",
                    (char *)s->dir, "--device", (char *)backend_kind_name(s->device),
                    "--threads", thr, "--tier", s->gds ? "gds" : "local_disk", "--kv-codec",
                    (char *)kv_codec_name(s->codec), "--child", lenbuf, NULL};
    int fds[2];
    if (pipe(fds))
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return -1;
    }
    FILE *f = fdopen(fds[0], "r");
    unsigned long long bytes = 0;
    int got = f ? fscanf(f, "%lf %u %llu", &r->s.ttft_s, &r->s.cached, &bytes) : 0;
    if (f)
        fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    r->bytes = bytes;
    return got == 3 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* All cases for one length. cold: the shared cache-off engine. */
static int run_length(const char *cmd, const ttft_setup *base, engine *cold, uint32_t len,
                      row rows[N_CASES], double bw[2])
{
    char dir[4096], rmcmd[4200];
    len_dir(dir, sizeof dir, base->dir, len);
    snprintf(rmcmd, sizeof rmcmd, "rm -rf '%s'", dir);
    if (strchr(dir, '\'') || system(rmcmd) != 0 || mkdir(dir, 0755))
        return -1;
    int32_t *p = make_prompt(len, engine_model(cold)->hp.n_vocab);
    if (!p || measure(cold, p, len, 2, &rows[C_COLD]))
        goto fail;
    ttft_setup s = *base;
    s.dir = dir;
    s.apc = false;
    s.mem_tier = true;
    engine *w = NULL, *rd = NULL;
    if (ttft_engine_open(&s, &w))
        goto fail;
    row warmup;
    int bad = measure(w, p, len, 1, &warmup) || measure_median(w, p, len, &rows[C_MEM]);
    free(warmup.s.tokens);
    ttft_wait_stores(w);
    s.mem_tier = false;
    bad = bad || ttft_engine_open(&s, &rd) || measure_median(rd, p, len, &rows[C_FILE]);
    engine_destroy(rd);
    engine_destroy(w);
    if (bad)
        goto fail;
    s.apc = true;
    s.mem_tier = true;
    bad = ttft_engine_open(&s, &rd) || measure(rd, p, len, 1, &rows[C_RESTART]);
    engine_destroy(rd);
    if (bad || run_child(cmd, base, len, &rows[C_PROCESS]))
        goto fail;
    uint64_t raw_bytes;
    bw[1] = ttft_file_read_gbs(dir, &raw_bytes);
    bw[0] = ttft_mem_copy_gbs(rows[C_MEM].bytes ? rows[C_MEM].bytes : raw_bytes);
    double step = rows[C_COLD].s.step_s;
    for (int c = C_MEM; c < N_CASES; c++) {
        double gbs = c == C_MEM ? bw[0] : bw[1];
        rows[c].ideal_s = (gbs > 0 ? rows[c].bytes / (gbs * 1e9) : 0) + step;
    }
    free(p);
    return 0;
fail:
    free(p);
    return -1;
}

static void print_rows(bool json, uint32_t len, row rows[N_CASES], const double bw[2],
                       bool *first)
{
    for (int c = 0; c < N_CASES; c++) {
        const row *r = &rows[c];
        double ratio = r->ideal_s > 0 ? r->s.ttft_s / r->ideal_s : 0;
        if (json)
            printf("%s{\"length\":%u,\"case\":\"%s\",\"ttft_s\":%.6f,\"cached_tokens\":%u,"
                   "\"bytes_read\":%llu,\"ideal_s\":%.6f,\"ratio\":%.3f,\"tier_gbs\":%.3f}",
                   *first ? "" : ",\n", len, case_names[c], r->s.ttft_s, r->s.cached,
                   (unsigned long long)r->bytes, r->ideal_s, ratio,
                   c == C_COLD ? 0 : c == C_MEM ? bw[0] : bw[1]);
        else
            printf("%6u %-8s %10.2f %7u %10.2f %8.2f %9.3f\n", len, case_names[c],
                   r->s.ttft_s * 1e3, r->s.cached, r->bytes / 1e6, r->ideal_s * 1e3, ratio);
        *first = false;
    }
}

int bench_ttft(int argc, char **argv)
{
    const char *cmd = argv[0], *lengths = "1024,2048,4096,8192";
    ttft_setup base = {.threads = 2, .chunk = CHUNK};
    long child = 0, conc = 0, turns = 4;
    bool json = false;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},     {"cache-dir", required_argument, 0, 'd'},
        {"lengths", required_argument, 0, 'l'},   {"threads", required_argument, 0, 't'},
        {"json", no_argument, 0, 'J'},            {"child", required_argument, 0, 'C'},
        {"concurrency", required_argument, 0, 'c'}, {"turns", required_argument, 0, 'T'},
        {"device", required_argument, 0, 'D'},    {"tier", required_argument, 0, 'F'},
        {"kv-codec", required_argument, 0, 'K'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': base.model = optarg; break;
        case 'd': base.dir = optarg; break;
        case 'l': lengths = optarg; break;
        case 't': base.threads = atoi(optarg); break;
        case 'J': json = true; break;
        case 'C': child = atol(optarg); break;
        case 'c': conc = atol(optarg); break;
        case 'T': turns = atol(optarg); break;
        case 'D':
            if (backend_kind_parse(optarg, &base.device)) {
                fprintf(stderr, "kvspill %s: --device %s: expected auto, cpu or cuda\n", cmd,
                        optarg);
                return 2;
            }
            break;
        case 'F':
            if (strcmp(optarg, "local_disk") && strcmp(optarg, "gds")) {
                fprintf(stderr, "kvspill %s: --tier %s: expected local_disk or gds\n", cmd,
                        optarg);
                return 2;
            }
            base.gds = !strcmp(optarg, "gds");
            break;
        case 'K':
            if (kv_codec_parse(optarg, &base.codec)) {
                fprintf(stderr, "kvspill %s: --kv-codec %s: expected none, int8 or fp8\n", cmd,
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    uint32_t lens[MAX_LENGTHS];
    int n_lens = 0;
    if (!base.model || !base.dir || base.dir[0] != '/' || optind != argc ||
        base.threads < 1 || base.threads > 256 || bench_parse_lengths(lengths, CHUNK, 65536, lens, MAX_LENGTHS, &n_lens) ||
        conc < 0 || conc > 256 || turns < 1 || turns > 1000 || child < 0) {
        usage(stderr, cmd);
        return 2;
    }
    if (mkdir(base.dir, 0755) && access(base.dir, W_OK)) {
        fprintf(stderr, "kvspill %s: cannot use %s\n", cmd, base.dir);
        return 2;
    }
    uint32_t max_len = 0;
    for (int i = 0; i < n_lens; i++)
        max_len = lens[i] > max_len ? lens[i] : max_len;
    base.max_len = max_len + 3; /* L + 1 prompt tokens, 2 generated */
    if (child) {
        base.max_len = (uint32_t)child + 3;
        return child_main(&base, (uint32_t)child);
    }
    if (conc)
        return ttft_chat_bench(&base, (uint32_t)conc, (uint32_t)turns, json);
    ttft_setup cs = base;
    cs.dir = NULL;
    engine *cold;
    if (ttft_engine_open(&cs, &cold))
        return 2;
    bool first = true;
    int status = 0;
    if (json)
        printf("{\"lengths\":[\n");
    else
        printf("%6s %-8s %10s %7s %10s %8s %9s\n", "length", "case", "ttft_ms", "cached",
               "read_MB", "ideal_ms", "ttft/ideal");
    for (int i = 0; i < n_lens && !status; i++) {
        row rows[N_CASES];
        memset(rows, 0, sizeof rows);
        double bw[2] = {0};
        if (run_length(cmd, &base, cold, lens[i], rows, bw)) {
            fprintf(stderr, "kvspill %s: length %u failed\n", cmd, lens[i]);
            status = 1;
        } else {
            print_rows(json, lens[i], rows, bw, &first);
            if (!json)
                printf("%6s raw: mem copy %.2f GB/s, file read %.2f GB/s; decode step %.2f ms\n",
                       "", bw[0], bw[1], rows[C_COLD].s.step_s * 1e3);
        }
        for (int k = 0; k < N_CASES; k++)
            free(rows[k].s.tokens);
        fflush(stdout);
    }
    if (json)
        printf("\n]}\n");
    engine_destroy(cold);
    return status;
}
