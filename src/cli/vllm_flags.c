#include "cli/vllm_flags.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef enum arg_kind {
    ARG_NONE,   /* a switch: --x, --no-x, --x=true */
    ARG_ONE,    /* --x V or --x=V */
    ARG_SOME,   /* --x V [V ...] (argparse nargs='+'): values up to the next flag */
} arg_kind;

typedef struct vllm_flag {
    const char *name;  /* "--tokenizer", or a short alias such as "-tp" */
    arg_kind arg;
    bool quiet_if_one; /* "1" is what kvspill does anyway: nothing to say */
    const char *why;     /* why kvspill ignores it; NULL: refused, for the reason below */
    const char *refusal;
} vllm_flag;

#define FROM_GGUF "the model, its tokenizer and configuration come from the GGUF file"
#define ONE_DEVICE "a replica runs on one device; scale out with replicas behind the router"
#define LOGGING "kvspill logs its startup and errors, not each request"
#define NO_GRAPHS "there is no graph capture or compilation step"
#define ONE_PROCESS "kvspill serve is one process"

/* Flags of `vllm serve` (engine and OpenAI server arguments, v0.5 to v0.10) that kvspill
 * accepts without acting on them. Those it honours are cmd_serve.c's getopt options. */
static const vllm_flag flags[] = {
    {"--config-format", ARG_ONE, false, FROM_GGUF, NULL},
    {"--load-format", ARG_ONE, false, FROM_GGUF, NULL},
    {"--tokenizer", ARG_ONE, false, FROM_GGUF, NULL},
    {"--revision", ARG_ONE, false, FROM_GGUF, NULL},
    {"--code-revision", ARG_ONE, false, FROM_GGUF, NULL},
    {"--tokenizer-revision", ARG_ONE, false, FROM_GGUF, NULL},
    {"--hf-config-path", ARG_ONE, false, FROM_GGUF, NULL},
    {"--hf-overrides", ARG_ONE, false, FROM_GGUF, NULL},
    {"--model-impl", ARG_ONE, false, FROM_GGUF, NULL},
    {"--generation-config", ARG_ONE, false, FROM_GGUF, NULL},
    {"--override-generation-config", ARG_ONE, false, FROM_GGUF, NULL},
    {"--rope-scaling", ARG_ONE, false, FROM_GGUF, NULL},
    {"--rope-theta", ARG_ONE, false, FROM_GGUF, NULL},
    {"--download-dir", ARG_ONE, false, "--model is a local GGUF file", NULL},
    {"--trust-remote-code", ARG_NONE, false, "no model code is downloaded or run", NULL},
    {"--skip-tokenizer-init", ARG_NONE, false, "the tokenizer is part of the GGUF file", NULL},
    {"--dtype", ARG_ONE, false, "weights are used in the types the GGUF file stores", NULL},
    {"--quantization", ARG_ONE, false, "the GGUF file's tensor types are its quantization",
     NULL},
    {"-q", ARG_ONE, false, "the GGUF file's tensor types are its quantization", NULL},
    {"--limit-mm-per-prompt", ARG_ONE, false, "kvspill serves text; no image inputs", NULL},
    {"--allowed-local-media-path", ARG_ONE, false, "kvspill serves text; no media inputs", NULL},
    {"--tensor-parallel-size", ARG_ONE, true, ONE_DEVICE, NULL},
    {"-tp", ARG_ONE, true, ONE_DEVICE, NULL},
    {"--pipeline-parallel-size", ARG_ONE, true, ONE_DEVICE, NULL},
    {"-pp", ARG_ONE, true, ONE_DEVICE, NULL},
    {"--data-parallel-size", ARG_ONE, true, ONE_DEVICE, NULL},
    {"-dp", ARG_ONE, true, ONE_DEVICE, NULL},
    {"--enable-expert-parallel", ARG_NONE, false, ONE_DEVICE, NULL},
    {"--distributed-executor-backend", ARG_ONE, false, ONE_PROCESS, NULL},
    {"--worker-use-ray", ARG_NONE, false, ONE_PROCESS, NULL},
    {"--ray-workers-use-nsight", ARG_NONE, false, ONE_PROCESS, NULL},
    {"--disable-custom-all-reduce", ARG_NONE, false, ONE_DEVICE, NULL},
    {"--max-parallel-loading-workers", ARG_ONE, false, ONE_PROCESS, NULL},
    {"--disable-frontend-multiprocessing", ARG_NONE, false, ONE_PROCESS, NULL},
    {"--enforce-eager", ARG_NONE, false, NO_GRAPHS, NULL},
    {"--max-seq-len-to-capture", ARG_ONE, false, NO_GRAPHS, NULL},
    {"--max-context-len-to-capture", ARG_ONE, false, NO_GRAPHS, NULL},
    {"--compilation-config", ARG_ONE, false, NO_GRAPHS, NULL},
    {"-O", ARG_ONE, false, NO_GRAPHS, NULL},
    {"--cuda-graph-sizes", ARG_SOME, false, NO_GRAPHS, NULL},
    {"--block-size", ARG_ONE, false, "the paged KV cache's blocks are 16 tokens", NULL},
    {"--num-gpu-blocks-override", ARG_ONE, false,
     "the KV pool is sized by --kv-cache-memory or --gpu-memory-utilization", NULL},
    {"--swap-space", ARG_ONE, false,
     "no swap space: host memory holds the offload tier (LMCACHE_MAX_LOCAL_CPU_SIZE)", NULL},
    {"--cpu-offload-gb", ARG_ONE, false, "weights stay on the device that runs them", NULL},
    {"--enable-chunked-prefill", ARG_NONE, false,
     "prefill is always chunked, by --max-num-batched-tokens", NULL},
    {"--max-num-partial-prefills", ARG_ONE, false,
     "prefill is always chunked, by --max-num-batched-tokens", NULL},
    {"--long-prefill-token-threshold", ARG_ONE, false,
     "prefill is always chunked, by --max-num-batched-tokens", NULL},
    {"--use-v2-block-manager", ARG_NONE, false, "there is one block manager", NULL},
    {"--num-lookahead-slots", ARG_ONE, false, "no speculative decoding", NULL},
    {"--speculative-config", ARG_ONE, false, "no speculative decoding", NULL},
    {"--num-speculative-tokens", ARG_ONE, false, "no speculative decoding", NULL},
    {"--scheduling-policy", ARG_ONE, false, "requests are scheduled first come, first served",
     NULL},
    {"--preemption-mode", ARG_ONE, false, "a preempted request is recomputed", NULL},
    {"--async-scheduling", ARG_NONE, false, "the scheduler is built in", NULL},
    {"--seed", ARG_ONE, false, "sampling is seeded by each request's seed", NULL},
    {"--disable-sliding-window", ARG_NONE, false, "the models kvspill runs have none", NULL},
    {"--enable-sleep-mode", ARG_NONE, false, "no sleep mode", NULL},
    {"--kv-events-config", ARG_ONE, false, "KV events are not published", NULL},
    {"--enable-lora", ARG_NONE, false, "LoRA adapters are not supported: the base model serves",
     NULL},
    {"--lora-modules", ARG_SOME, false,
     "LoRA adapters are not supported: the base model serves", NULL},
    {"--max-loras", ARG_ONE, false, "LoRA adapters are not supported", NULL},
    {"--max-lora-rank", ARG_ONE, false, "LoRA adapters are not supported", NULL},
    {"--max-cpu-loras", ARG_ONE, false, "LoRA adapters are not supported", NULL},
    {"--task", ARG_ONE, false, "kvspill generates text", NULL},
    {"--guided-decoding-backend", ARG_ONE, false,
     "response_format and guided decoding are refused (400) until supported", NULL},
    {"--reasoning-parser", ARG_ONE, false, "replies are returned as generated", NULL},
    {"--max-logprobs", ARG_ONE, false, "top_logprobs has its own limit", NULL},
    {"--enable-prompt-tokens-details", ARG_NONE, false, "cached_tokens is always reported",
     NULL},
    {"--enable-force-include-usage", ARG_NONE, false,
     "usage is sent when stream_options asks for it", NULL},
    {"--response-role", ARG_ONE, false, "replies have the role assistant", NULL},
    {"--chat-template-content-format", ARG_ONE, false,
     "message content is rendered as text", NULL},
    {"--return-tokens-as-token-ids", ARG_NONE, false, "tokens are returned as text", NULL},
    {"--disable-log-requests", ARG_NONE, false, LOGGING, NULL},
    {"--enable-log-requests", ARG_NONE, false, LOGGING, NULL},
    {"--disable-log-stats", ARG_NONE, false, LOGGING, NULL},
    {"--max-log-len", ARG_ONE, false, LOGGING, NULL},
    {"--uvicorn-log-level", ARG_ONE, false, LOGGING, NULL},
    {"--disable-uvicorn-access-log", ARG_NONE, false, LOGGING, NULL},
    {"--otlp-traces-endpoint", ARG_ONE, false, "no tracing; /metrics has the figures", NULL},
    {"--collect-detailed-traces", ARG_ONE, false, "no tracing; /metrics has the figures", NULL},
    {"--enable-server-load-tracking", ARG_NONE, false,
     "the running-request gauge is always on /metrics", NULL},
    {"--disable-fastapi-docs", ARG_NONE, false, "there are no API docs pages", NULL},
    {"--enable-request-id-headers", ARG_NONE, false, "responses carry their id in the body",
     NULL},
    {"--allowed-origins", ARG_ONE, false, "no CORS headers are sent", NULL},
    {"--allow-credentials", ARG_NONE, false, "no CORS headers are sent", NULL},
    {"--allowed-methods", ARG_ONE, false, "no CORS headers are sent", NULL},
    {"--allowed-headers", ARG_ONE, false, "no CORS headers are sent", NULL},
    {"--use-tqdm-on-load", ARG_NONE, false, "loading prints no progress bar", NULL},
    {"--tokenizer-pool-size", ARG_ONE, false, "tokenizing runs on the request's thread", NULL},
    /* Refused: going on without them would be silently wrong. */
    {"--ssl-keyfile", ARG_ONE, false, NULL,
     "TLS is not built into kvspill serve: terminate TLS in front of it (an Ingress, or a "
     "proxy on the node)"},
    {"--ssl-certfile", ARG_ONE, false, NULL,
     "TLS is not built into kvspill serve: terminate TLS in front of it (an Ingress, or a "
     "proxy on the node)"},
    {"--ssl-ca-certs", ARG_ONE, false, NULL,
     "TLS is not built into kvspill serve: terminate TLS in front of it"},
    {"--ssl-cert-reqs", ARG_ONE, false, NULL,
     "TLS is not built into kvspill serve: terminate TLS in front of it"},
    {"--root-path", ARG_ONE, false, NULL,
     "kvspill serve answers at /; strip the prefix in the proxy in front of it"},
    {"--middleware", ARG_SOME, false, NULL, "--middleware loads Python code, which kvspill has not"},
};

