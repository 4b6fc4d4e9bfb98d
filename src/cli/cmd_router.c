/* kvspill router: an OpenAI-compatible front for several `kvspill serve` replicas.
 * SIGINT/SIGTERM stop it (exit 0). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/model_fetch.h"
#include "router/router.h"

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: kvspill %s --backends http://HOST:PORT[,...] | --backends-dns NAME:PORT ...\n"
            "         [--dns-interval-ms MS] [--host H] [--port P]\n"
            "         [--routing-logic roundrobin|session|prefixaware|kvaware] [--session-key NAME]\n"
            "         [--prefix-block-chars N] [--prefix-blocks K] [--max-load-ratio R]\n"
            "         [--kvaware-timeout-ms MS]\n"
            "         [--connect-timeout-ms MS] [--first-byte-timeout-ms MS]\n"
            "         [--upstream-pool N] [--upstream-idle-ms MS]\n"
            "         [--health-interval-ms MS] [--api-key KEY]\n"
            "         [--model GGUF [--chat-template T]]\n"
            "Defaults: --host 0.0.0.0 --port 8000 --routing-logic roundrobin\n"
            "--prefix-block-chars 256 --prefix-blocks 4 --max-load-ratio 1.5\n"
            "--kvaware-timeout-ms 200\n"
            "--connect-timeout-ms 2000 --first-byte-timeout-ms 60000 --health-interval-ms 1000\n"
            "--upstream-pool 64 (idle keep-alive connections kept per backend; 0: a connection\n"
            "per request) --upstream-idle-ms 55000 (keep it below the replicas'\n"
            "--connection-timeout, 60 s) --dns-interval-ms 2000. --backends-dns (up to %d, e.g. one per model) names a\n"
            "headless Service: its A/AAAA records are the replicas, re-resolved every interval.\n"
            "--model: the GGUF the replicas serve, a path, an http(s) URL or a Hugging Face\n"
            "org/repo:file.gguf as serve takes it (its tokenizer and chat template only),\n"
            "so that prefixaware routes on the cache's chunk keys; --chat-template as the\n"
            "replicas were given it. The API key may also come from VLLM_API_KEY. See\n"
            "docs/router.md.\n",
            cmd, ROUTER_MAX_DNS_NAMES);
}

static int parse_int(const char *cmd, const char *flag, const char *s, long lo, long hi,
                     long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "kvspill %s: %s: '%s' is not a number in [%ld, %ld]\n", cmd, flag, s,
                lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_router(int argc, char **argv)
{
    const char *cmd = argv[0];
    router_config cfg = {.host = "0.0.0.0", .port = 8000, .logic = ROUTER_ROUNDROBIN,
                         .prefix_block_chars = 256, .prefix_blocks = 4,
                         .max_load_ratio = 1.5,
                         .kvaware_timeout_ms = 200, .connect_timeout_ms = 2000,
                         .first_byte_timeout_ms = 60000, .health_interval_ms = 1000,
                         .upstream_pool = 64, .upstream_idle_ms = 55000,
                         .dns_interval_ms = 2000,
                         .api_key = getenv("VLLM_API_KEY")};
    static const struct option opts[] = {
        {"backends", required_argument, NULL, 'b'},
        {"backends-dns", required_argument, NULL, 'd'},
        {"dns-interval-ms", required_argument, NULL, 'D'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"routing-logic", required_argument, NULL, 'l'},
        {"session-key", required_argument, NULL, 's'},
        {"prefix-block-chars", required_argument, NULL, 'c'},
        {"prefix-blocks", required_argument, NULL, 'k'},
        {"max-load-ratio", required_argument, NULL, 'r'},
        {"kvaware-timeout-ms", required_argument, NULL, 'K'},
        {"connect-timeout-ms", required_argument, NULL, 'C'},
        {"first-byte-timeout-ms", required_argument, NULL, 'F'},
        {"health-interval-ms", required_argument, NULL, 'i'},
        {"upstream-pool", required_argument, NULL, 'P'},
        {"upstream-idle-ms", required_argument, NULL, 'I'},
        {"api-key", required_argument, NULL, 'a'},
        {"model", required_argument, NULL, 'm'},
        {"chat-template", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    long v;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': cfg.backends = optarg; break;
        case 'd':
            if (cfg.n_backends_dns == ROUTER_MAX_DNS_NAMES) {
                fprintf(stderr, "kvspill %s: --backends-dns: more than %d names\n", cmd,
                        ROUTER_MAX_DNS_NAMES);
                return 2;
            }
            cfg.backends_dns[cfg.n_backends_dns++] = optarg;
            break;
        case 'D':
            if (parse_int(cmd, "--dns-interval-ms", optarg, 100, 3600000, &v))
                return 2;
            cfg.dns_interval_ms = (int)v;
            break;
        case 'H': cfg.host = optarg; break;
        case 'p':
            if (parse_int(cmd, "--port", optarg, 1, 65535, &v))
                return 2;
            cfg.port = (uint16_t)v;
            break;
        case 'l':
            if (router_logic_parse(optarg, &cfg.logic)) {
                fprintf(stderr, "kvspill %s: --routing-logic: '%s' is not roundrobin, "
                                "session, prefixaware or kvaware\n", cmd, optarg);
                return 2;
            }
            break;
        case 's': cfg.session_key = optarg; break;
        case 'c':
            if (parse_int(cmd, "--prefix-block-chars", optarg, 1, 1 << 20, &v))
                return 2;
            cfg.prefix_block_chars = (unsigned)v;
            break;
        case 'k':
            if (parse_int(cmd, "--prefix-blocks", optarg, 1, 1024, &v))
                return 2;
            cfg.prefix_blocks = (unsigned)v;
            break;
        case 'r':
            errno = 0;
            cfg.max_load_ratio = strtod(optarg, &end);
            if (end == optarg || *end || errno || !(cfg.max_load_ratio >= 1)) {
                fprintf(stderr, "kvspill %s: --max-load-ratio: '%s' is not a number >= 1\n",
                        cmd, optarg);
                return 2;
            }
            break;
        case 'K':
            if (parse_int(cmd, "--kvaware-timeout-ms", optarg, 1, 60000, &v))
                return 2;
            cfg.kvaware_timeout_ms = (int)v;
            break;
        case 'C':
            if (parse_int(cmd, "--connect-timeout-ms", optarg, 1, 600000, &v))
                return 2;
            cfg.connect_timeout_ms = (int)v;
            break;
        case 'F':
            if (parse_int(cmd, "--first-byte-timeout-ms", optarg, 1, 3600000, &v))
                return 2;
            cfg.first_byte_timeout_ms = (int)v;
            break;
        case 'i':
            if (parse_int(cmd, "--health-interval-ms", optarg, 10, 600000, &v))
                return 2;
            cfg.health_interval_ms = (int)v;
            break;
        case 'P':
            if (parse_int(cmd, "--upstream-pool", optarg, 0, 4096, &v))
                return 2;
            cfg.upstream_pool = (unsigned)v;
            break;
        case 'I':
            if (parse_int(cmd, "--upstream-idle-ms", optarg, 1, 3600000, &v))
                return 2;
            cfg.upstream_idle_ms = (int)v;
            break;
        case 'a': cfg.api_key = optarg; break;
        case 'm': cfg.model_path = optarg; break;
        case 'T': cfg.chat_template = optarg; break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    if (optind < argc || (!cfg.backends && !cfg.n_backends_dns)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd,
                optind < argc ? "unexpected argument" : "--backends or --backends-dns is required");
        usage(stderr, cmd);
        return 2;
    }
    if (cfg.api_key && !*cfg.api_key)
        cfg.api_key = NULL;
    /* A URL or Hugging Face reference, as `serve --model` takes it: the chart gives the
     * router the replicas' modelURL. */
    char fetched[4096];
    if (cfg.model_path && model_ref_is_remote(cfg.model_path)) {
        if (model_fetch(cfg.model_path, fetched, sizeof fetched))
            return 1;
        cfg.model_path = fetched;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cfg.chat_template && !cfg.model_path) {
        fprintf(stderr, "kvspill %s: --chat-template needs --model\n", cmd);
        return 2;
    }
    if (cfg.logic == ROUTER_PREFIXAWARE && !cfg.model_path)
        fprintf(stderr, "kvspill %s: prefixaware without --model: hashing the prompt's "
                        "characters (%u blocks of %u), not the cache's chunk keys\n",
                cmd, cfg.prefix_blocks, cfg.prefix_block_chars);
    router *r;
    model_error err;
    if (router_start(&cfg, &r, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        return 2;
    }
    fprintf(stderr, "kvspill: routing (%s) on http://%s:%u to %s", router_logic_name(cfg.logic),
            cfg.host, cfg.port, cfg.backends ? cfg.backends : "");
    for (size_t i = 0; i < cfg.n_backends_dns; i++)
        fprintf(stderr, "%s%s (DNS)", i || cfg.backends ? ", " : "", cfg.backends_dns[i]);
    fputc('\n', stderr);
    int sig;
    sigwait(&sigs, &sig);
    router_stop(r);
    return 0;
}
