/* kvspill serve: the OpenAI-compatible server. Flags are vLLM's; the offload tiers come
 * from the LMCACHE_* environment (or LMCACHE_CONFIG_FILE) as LMCache reads them, and are
 * used only when --kv-transfer-config names the LMCache connector, as in vLLM.
 * SIGINT/SIGTERM: stop accepting, let running requests finish (bounded), cancel the rest,
 * flush the stores, exit 0. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/model_fetch.h"
#include "cli/vllm_flags.h"
#include "engine/engine.h"
#include "server/heap.h"
#include "server/http.h"
#include "server/server.h"

enum { DRAIN_MS = 10000, CANCEL_MS = 5000 };

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: kvspill %s [--model] FILE [--host H] [--port P] [--api-key K]\n"
            "         [--served-model-name NAME] [--max-model-len N]\n"
            "         [--device auto|cpu|cuda] [--threads N]\n"
            "         [--enable-prefix-caching | --no-enable-prefix-caching]\n"
            "         [--kv-transfer-config JSON] [--kv-cache-memory BYTES[K|M|G]]\n"
            "         [--gpu-memory-utilization FRACTION]\n"
            "         [--max-num-seqs N] [--max-num-batched-tokens N] [--kv-cache-dtype f16|f32]\n"
            "         [--kv-offload-always-load] [--chat-template FILE|chatml|llama2|llama3|phi3]\n"
            "         [--max-request-bytes BYTES[K|M|G]] [--max-connections N]\n"
            "         [--max-connections-per-ip N] [--connection-timeout SECONDS]\n"
            "         [--tool-call-parser hermes|mistral|llama3_json] [--enable-auto-tool-choice]\n"
            "Defaults: --host 0.0.0.0 --port 8000; the API key may also come from VLLM_API_KEY.\n"
            "Limits: a body over --max-request-bytes (32M) is refused with 413; at most\n"
            "--max-connections (1024) connections, --max-connections-per-ip (64, 0: no limit)\n"
            "from one address; a connection idle for --connection-timeout (60, 0: never)\n"
            "seconds is closed. /health, /version and /metrics need no API key.\n"
            "--device auto runs on the GPU when this build has CUDA and a device is present,\n"
            "else on the CPU (--threads threads); the device is printed at startup.\n"
            "--kv-transfer-config '{\"kv_connector\":\"LMCacheConnectorV1\",\"kv_role\":\"kv_both\"}'\n"
            "turns on KV offload to the tiers the LMCACHE_* variables describe.\n"
            "--kv-offload-always-load loads every offload hit instead of loading only when the\n"
            "measured tier bandwidth beats the measured prefill speed (tests, tier benchmarks).\n"
            "--gpu-memory-utilization sizes the KV cache on a GPU as vLLM does (the fraction of\n"
            "device memory this server may use); --kv-cache-memory, when given, wins.\n"
            "Flags are spelled with '-' or '_', as vLLM takes them; the other `vllm serve` flags\n"
            "are accepted, and the startup line names each one ignored and why.\n"
            "--model also takes an http(s):// URL (a #sha256=HEX fragment is checked) or a Hugging\n"
            "Face org/repo:FILE.gguf (HF_TOKEN sent), fetched once into $KVSPILL_MODEL_CACHE\n"
            "(~/.cache/kvspill/models), resumed after a broken transfer, size and sha256 checked.\n"
            "--chat-template replaces the model's chat template (tokenizer.chat_template, rendered\n"
            "as Jinja) with a Jinja file or a built-in format; a model without one uses chatml.\n"
            "--tool-call-parser names the format tool calls are read and forced in; without it\n"
            "the format is guessed from the chat template and the vocabulary (printed at\n"
            "startup). tool_choice \"auto\" is always served (--enable-auto-tool-choice is\n"
            "accepted for vLLM's command lines).\n",
            cmd);
}

/* A count with an optional K/M/G/T suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-')
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 0: break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: return -1;
    }
    if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]) &&
        !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' && !end[3]))
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t *out)
{
    uint64_t v;
    if (parse_size(s, &v) || strpbrk(s, "KkMmGgTt") || v < lo || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* --kv-transfer-config: only the LMCache connector is built in. */
