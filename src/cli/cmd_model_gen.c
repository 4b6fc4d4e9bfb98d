/* kvspill model gen: a llama, qwen2 or qwen3 GGUF with seeded random weights. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "tools/model_gen.h"

static void usage(FILE *f, const char *cmd)
{
    fprintf(f, "usage: kvspill %s --out FILE [--arch llama|qwen2|qwen3] [--layers N] [--dim N]\n"
               "         [--heads N] [--kv-heads N] [--head-dim N] [--tie-output] [--ff N]\n"
               "         [--ctx N] [--rope-base F] [--seed N] [--vocab-from GGUF] [--vocab-style chatml|tekken]\n"
               "         [--type f32|f16|bf16|q8_0|q4_0|q4_k|q6_k|q4_k_m]\n"
               "defaults: llama, 2 layers, dim 64, 4 heads, 2 kv heads, head size dim / heads, ff 128,\n"
               "ctx 2048, rope base 10000, f32, seed 1, an output.weight of its own, a generated\n"
               "byte-level BPE vocabulary with a ChatML template (qwen2/qwen3: the qwen2\n"
               "pre-tokenizer, no BOS, Qwen's template with its default system prompt). qwen2 adds\n"
               "Q/K/V biases, qwen3 per-head Q/K norms; both use NeoX RoPE. --head-dim writes\n"
               "attention.key_length (Qwen3's heads are wider than dim / heads). --tie-output\n"
               "leaves out output.weight, as small Qwen models do. --vocab-style tekken makes the\n"
               "vocabulary Mistral Small 3's way: the tekken pre-tokenizer, <unk> <s> </s> and\n"
               "Mistral's control tokens ([INST], [SYSTEM_PROMPT], [TOOL_CALLS], ...) as ids 0-19,\n"
               "the v7 chat template (llama only).\n"
               "q4_k, q6_k and q4_k_m need dim and ff to be multiples of 256. q4_k_m is Q4_K with\n"
               "Q6_K for output.weight and for attn_v/ffn_down of the first and last eighth of the\n"
               "layers and every third layer between; norms are always f32.\n", cmd);
}

static void progress(uint64_t done, uint64_t total, void *ctx)
{
    fprintf(stderr, "\r%s: %llu / %llu MiB (%d%%)", (const char *)ctx,
            (unsigned long long)(done >> 20), (unsigned long long)(total >> 20),
            total ? (int)(done * 100 / total) : 100);
    if (done == total)
        fprintf(stderr, "\n");
}

static int parse_u32(const char *cmd, const char *opt, const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > UINT32_MAX || s[0] == '-') {
        fprintf(stderr, "kvspill %s: --%s: '%s' is not a count\n", cmd, opt, s);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_type(const char *s, model_gen_params *p)
{
    static const struct { const char *name; uint32_t type; model_gen_mix mix; } types[] = {
        {"f32", GGML_TYPE_F32, MODEL_GEN_UNIFORM},   {"f16", GGML_TYPE_F16, MODEL_GEN_UNIFORM},
        {"bf16", GGML_TYPE_BF16, MODEL_GEN_UNIFORM}, {"q8_0", GGML_TYPE_Q8_0, MODEL_GEN_UNIFORM},
        {"q4_0", GGML_TYPE_Q4_0, MODEL_GEN_UNIFORM}, {"q4_k", GGML_TYPE_Q4_K, MODEL_GEN_UNIFORM},
        {"q6_k", GGML_TYPE_Q6_K, MODEL_GEN_UNIFORM}, {"q4_k_m", GGML_TYPE_Q4_K, MODEL_GEN_Q4_K_M}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(s, types[i].name)) {
            p->type = types[i].type;
            p->mix = types[i].mix;
            return 0;
        }
    return -1;
}

int cmd_model_gen(int argc, char **argv)
{
    const char *cmd = argv[0], *out = NULL, *vocab_from = NULL;
    model_gen_params p = {.n_layer = 2, .n_embd = 64, .n_head = 4, .n_head_kv = 2, .n_ff = 128,
                          .n_ctx = 2048, .rope_base = 10000.0f, .type = GGML_TYPE_F32, .seed = 1,
                          .vocab_from = NULL, .mix = MODEL_GEN_UNIFORM};
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},      {"layers", required_argument, 0, 'l'},
        {"dim", required_argument, 0, 'd'},      {"heads", required_argument, 0, 'H'},
        {"kv-heads", required_argument, 0, 'k'}, {"ff", required_argument, 0, 'f'},
        {"ctx", required_argument, 0, 'c'},      {"rope-base", required_argument, 0, 'r'},
        {"type", required_argument, 0, 't'},     {"seed", required_argument, 0, 's'},
        {"vocab-from", required_argument, 0, 'v'}, {"arch", required_argument, 0, 'a'},
        {"head-dim", required_argument, 0, 'D'}, {"tie-output", no_argument, 0, 'T'},
        {"vocab-style", required_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c, bad = 0;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'l': bad |= parse_u32(cmd, "layers", optarg, &p.n_layer); break;
        case 'd': bad |= parse_u32(cmd, "dim", optarg, &p.n_embd); break;
        case 'H': bad |= parse_u32(cmd, "heads", optarg, &p.n_head); break;
        case 'k': bad |= parse_u32(cmd, "kv-heads", optarg, &p.n_head_kv); break;
        case 'f': bad |= parse_u32(cmd, "ff", optarg, &p.n_ff); break;
        case 'c': bad |= parse_u32(cmd, "ctx", optarg, &p.n_ctx); break;
        case 'r':
            p.rope_base = strtof(optarg, &end);
            if (!*optarg || *end) {
                fprintf(stderr, "kvspill %s: --rope-base: '%s' is not a number\n", cmd, optarg);
                bad = 1;
            }
            break;
        case 't':
            if (parse_type(optarg, &p)) {
                fprintf(stderr, "kvspill %s: --type: '%s' (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k or q4_k_m)\n",
                        cmd, optarg);
                bad = 1;
            }
            break;
        case 's':
            p.seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end) {
                fprintf(stderr, "kvspill %s: --seed: '%s' is not a number\n", cmd, optarg);
                bad = 1;
            }
            break;
        case 'v': vocab_from = optarg; break;
        case 'a':
            if (model_gen_arch_parse(optarg, &p.arch)) {
                fprintf(stderr, "kvspill %s: --arch: '%s' (llama, qwen2 or qwen3)\n", cmd, optarg);
                bad = 1;
            }
            break;
        case 'D': bad |= parse_u32(cmd, "head-dim", optarg, &p.head_dim); break;
        case 'T': p.tie_output = true; break;
        case 'V':
            if (vocab_gen_style_parse(optarg, &p.vocab_style)) {
                fprintf(stderr, "kvspill %s: --vocab-style: '%s' (chatml or tekken)\n", cmd, optarg);
                bad = 1;
            }
            break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    if (bad || !out || optind != argc) {
        usage(stderr, cmd);
        return 2;
    }
    model_error err;
    gguf_file *vf = NULL;
    if (vocab_from && gguf_open(vocab_from, &vf, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        return 2;
    }
    p.vocab_from = vf;
    int rc = model_gen_write(&p, out, isatty(STDERR_FILENO) ? progress : NULL, (void *)out, &err);
    gguf_close(vf);
    if (rc) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        return 1;
    }
    return 0;
}