void vllm_flags_normalize(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            continue;
        if (!a[2])
            break; /* "--": what follows is not a flag */
        for (char *p = a + 2; *p && *p != '='; p++)
            if (*p == '_')
                *p = '-';
    }
}

/* The table entry argument a names ("--x", "--x=V", "--no-x" for a switch). */
static const vllm_flag *lookup(const char *a, const char **inline_value, bool *negated)
{
    *inline_value = NULL;
    *negated = false;
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        const vllm_flag *f = &flags[i];
        size_t n = strlen(f->name);
        bool plain = len == n && !strncmp(a, f->name, n);
        bool no = f->arg == ARG_NONE && !strncmp(a, "--no-", 5) && len == n + 3 &&
                  !strncmp(a + 5, f->name + 2, n - 2);
        if (plain || no) {
            *inline_value = eq ? eq + 1 : NULL;
            *negated = no;
            return f;
        }
    }
    return NULL;
}

void vllm_ignored_add(vllm_ignored *ig, const char *flag, const char *value, const char *why)
{
    size_t cap = sizeof ig->text;
    size_t used = strlen(ig->text);
    if (used >= cap - 1)
        return;
    snprintf(ig->text + used, cap - used, "%s%s%s%s (%s)", ig->n ? "; " : "", flag,
             value ? " " : "", value ? value : "", why);
    ig->n++;
}

int vllm_flags_filter(int argc, char **argv, vllm_ignored *ignored, char *refused,
                      size_t refused_cap)
{
    refused[0] = '\0';
    int out = 1;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        const char *value;
        bool negated;
        const vllm_flag *f = a[0] == '-' ? lookup(a, &value, &negated) : NULL;
        if (!f) {
            argv[out++] = a;
            continue;
        }
        if (f->arg != ARG_NONE && !value) {
            if (i + 1 >= argc) {
                snprintf(refused, refused_cap, "%s: missing its value", f->name);
                return -1;
            }
            value = argv[++i];
            /* nargs='+': the values up to the next flag; the first is shown. */
            while (f->arg == ARG_SOME && i + 1 < argc && argv[i + 1][0] != '-')
                i++;
        }
        if (!f->why) {
            snprintf(refused, refused_cap, "%s: %s", f->name, f->refusal);
            return -1;
        }
        if (f->quiet_if_one && value && !strcmp(value, "1"))
            continue;
        vllm_ignored_add(ignored, negated ? a : f->name, value, f->why);
    }
    argv[out] = NULL;
    return out;
}
