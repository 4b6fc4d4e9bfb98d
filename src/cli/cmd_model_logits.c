/* kvspill model logits: evaluates a token list in one batch and writes the logits of the
 * listed positions as rows of n_vocab little-endian float32 values, in list order (the
 * format of the reference .logits.f32 files). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_file.h"
#include "cli/commands.h"
#include "tools/model_runner.h"

static void usage(FILE *f, const char *cmd)
{
    fprintf(f, "usage: kvspill %s --model FILE --tokens-file T --positions-file P --out F\n"
               "         [--device auto|cpu|cuda] [--kv f16|f32] [--threads N]\n"
               "         [--kernels auto|scalar|avx2|avx512]\n", cmd);
}

int cmd_model_logits(int argc, char **argv)
{
    const char *cmd = argv[0], *tokens_path = NULL, *pos_path = NULL, *out_path = NULL;
    model_runner_opts o = {0};
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"tokens-file", required_argument, 0, 't'},
        {"positions-file", required_argument, 0, 'p'}, {"out", required_argument, 0, 'o'},
        {"kv", required_argument, 0, 'k'},     {"threads", required_argument, 0, 'j'},
        {"kernels", required_argument, 0, 'K'}, {"device", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model_path = optarg; break;
        case 't': tokens_path = optarg; break;
        case 'p': pos_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'k': o.kv = optarg; break;
        case 'j': o.threads = atoi(optarg); break;
        case 'K': o.kernels = optarg; break;
        case 'D': o.device = optarg; break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    if (!o.model_path || !tokens_path || !pos_path || !out_path || optind != argc) {
        usage(stderr, cmd);
        return 2;
    }
    int32_t *tokens = NULL, *positions = NULL;
    uint32_t n_tok, n_pos;
    if (cli_read_ints(cmd, tokens_path, &tokens, &n_tok) ||
        cli_read_ints(cmd, pos_path, &positions, &n_pos)) {
        free(tokens);
        return 2;
    }
    int status = 2;
    model_runner e;
    uint32_t *pos = malloc((n_tok + 1) * sizeof *pos), *seq = calloc(n_tok + 1, sizeof *seq);
    o.max_pos = n_tok;
    if (!pos || !seq || n_tok == 0 || model_runner_open(cmd, &o, &e) != 0) {
        if (n_tok == 0)
            fprintf(stderr, "kvspill %s: %s: no tokens\n", cmd, tokens_path);
        goto out;
    }
    for (uint32_t i = 0; i < n_tok; i++)
        pos[i] = i;
    for (uint32_t i = 0; i < n_pos; i++)
        if (positions[i] < 0 || (uint32_t)positions[i] >= n_tok) {
            fprintf(stderr, "kvspill %s: position %d outside the %u tokens\n", cmd,
                    positions[i], n_tok);
            goto close;
        }
    size_t vocab = e.m->hp.n_vocab;
    float *logits = malloc((n_pos ? n_pos : 1) * vocab * sizeof *logits);
    fwd_batch b = {n_tok, tokens, pos, seq, n_pos, (const uint32_t *)positions};
    model_error err = {{0}};
    if (!logits) {
        fprintf(stderr, "kvspill %s: out of memory\n", cmd);
    } else if (model_runner_eval(&e, &b, logits, &err) != 0) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        status = 1;
    } else {
        FILE *f = fopen(out_path, "wb");
        if (!f || fwrite(logits, sizeof *logits, n_pos * vocab, f) != n_pos * vocab) {
            fprintf(stderr, "kvspill %s: cannot write %s\n", cmd, out_path);
            status = 1;
        } else {
            status = 0;
        }
        if (f && fclose(f) != 0 && status == 0) {
            fprintf(stderr, "kvspill %s: cannot write %s\n", cmd, out_path);
            status = 1;
        }
    }
    free(logits);
close:
    model_runner_close(&e);
out:
    free(pos);
    free(seq);
    free(tokens);
    free(positions);
    return status;
}