static int parse_kv_transfer(const char *cmd, const char *text, engine_kv_role *role)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "kvspill %s: --kv-transfer-config: not a JSON object%s%s\n", cmd,
                root ? "" : ": ", root ? "" : jerr.text);
        goto out;
    }
    const char *conn = json_string_value(json_object_get(root, "kv_connector"));
    const char *r = json_string_value(json_object_get(root, "kv_role"));
    if (!conn || strcmp(conn, "LMCacheConnectorV1") != 0) {
        fprintf(stderr, "kvspill %s: --kv-transfer-config: kv_connector must be "
                        "\"LMCacheConnectorV1\" (got %s)\n", cmd, conn ? conn : "none");
        goto out;
    }
    if (!r || !strcmp(r, "kv_both"))
        *role = ENGINE_KV_BOTH;
    else if (!strcmp(r, "kv_producer"))
        *role = ENGINE_KV_PRODUCER;
    else if (!strcmp(r, "kv_consumer"))
        *role = ENGINE_KV_CONSUMER;
    else {
        fprintf(stderr, "kvspill %s: --kv-transfer-config: kv_role must be kv_both, "
                        "kv_producer or kv_consumer (got %s)\n", cmd, r);
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* vLLM's --tokenizer-mode: the tokenizer is always the GGUF's own. "mistral" (vLLM's
 * mistral_common tokenizer) is honoured when that tokenizer is Mistral's: tekken, or the
 * SentencePiece vocabulary of Mistral 7B; for any other a user asking for Mistral's
 * tokenizer would get a different one, so it is refused. */
static int check_tokenizer_mode(const char *cmd, const char *mode, const tokenizer *tk)
{
    const char *pre = tokenizer_pre_name(tk);
    bool mistral = !strcmp(pre, "tekken") || tokenizer_get_kind(tk) == TOKENIZER_SPM;
    if (!strcmp(mode, "mistral") && !mistral) {
        fprintf(stderr, "kvspill %s: --tokenizer-mode mistral: the model's tokenizer is '%s', "
                "not Mistral's (tekken or SentencePiece)\n", cmd, pre);
        return -1;
    }
    fprintf(stderr, "kvspill: --tokenizer-mode %s: using the GGUF's tokenizer (%s)\n", mode, pre);
    return 0;
}

/* Where the engine runs, its KV cache, and the offload tiers with how each moves its bytes. */
static void print_devices(engine *e, const engine_config *ec)
{
    bool offload = ec->kv_role != ENGINE_KV_NONE;
    fprintf(stderr, "kvspill: device %s\n", engine_device_name(e));
    fprintf(stderr, "kvspill: KV cache %s\n", engine_kv_cache_sizing(e));
    if (!offload) {
        fprintf(stderr, "kvspill: KV offload off (no --kv-transfer-config)\n");
        return;
    }
    engine_stats st;
    engine_get_stats(e, &st);
    if (st.offload.n_tiers == 0)
        fprintf(stderr, "kvspill: KV offload on, but the LMCache configuration enables no "
                        "tier\n");
    for (uint32_t i = 0; i < st.offload.n_tiers && i < KVS_MAX_TIERS; i++)
        fprintf(stderr, "kvspill: offload tier %s: %s\n", st.offload.tiers[i].name,
                st.offload.tiers[i].io_path[0] ? st.offload.tiers[i].io_path : "host RAM");
    fprintf(stderr, "kvspill: offload chunks of %u tokens, kv_codec %s\n", ec->chunk_size,
            kv_codec_name(ec->kv_codec));
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* LMCACHE_* set without --kv-transfer-config does nothing, as in vLLM: say so, once, with
 * the variables named in order. */
static void warn_unused_lmcache_env(void)
{
    extern char **environ;
    enum { SHOWN = 6 };
    const char *found[SHOWN];
    size_t n = 0;
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "LMCACHE_", 8) && n++ < SHOWN)
            found[n - 1] = *e;
    if (!n)
        return;
    size_t shown = n < SHOWN ? n : SHOWN;
    qsort(found, shown, sizeof found[0], compare_strings);
    char names[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < shown && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%.*s", i ? ", " : "",
                                (int)strcspn(found[i], "="), found[i]);
    fprintf(stderr,
            "kvspill: %s%s %s set but no KV connector is configured: offload is off; add "
            "--kv-transfer-config '{\"kv_connector\":\"LMCacheConnectorV1\","
            "\"kv_role\":\"kv_both\"}'\n",
            names, n > SHOWN ? ", ..." : "", n > 1 ? "are" : "is");
}

