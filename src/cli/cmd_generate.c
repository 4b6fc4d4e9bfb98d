/* kvspill generate: a prompt (text through the model's tokenizer, or token ids) through
 * the forward pass, then N tokens sampled one decode step at a time. Prints the generated
 * ids on one line, then their text. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_file.h"
#include "cli/commands.h"
#include "model/sampler.h"
#include "model/tokenizer.h"
#include "tools/model_runner.h"

static void usage(FILE *f, const char *cmd)
{
    fprintf(f, "usage: kvspill %s --model FILE (--prompt-file F | --tokens-file T) -n N\n"
               "         [--greedy] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S]\n"
               "         [--device auto|cpu|cuda] [--threads N] [--kv f16|f32]\n"
               "         [--kernels auto|scalar|avx2|avx512]\n"
               "Sampling defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05.\n", cmd);
}

/* Prompt ids from a text file through the tokenizer (BOS as the model asks). */
static int tokenize_file(const char *cmd, const char *path, const tokenizer *tk, int32_t **ids,
                         uint32_t *n)
{
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "kvspill %s: cannot read %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    token_ids out = {0};
    model_error err = {{0}};
    int rc = tokenizer_encode(tk, text, len, true, false, &out, &err);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "kvspill %s: %s: %s\n", cmd, path, err.msg);
        token_ids_free(&out);
        return -1;
    }
    *ids = out.ids;
    *n = (uint32_t)out.n;
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    const char *cmd = argv[0], *prompt_path = NULL, *tokens_path = NULL;
    model_runner_opts o = {0};
    sampler_config sc = sampler_config_default();
    sc.temperature = 0.8f;
    sc.top_k = 40;
    sc.top_p = 0.95f;
    sc.min_p = 0.05f;
    long n_gen = -1;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"prompt-file", required_argument, 0, 'P'},
        {"tokens-file", required_argument, 0, 't'}, {"greedy", no_argument, 0, 'g'},
        {"temp", required_argument, 0, 'T'},    {"top-k", required_argument, 0, 'k'},
        {"top-p", required_argument, 0, 'p'},   {"min-p", required_argument, 0, 'M'},
        {"seed", required_argument, 0, 's'},    {"threads", required_argument, 0, 'j'},
        {"kv", required_argument, 0, 'v'},      {"kernels", required_argument, 0, 'K'},
        {"device", required_argument, 0, 'D'},  {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model_path = optarg; break;
        case 'P': prompt_path = optarg; break;
        case 't': tokens_path = optarg; break;
        case 'n': n_gen = atol(optarg); break;
        case 'g': sc.temperature = 0.0f; break;
        case 'T': sc.temperature = strtof(optarg, NULL); break;
        case 'k': sc.top_k = atoi(optarg); break;
        case 'p': sc.top_p = strtof(optarg, NULL); break;
        case 'M': sc.min_p = strtof(optarg, NULL); break;
        case 's': sc.seed = strtoull(optarg, NULL, 10); break;
        case 'j': o.threads = atoi(optarg); break;
        case 'v': o.kv = optarg; break;
        case 'K': o.kernels = optarg; break;
        case 'D': o.device = optarg; break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    if (!o.model_path || !prompt_path == !tokens_path || n_gen < 0 || n_gen > 1000000 ||
        optind != argc) {
        usage(stderr, cmd);
        return 2;
    }

    int status = 2;
    int32_t *prompt = NULL;
    uint32_t n_prompt = 0;
    gguf_file *vocab_gf = NULL;
    tokenizer *tk = NULL;
    model_error err = {{0}};
    if (gguf_open(o.model_path, &vocab_gf, &err) || tokenizer_load(vocab_gf, &tk, &err)) {
        /* Without a vocabulary, ids still work; text needs it. */
        if (prompt_path) {
            fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
            gguf_close(vocab_gf);
            return 2;
        }
        tk = NULL;
    }
    gguf_close(vocab_gf);
    if (tokens_path ? cli_read_ints(cmd, tokens_path, &prompt, &n_prompt)
                    : tokenize_file(cmd, prompt_path, tk, &prompt, &n_prompt))
        goto out;
    if (n_prompt == 0) {
        fprintf(stderr, "kvspill %s: empty prompt\n", cmd);
        goto out;
    }
    model_runner e;
    o.max_pos = n_prompt + (uint32_t)n_gen;
    if (model_runner_open(cmd, &o, &e) != 0)
        goto out;
    uint32_t vocab = e.m->hp.n_vocab;
    float *logits = malloc(vocab * sizeof *logits);
    uint32_t *pos = malloc(n_prompt * sizeof *pos), *seq = calloc(n_prompt, sizeof *seq);
    int32_t *out_ids = malloc(((size_t)n_gen + 1) * sizeof *out_ids);
    sampler *smp = NULL;
    if (!logits || !pos || !seq || !out_ids) {
        fprintf(stderr, "kvspill %s: out of memory\n", cmd);
        goto close;
    }
    if (sampler_create(&sc, vocab, &smp, &err) != 0)
        goto fail;
    for (uint32_t i = 0; i < n_prompt; i++) {
        pos[i] = i;
        sampler_accept(smp, prompt[i]);
    }
    uint32_t last = n_prompt - 1, zero = 0, n_out = 0;
    fwd_batch b = {n_prompt, prompt, pos, seq, 1, &last};
    status = 1;
    if (model_runner_eval(&e, &b, logits, &err) != 0)
        goto fail;
    while (n_out < (uint32_t)n_gen) {
        int32_t t = sampler_sample(smp, logits);
        out_ids[n_out++] = t;
        sampler_accept(smp, t);
        if ((tk && tokenizer_is_eog(tk, t)) || n_out == (uint32_t)n_gen)
            break;
        uint32_t p = n_prompt + n_out - 1;
        fwd_batch step = {1, &t, &p, &zero, 1, &zero};
        if (model_runner_eval(&e, &step, logits, &err) != 0)
            goto fail;
    }
    for (uint32_t i = 0; i < n_out; i++)
        printf("%s%d", i ? " " : "", out_ids[i]);
    printf("\n");
    if (tk) {
        tok_bytes text = {0};
        if (tokenizer_decode(tk, out_ids, n_out, false, &text, &err) != 0)
            goto fail;
        fwrite(text.p, 1, text.n, stdout);
        printf("\n");
        tok_bytes_free(&text);
    }
    status = 0;
    goto close;
fail:
    fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
close:
    sampler_destroy(smp);
    free(out_ids);
    free(seq);
    free(pos);
    free(logits);
    model_runner_close(&e);
out:
    tokenizer_free(tk);
    free(prompt);
    return status;
}
