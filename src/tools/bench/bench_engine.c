/* kvspill bench engine: prefill and decode tokens/s of the forward pass on a model, with
 * seeded random prompt tokens (a prefill of --prompt-tokens in one batch, then
 * --gen-tokens single-token decode steps), as llama-bench's pp/tg figures. Judged against
 * baselines measured in the same run with the same threads and instruction set
 * (engine_roofline.h): a decode step must read every weight once, so read bandwidth ÷ the
 * bytes of a step is the decode roofline; a prefill's flops ÷ its time against the
 * multiply-add peak is the prefill fraction. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bench/bench.h"
#include "tools/model_runner.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/engine_roofline.h"

static void usage(FILE *f, const char *cmd)
{
    fprintf(f, "usage: kvspill %s --model FILE [--prompt-tokens 512] [--gen-tokens 64]\n"
               "         [--device auto|cpu|cuda] [--threads 2] [--kv f16|f32]\n"
               "         [--kernels auto|scalar|avx2|avx512] [--json]\n", cmd);
}

int bench_engine(int argc, char **argv)
{
    const char *cmd = argv[0];
    model_runner_opts o = {.threads = 2};
    long n_prompt = 512, n_gen = 64;
    int json = 0;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"prompt-tokens", required_argument, 0, 'p'},
        {"gen-tokens", required_argument, 0, 'g'}, {"threads", required_argument, 0, 'j'},
        {"kv", required_argument, 0, 'v'},       {"kernels", required_argument, 0, 'K'},
        {"json", no_argument, 0, 'J'},           {"device", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o.model_path = optarg; break;
        case 'p': n_prompt = atol(optarg); break;
        case 'g': n_gen = atol(optarg); break;
        case 'j': o.threads = atoi(optarg); break;
        case 'v': o.kv = optarg; break;
        case 'K': o.kernels = optarg; break;
        case 'J': json = 1; break;
        case 'D': o.device = optarg; break;
        case 'h': usage(stdout, cmd); return 0;
        default: usage(stderr, cmd); return 2;
        }
    }
    if (!o.model_path || n_prompt < 1 || n_prompt > 65536 || n_gen < 0 || n_gen > 65536 ||
        o.threads < 1 || o.threads > 64 || optind != argc) {
        usage(stderr, cmd);
        return 2;
    }
    model_runner e;
    o.max_pos = (uint32_t)(n_prompt + n_gen);
    if (model_runner_open(cmd, &o, &e) != 0)
        return 2;
    uint32_t vocab = e.m->hp.n_vocab, np = (uint32_t)n_prompt;
    int32_t *tok = malloc(np * sizeof *tok);
    uint32_t *pos = malloc(np * sizeof *pos), *seq = calloc(np, sizeof *seq);
    float *logits = malloc(vocab * sizeof *logits);
    int status = 1;
    model_error err = {{0}};
    if (!tok || !pos || !seq || !logits) {
        fprintf(stderr, "kvspill %s: out of memory\n", cmd);
        goto out;
    }
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (uint32_t i = 0; i < np; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tok[i] = (int32_t)(x % vocab);
        pos[i] = i;
    }
    uint32_t last = np - 1, zero = 0;
    fwd_batch b = {np, tok, pos, seq, 1, &last};
    double t0 = bench_now_s();
    if (model_runner_eval(&e, &b, logits, &err) != 0)
        goto fail;
    double t_prefill = bench_now_s() - t0;
    t0 = bench_now_s();
    for (long i = 0; i < n_gen; i++) {
        int32_t t = tok[i % np];
        uint32_t p = np + (uint32_t)i;
        fwd_batch step = {1, &t, &p, &zero, 1, &zero};
        if (model_runner_eval(&e, &step, logits, &err) != 0)
            goto fail;
    }
    double t_decode = bench_now_s() - t0;
    double pp = np / t_prefill, tg = n_gen ? n_gen / t_decode : 0.0;
    const model_hparams *hp = &e.m->hp;
    engine_roofline rf;
    if (engine_roofline_measure(cmd, e.gf, e.m, e.ks, o.threads, &rf) != 0)
        goto out;
    double roof_tps = rf.read_gbs * 1e9 / rf.decode_bytes;
    double pp_gflops = engine_prefill_flops(e.gf, e.m, np, 1) / t_prefill / 1e9;
    if (json)
        printf("{\"model\":\"%s\",\"arch\":\"%s\",\"weight_type\":\"%s\",\"n_layer\":%u,"
               "\"n_embd\":%u,\"n_vocab\":%u,\"device\":\"%s\",\"threads\":%d,\"kv\":\"%s\","
               "\"prompt_tokens\":%u,\"gen_tokens\":%ld,\"prefill_s\":%.4f,\"decode_s\":%.4f,"
               "\"prefill_tps\":%.3f,\"decode_tps\":%.3f,\"baseline_isa\":\"%s\","
               "\"decode_bytes\":%.0f,\"read_gbs\":%.4g,\"decode_roofline_tps\":%.3f,"
               "\"decode_fraction\":%.4g,\"prefill_gflops\":%.4g,\"peak_kind\":\"%s\","
               "\"peak_gflops\":%.4g,\"prefill_fraction\":%.4g}\n",
               o.model_path, e.m->arch, model_weight_type_name(e.m), hp->n_layer, hp->n_embd,
               hp->n_vocab, e.be->device_name, o.threads,
               e.kv->dtype == KV_F32 ? "f32" : "f16", np, n_gen, t_prefill, t_decode, pp, tg,
               rf.isa, rf.decode_bytes, rf.read_gbs, roof_tps, tg / roof_tps, pp_gflops,
               rf.peak_kind, rf.peak_gflops, pp_gflops / rf.peak_gflops);
    else
        printf("model %s (%s, %s, %u layers, dim %u)\ndevice %s, kv %s\n"
               "prefill: %u tokens in %.3f s = %.2f tokens/s = %.2f GFLOP/s\n"
               "decode:  %ld tokens in %.3f s = %.2f tokens/s\n"
               "baselines (%s, %d thread%s): read %.2f GB/s, %s peak %.2f GFLOP/s\n"
               "decode roofline: %.0f MB a step at %.2f GB/s = %.2f tokens/s (fraction %.3f)\n"
               "prefill fraction of peak: %.3f\n",
               o.model_path, e.m->arch, model_weight_type_name(e.m), hp->n_layer, hp->n_embd,
               e.be->device_name, e.kv->dtype == KV_F32 ? "f32" : "f16",
               np, t_prefill, pp, pp_gflops, n_gen, t_decode, tg, rf.isa, o.threads,
               o.threads == 1 ? "" : "s", rf.read_gbs, rf.peak_kind, rf.peak_gflops,
               rf.decode_bytes / 1e6, rf.read_gbs, roof_tps, tg / roof_tps,
               pp_gflops / rf.peak_gflops);
    status = 0;
    goto out;
fail:
    fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
out:
    free(tok);
    free(pos);
    free(seq);
    free(logits);
    model_runner_close(&e);
    return status;
}