/* Waits for SIGINT or SIGTERM, then shuts the server down in order. Meanwhile, every
 * HEAP_TRIM_S, gives malloc's free pages back to the system once they exceed
 * HEAP_TRIM_BYTES (server/heap.h says why RSS otherwise creeps up under load). */
#define HEAP_TRIM_S 10
#define HEAP_TRIM_BYTES ((size_t)8 << 20)
static void serve_until_signal(const char *cmd, server *srv, http_server *http,
                               const sigset_t *sigs)
{
    const struct timespec every = {HEAP_TRIM_S, 0};
    int sig;
    while ((sig = sigtimedwait(sigs, NULL, &every)) < 0)
        if (errno == EAGAIN)
            heap_trim(HEAP_TRIM_BYTES);
    fprintf(stderr, "kvspill: %s received, finishing %zu request(s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", gen_registry_live(&srv->reg));
    http_server_quiesce(http);
    if (gen_registry_wait_idle(&srv->reg, DRAIN_MS)) {
        atomic_store(&srv->reg.cancel_all, true);
        size_t left = gen_registry_wait_idle(&srv->reg, CANCEL_MS);
        if (left)
            fprintf(stderr, "kvspill %s: %zu request(s) still open after cancelling\n", cmd,
                    left);
    }
}

int cmd_serve(int argc, char **argv)
{
    const char *cmd = argv[0], *host = "0.0.0.0", *kv_transfer = NULL;
    const char *api_key = getenv("VLLM_API_KEY"), *chat_template_arg = NULL;
    const char *tool_parser = NULL;
    uint32_t port = 8000;
    engine_config ec;
    engine_config_init(&ec);
    enum { O_HOST = 256, O_PORT, O_KEY, O_MML, O_THREADS, O_NAME, O_APC, O_NO_APC, O_KVT,
           O_KVMEM, O_SEQS, O_BATCHED, O_DTYPE, O_ALWAYS, O_DEVICE, O_GPU_UTIL, O_MAXREQ,
           O_MAXCONN, O_MAXCONN_IP, O_CONN_TIMEOUT, O_CHAT, O_TOKMODE, O_TOOL_PARSER, O_AUTO_TOOLS };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"host", required_argument, 0, O_HOST},
        {"port", required_argument, 0, O_PORT},
        {"api-key", required_argument, 0, O_KEY},
        {"max-model-len", required_argument, 0, O_MML},
        {"threads", required_argument, 0, O_THREADS},
        {"device", required_argument, 0, O_DEVICE},
        {"served-model-name", required_argument, 0, O_NAME},
        {"enable-prefix-caching", no_argument, 0, O_APC},
        {"no-enable-prefix-caching", no_argument, 0, O_NO_APC},
        {"kv-transfer-config", required_argument, 0, O_KVT},
        {"kv-cache-memory", required_argument, 0, O_KVMEM},
        {"kv-cache-memory-bytes", required_argument, 0, O_KVMEM},
        {"gpu-memory-utilization", required_argument, 0, O_GPU_UTIL},
        {"max-num-seqs", required_argument, 0, O_SEQS},
        {"max-num-batched-tokens", required_argument, 0, O_BATCHED},
        {"kv-cache-dtype", required_argument, 0, O_DTYPE},
        {"kv-offload-always-load", no_argument, 0, O_ALWAYS},
        {"max-request-bytes", required_argument, 0, O_MAXREQ},
        {"max-connections", required_argument, 0, O_MAXCONN},
        {"max-connections-per-ip", required_argument, 0, O_MAXCONN_IP},
        {"connection-timeout", required_argument, 0, O_CONN_TIMEOUT},
        {"chat-template", required_argument, 0, O_CHAT},
        {"tokenizer-mode", required_argument, 0, O_TOKMODE},
        {"tool-call-parser", required_argument, 0, O_TOOL_PARSER},
        {"enable-auto-tool-choice", no_argument, 0, O_AUTO_TOOLS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    vllm_ignored ignored = {.n = 0};
    char refused[256];
    vllm_flags_normalize(argc, argv);
    argc = vllm_flags_filter(argc, argv, &ignored, refused, sizeof refused);
    if (argc < 0) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, refused);
        return 2;
    }
    int c;
    uint32_t threads = 0, max_conn = SERVER_MAX_CONNECTIONS;
    uint32_t max_conn_ip = SERVER_MAX_CONNECTIONS_PER_IP, conn_timeout = SERVER_CONNECTION_TIMEOUT_S;
    uint64_t max_request = SERVER_MAX_REQUEST_BYTES;
    bool kv_memory_given = false;
    const char *bad = NULL, *tokenizer_mode = NULL;
    while (!bad && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': ec.model_path = optarg; break;
        case O_HOST: host = optarg; break;
        case O_PORT: if (parse_u32(optarg, 1, &port) || port > 65535) bad = "--port"; break;
        case O_KEY: api_key = optarg; break;
        case O_MML: if (parse_u32(optarg, 1, &ec.max_model_len)) bad = "--max-model-len"; break;
        case O_THREADS: if (parse_u32(optarg, 1, &threads) || threads > 4096) bad = "--threads"; break;
        case O_DEVICE: if (backend_kind_parse(optarg, &ec.device)) bad = "--device"; break;
        case O_NAME: ec.served_model_name = optarg; break;
        case O_APC: ec.enable_prefix_caching = true; break;
        case O_NO_APC: ec.enable_prefix_caching = false; break;
        case O_KVT: kv_transfer = optarg; break;
        case O_ALWAYS: ec.offload_always_load = true; break;
        case O_CHAT: chat_template_arg = optarg; break;
        case O_TOOL_PARSER: tool_parser = optarg; break;
        case O_AUTO_TOOLS: break; /* tool_choice "auto" is always served */
        case O_TOKMODE:
            if (strcmp(optarg, "auto") && strcmp(optarg, "slow") && strcmp(optarg, "mistral"))
                bad = "--tokenizer-mode";
            tokenizer_mode = optarg;
            break;
        case O_KVMEM:
            if (parse_size(optarg, &ec.kv_cache_bytes) || !ec.kv_cache_bytes)
                bad = "--kv-cache-memory";
            kv_memory_given = true;
            break;
        case O_GPU_UTIL: {
            char *end;
            ec.gpu_memory_utilization = strtod(optarg, &end);
            if (end == optarg || *end || !(ec.gpu_memory_utilization > 0) ||
                ec.gpu_memory_utilization > 1)
                bad = "--gpu-memory-utilization";
            break;
        }
        case O_SEQS: if (parse_u32(optarg, 1, &ec.max_num_seqs)) bad = "--max-num-seqs"; break;
        case O_BATCHED: if (parse_u32(optarg, 1, &ec.max_num_batched_tokens)) bad = "--max-num-batched-tokens"; break;
        case O_MAXREQ: if (parse_size(optarg, &max_request) || !max_request || max_request > SIZE_MAX / 2) bad = "--max-request-bytes"; break;
        case O_MAXCONN: if (parse_u32(optarg, 1, &max_conn)) bad = "--max-connections"; break;
        case O_MAXCONN_IP: if (parse_u32(optarg, 0, &max_conn_ip)) bad = "--max-connections-per-ip"; break;
        case O_CONN_TIMEOUT: if (parse_u32(optarg, 0, &conn_timeout)) bad = "--connection-timeout"; break;
        case O_DTYPE:
            if (!strcmp(optarg, "f16") || !strcmp(optarg, "auto"))
                ec.kv_dtype = KV_F16;
            else if (!strcmp(optarg, "f32"))
                ec.kv_dtype = KV_F32;
            else
                bad = "--kv-cache-dtype";
            break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    if (bad) {
        fprintf(stderr, "kvspill %s: bad value for %s: '%s'\n", cmd, bad, optarg);
        return 2;
    }
    if (!ec.model_path && optind == argc - 1) /* `vllm serve MODEL` */
        ec.model_path = argv[optind++];
    if (!ec.model_path || optind != argc) {
        usage(stderr, cmd);
        return 2;
    }
    char fetched[4096];
    if (model_ref_is_remote(ec.model_path)) {
        if (model_fetch(ec.model_path, fetched, sizeof fetched))
            return 1;
        ec.model_path = fetched;
    }
    if (kv_memory_given && ec.gpu_memory_utilization > 0) {
        char value[32];
        snprintf(value, sizeof value, "%g", ec.gpu_memory_utilization);
        vllm_ignored_add(&ignored, "--gpu-memory-utilization", value,
                         "--kv-cache-memory sizes the KV cache");
        ec.gpu_memory_utilization = 0;
    }
    if (ignored.n)
        fprintf(stderr, "kvspill: accepted and ignored: %s\n", ignored.text);
    ec.n_threads = (int)threads;
    kvs_config offload;
    kvs_config_init(&offload);
    if (kv_transfer) {
        kvs_error kerr;
        if (parse_kv_transfer(cmd, kv_transfer, &ec.kv_role))
            return 2;
        engine_error serr;
        if (kvs_config_from_env(&offload, &kerr) != KVS_OK) {
            fprintf(stderr, "kvspill %s: LMCache configuration: %s\n", cmd, kerr.msg);
            return 2;
        }
        if (engine_offload_settings_from_env(&ec, &serr)) {
            fprintf(stderr, "kvspill %s: LMCache configuration: %s\n", cmd, serr.msg);
            return 2;
        }
        ec.offload = &offload;
    } else {
        warn_unused_lmcache_env();
    }

    /* Block the signals before any thread starts so only sigwait sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    engine *e = NULL;
    engine_error eerr;
    if (engine_create(&ec, &e, &eerr)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, eerr.msg);
        return 2;
    }
    if (tokenizer_mode && check_tokenizer_mode(cmd, tokenizer_mode, engine_tokenizer(e))) {
        engine_destroy(e);
        return 2;
    }
    model_error err;
    print_devices(e, &ec);
    int status = 2;
    server srv;
    http_server *http = NULL;
    if (server_init(&srv, e, api_key, (size_t)max_request, chat_template_arg, tool_parser, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        engine_destroy(e);
        return 2;
    }
    fprintf(stderr, "kvspill: chat template: %s (%s)\n", chat_source_name(srv.tmpl.source),
            srv.tmpl.jinja ? "jinja" : chat_family_name(srv.tmpl.family));
    fprintf(stderr, "kvspill: tool calls: %s (%s)\n", tool_format_name(srv.tool_format),
            tool_parser ? "--tool-call-parser" : "guessed from the template");
    http_options ho = {.host = host, .port = (uint16_t)port, .max_body = srv.max_request_bytes,
                       .max_connections = max_conn, .max_connections_per_ip = max_conn_ip,
                       .connection_timeout_s = conn_timeout};
    if (http_server_start(&ho, server_handle, &srv, &http, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        goto out;
    }
    fprintf(stderr, "kvspill: serving %s on http://%s%s%s:%u\n", srv.model_name,
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
    serve_until_signal(cmd, &srv, http, &sigs);
    http_server_stop(http);
    status = 0;
out:
    engine_destroy(e);
    server_destroy(&srv);
    return status;
}
