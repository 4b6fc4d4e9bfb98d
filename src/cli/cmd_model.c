/* kvspill model info / model tokenize: what a GGUF holds, and the token ids of a text. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_file.h"
#include "cli/commands.h"
#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

typedef struct model_summary {
    char arch[64], name[128];
    int64_t layers, dim, heads, kv_heads, head_dim, ff, ctx, rope_dims, vocab;
    float rope_base;
    char tok_model[32], tok_pre[64], chat[16], chat_source[MODEL_ERROR_MAX + 16];
    int64_t bos, eos;
    uint64_t type_count[64];
    char fingerprint[65];
} model_summary;

static void copy_str(const gguf_file *gf, const char *key, char *out, size_t cap, const char *dflt)
{
    gguf_string s;
    if (gguf_get_str(gf, key, &s) == 0)
        snprintf(out, cap, "%.*s", (int)(s.len < cap ? s.len : cap - 1), s.ptr);
    else
        snprintf(out, cap, "%s", dflt);
}

/* -1 when absent */
static int64_t arch_int(const gguf_file *gf, const char *arch, const char *suffix)
{
    char key[160];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_i64(gf, key, &v) == 0 ? v : -1;
}

static void summarize(const gguf_file *gf, model_summary *s)
{
    memset(s, 0, sizeof *s);
    copy_str(gf, "general.architecture", s->arch, sizeof s->arch, "unknown");
    copy_str(gf, "general.name", s->name, sizeof s->name, "");
    s->layers = arch_int(gf, s->arch, "block_count");
    s->dim = arch_int(gf, s->arch, "embedding_length");
    s->heads = arch_int(gf, s->arch, "attention.head_count");
    s->kv_heads = arch_int(gf, s->arch, "attention.head_count_kv");
    if (s->kv_heads < 0)
        s->kv_heads = s->heads;
    /* Qwen3's heads are wider than dim / heads: attention.key_length says so */
    s->head_dim = arch_int(gf, s->arch, "attention.key_length");
    if (s->head_dim < 0 && s->dim > 0 && s->heads > 0)
        s->head_dim = s->dim / s->heads;
    s->ff = arch_int(gf, s->arch, "feed_forward_length");
    s->ctx = arch_int(gf, s->arch, "context_length");
    s->rope_dims = arch_int(gf, s->arch, "rope.dimension_count");
    if (s->rope_dims < 0 && s->dim > 0 && s->heads > 0)
        s->rope_dims = s->dim / s->heads;
    char key[160];
    snprintf(key, sizeof key, "%s.rope.freq_base", s->arch);
    if (gguf_get_f32(gf, key, &s->rope_base))
        s->rope_base = 10000.0f;
    copy_str(gf, "tokenizer.ggml.model", s->tok_model, sizeof s->tok_model, "none");
    s->bos = s->eos = -1;
    s->vocab = arch_int(gf, s->arch, "vocab_size");
    tokenizer *tk;
    model_error err;
    if (tokenizer_load(gf, &tk, &err) == 0) {
        snprintf(s->tok_pre, sizeof s->tok_pre, "%s", tokenizer_pre_name(tk));
        s->vocab = tokenizer_n_vocab(tk);
        s->bos = tokenizer_bos(tk);
        s->eos = tokenizer_eos(tk);
        tokenizer_free(tk);
    }
    gguf_string tmpl = {NULL, 0};
    (void)gguf_get_str(gf, "tokenizer.chat_template", &tmpl);
    chat_template ct = chat_template_detect(tmpl.ptr, tmpl.len);
    snprintf(s->chat, sizeof s->chat, "%s", ct.known ? chat_family_name(ct.family) : "none");
    /* how serve renders chats: the GGUF's template through the Jinja interpreter, the
     * ChatML fallback when there is none, or the reason the template is refused */
    chat_template loaded;
    model_error terr;
    gguf_string tool_use = {NULL, 0};
    (void)gguf_get_str(gf, "tokenizer.chat_template.tool_use", &tool_use);
    int trc = chat_template_load(&loaded, tmpl.ptr, tmpl.len, NULL, NULL, false, &terr);
    if (trc == 0 && chat_template_add_tool_use(&loaded, tool_use.ptr, tool_use.len, &terr)) {
        chat_template_free(&loaded);
        trc = -1;
    }
    if (trc == 0) {
        snprintf(s->chat_source, sizeof s->chat_source, "%s (%s%s)", chat_source_name(loaded.source),
                 loaded.jinja ? "jinja" : chat_family_name(loaded.family),
                 loaded.jinja_tool_use ? ", tool_use variant" : "");
        chat_template_free(&loaded);
    } else {
        snprintf(s->chat_source, sizeof s->chat_source, "refused: %s", terr.msg);
    }
    for (uint64_t i = 0; i < gguf_n_tensors(gf); i++) {
        uint32_t t = gguf_tensor_at(gf, i)->type;
        s->type_count[t < 64 ? t : 63]++;
    }
    const uint8_t *fp = gguf_fingerprint(gf);
    for (int i = 0; i < 32; i++)
        snprintf(s->fingerprint + 2 * i, 3, "%02x", fp[i]);
}

