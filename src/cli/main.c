/* kvspill: the command-line entry point. Dispatches "GROUP SUB ..." or "CMD ..." to the
 * functions of commands.h. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "tools/bench/bench.h"

typedef struct command {
    const char *group; /* NULL for a top-level command */
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"cache", "ls", cmd_cache_ls, "list the objects of a cache directory"},
    {"cache", "stat", cmd_cache_stat, "totals per namespace of a cache directory"},
    {"cache", "verify", cmd_cache_verify, "check every object's checksums (--remove drops bad ones)"},
    {"cache", "gc", cmd_cache_gc, "evict least recently used objects down to a size"},
    {"model", "info", cmd_model_info, "architecture, shapes, types and vocabulary of a GGUF"},
    {"model", "gen", cmd_model_gen, "write a Llama-shaped GGUF with seeded random weights"},
    {"model", "tokenize", cmd_model_tokenize, "print the token ids of a text"},
    {"model", "logits", cmd_model_logits, "write the logits of chosen prompt positions"},
    {NULL, "generate", cmd_generate, "generate tokens from a prompt"},
    {NULL, "serve", cmd_serve, "OpenAI-compatible server with KV offload"},
    {NULL, "router", cmd_router, "OpenAI-compatible front for several serve replicas"},
    {"bench", "io", bench_io, "file tier bandwidth against the raw file system"},
    {"bench", "engine", bench_engine, "prefill and decode tokens/s of the engine"},
    {"bench", "ttft", bench_ttft, "time to first token, cold and warm from each tier"},
    {"bench", "codec", bench_codec, "accuracy, bytes and speed of the offload KV codecs"},
    {"bench", "scale", bench_scale, "file tier cost per operation at 10^4..10^6 objects"},
    {"bench", "router", bench_router, "what the router adds to a request, against direct access"},
    {"bench", "gds", bench_gds, "GPUDirect Storage against pread + cudaMemcpy (GPU)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: kvspill COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char full[64];
        snprintf(full, sizeof full, "%s%s%s", commands[i].group ? commands[i].group : "",
                 commands[i].group ? " " : "", commands[i].name);
        fprintf(out, "  %-16s %s\n", full, commands[i].summary);
    }
    fprintf(out, "\nRun 'kvspill COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const command *c = &commands[i];
        if (!c->group && !strcmp(argv[1], c->name)) {
            argv[1] = (char *)c->name;
            return c->run(argc - 1, argv + 1);
        }
        if (c->group && !strcmp(argv[1], c->group) && argc >= 3 && !strcmp(argv[2], c->name)) {
            char full[64];
            snprintf(full, sizeof full, "%s %s", c->group, c->name);
            argv[2] = full;
            return c->run(argc - 2, argv + 2);
        }
    }
    fprintf(stderr, "kvspill: unknown command '%s%s%s'\n", argv[1], argc >= 3 ? " " : "",
            argc >= 3 ? argv[2] : "");
    usage(stderr);
    return 2;
}