static void print_text(const gguf_file *gf, const model_summary *s)
{
    printf("file: %s\n", gguf_path(gf));
    printf("gguf_version: %u\n", gguf_version(gf));
    printf("file_size: %llu\n", (unsigned long long)gguf_file_size(gf));
    printf("fingerprint: %s\n", s->fingerprint);
    printf("architecture: %s\n", s->arch);
    if (s->name[0])
        printf("name: %s\n", s->name);
    printf("layers: %lld\ndim: %lld\nheads: %lld\nkv_heads: %lld\nhead_dim: %lld\nff: %lld\n"
           "context: %lld\n", (long long)s->layers, (long long)s->dim, (long long)s->heads,
           (long long)s->kv_heads, (long long)s->head_dim, (long long)s->ff, (long long)s->ctx);
    printf("rope_base: %g\nrope_dims: %lld\n", s->rope_base, (long long)s->rope_dims);
    printf("vocab_size: %lld\ntokenizer: %s\ntokenizer_pre: %s\nbos: %lld\neos: %lld\n",
           (long long)s->vocab, s->tok_model, s->tok_pre[0] ? s->tok_pre : "none",
           (long long)s->bos, (long long)s->eos);
    printf("chat_template: %s\nchat_template_source: %s\n", s->chat, s->chat_source);
    printf("tensors: %llu\ntypes:", (unsigned long long)gguf_n_tensors(gf));
    for (uint32_t t = 0; t < 64; t++)
        if (s->type_count[t])
            printf(" %s=%llu", ggml_type_name(t), (unsigned long long)s->type_count[t]);
    printf("\n");
}

static int print_json(const gguf_file *gf, const model_summary *s)
{
    json_t *types = json_object();
    for (uint32_t t = 0; t < 64; t++)
        if (s->type_count[t])
            json_object_set_new(types, ggml_type_name(t), json_integer((json_int_t)s->type_count[t]));
    json_t *o = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I,"
                          " s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:o}",
                          "file", gguf_path(gf), "gguf_version", (int)gguf_version(gf),
                          "file_size", (json_int_t)gguf_file_size(gf), "fingerprint", s->fingerprint,
                          "architecture", s->arch, "name", s->name, "layers", (json_int_t)s->layers,
                          "dim", (json_int_t)s->dim, "heads", (json_int_t)s->heads,
                          "kv_heads", (json_int_t)s->kv_heads, "head_dim", (json_int_t)s->head_dim,
                          "ff", (json_int_t)s->ff,
                          "context", (json_int_t)s->ctx, "rope_base", (double)s->rope_base,
                          "rope_dims", (json_int_t)s->rope_dims, "vocab_size", (json_int_t)s->vocab,
                          "tokenizer", s->tok_model, "tokenizer_pre", s->tok_pre,
                          "bos", (json_int_t)s->bos, "eos", (json_int_t)s->eos,
                          "chat_template", s->chat, "chat_template_source", s->chat_source, "tensors", (json_int_t)gguf_n_tensors(gf),
                          "types", types);
    if (!o)
        return -1;
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return -1;
    printf("%s\n", text);
    free(text);
    return 0;
}

int cmd_model_info(int argc, char **argv)
{
    const char *cmd = argv[0];
    bool json = false;
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else {
            fprintf(c == 'h' ? stdout : stderr, "usage: kvspill %s [--json] FILE\n", cmd);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: kvspill %s [--json] FILE\n", cmd);
        return 2;
    }
    gguf_file *gf;
    model_error err;
    if (gguf_open(argv[optind], &gf, &err)) {
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
        return 1;
    }
    model_summary s;
    summarize(gf, &s);
    int rc = 0;
    if (json)
        rc = print_json(gf, &s) ? 2 : 0;
    else
        print_text(gf, &s);
    gguf_close(gf);
    return rc;
}

int cmd_model_tokenize(int argc, char **argv)
{
    const char *cmd = argv[0], *model = NULL, *text_file = NULL;
    bool bos = false, special = false;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"text-file", required_argument, 0, 't'},
        {"bos", no_argument, 0, 'b'},         {"special", no_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *usage = "usage: kvspill %s --model FILE --text-file F [--bos] [--special]\n"
                        "  --bos      add the special tokens the model asks for (BOS)\n"
                        "  --special  turn special-token texts (e.g. <|im_start|>) into their ids\n";
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't': text_file = optarg; break;
        case 'b': bos = true; break;
        case 's': special = true; break;
        case 'h': printf(usage, cmd); return 0;
        default: fprintf(stderr, usage, cmd); return 2;
        }
    }
    if (!model || !text_file || optind != argc) {
        fprintf(stderr, usage, cmd);
        return 2;
    }
    size_t len;
    char *text = cli_read_file(text_file, &len);
    if (!text) {
        fprintf(stderr, "kvspill %s: cannot read %s: %s\n", cmd, text_file, strerror(errno));
        return 2;
    }
    gguf_file *gf;
    tokenizer *tk = NULL;
    model_error err;
    token_ids ids = {0};
    int status = 1;
    if (gguf_open(model, &gf, &err) == 0) {
        if (tokenizer_load(gf, &tk, &err) == 0 &&
            tokenizer_encode(tk, text, len, bos, special, &ids, &err) == 0) {
            for (size_t i = 0; i < ids.n; i++)
                printf(i ? " %d" : "%d", ids.ids[i]);
            printf("\n");
            status = 0;
        }
        tokenizer_free(tk);
        gguf_close(gf);
    }
    if (status)
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
    token_ids_free(&ids);
    free(text);
    return status;
}
