#include "model/chat_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "template/jinja.h"

static bool has(const char *t, size_t len, const char *needle)
{
    return t && memmem(t, len, needle, strlen(needle)) != NULL;
}

chat_template chat_template_detect(const char *tmpl, size_t len)
{
    chat_template t = {.family = CHAT_CHATML, .known = true};
    if (has(tmpl, len, "<|im_start|>"))
        return t;
    if (has(tmpl, len, "<|start_header_id|>") && has(tmpl, len, "<|end_header_id|>")) {
        t.family = CHAT_LLAMA3;
    } else if (has(tmpl, len, "[INST]")) {
        t.family = CHAT_LLAMA2;
        t.llama2_sys_tags = has(tmpl, len, "<<SYS>>");
        t.llama2_bos_turns = has(tmpl, len, "bos_token + '[INST]");
        t.llama2_strip = has(tmpl, len, "content.strip()");
    } else if (has(tmpl, len, "<|assistant|>") && has(tmpl, len, "<|end|>")) {
        t.family = CHAT_PHI3;
    } else {
        t.known = false;
    }
    return t;
}

const char *chat_family_name(chat_family f)
{
    switch (f) {
    case CHAT_LLAMA3: return "llama3";
    case CHAT_LLAMA2: return "llama2";
    case CHAT_PHI3: return "phi3";
    default: return "chatml";
    }
}

const char *chat_source_name(chat_source s)
{
    return s == CHAT_SOURCE_GGUF ? "gguf" : s == CHAT_SOURCE_FLAG ? "flag" : "fallback";
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int chat_template_load(chat_template *t, const char *tmpl, size_t len, const char *bos, const char *eos,
                       bool strip_bos, model_error *err)
{
    *t = chat_template_detect(NULL, 0);
    t->source = CHAT_SOURCE_FALLBACK;
    t->strip_bos = strip_bos;
    t->bos_token = dup_or_empty(bos);
    t->eos_token = dup_or_empty(eos);
    if (!t->bos_token || !t->eos_token) {
        chat_template_free(t);
        return model_fail(err, "chat template: out of memory");
    }
    if (!tmpl || len == 0)
        return 0;
    chat_template fam = chat_template_detect(tmpl, len);
    jinja_error jerr;
    struct jinja_template *j = jinja_parse(tmpl, len, &jerr);
    if (!j) {
        chat_template_free(t);
        return model_fail(err, "the model's chat template cannot be used: %s", jerr.msg);
    }
    t->family = fam.family;
    t->known = fam.known;
    t->jinja = j;
    t->source = CHAT_SOURCE_GGUF;
    return 0;
}

int chat_template_add_tool_use(chat_template *t, const char *tmpl, size_t len, model_error *err)
{
    if (!tmpl || len == 0)
        return 0;
    jinja_error jerr;
    struct jinja_template *j = jinja_parse(tmpl, len, &jerr);
    if (!j)
        return model_fail(err, "the model's chat template tool_use cannot be used: %s", jerr.msg);
    jinja_free(t->jinja_tool_use);
    t->jinja_tool_use = j;
    return 0;
}

int chat_template_override(chat_template *t, const char *arg, model_error *err)
{
    static const chat_family families[] = {CHAT_CHATML, CHAT_LLAMA2, CHAT_LLAMA3, CHAT_PHI3};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (!strcmp(arg, chat_family_name(families[i]))) {
            /* the family's formatter, with its defaults (Llama 2 with <<SYS>> tags) */
            static const char *const markers[] = {"<|im_start|>", "[INST] <<SYS>>",
                                                  "<|start_header_id|><|end_header_id|>",
                                                  "<|assistant|><|end|>"};
            chat_template fam = chat_template_detect(markers[i], strlen(markers[i]));
            jinja_free(t->jinja);
            jinja_free(t->jinja_tool_use);
            t->jinja = t->jinja_tool_use = NULL;
            t->family = fam.family;
            t->known = true;
            t->llama2_sys_tags = fam.llama2_sys_tags;
            t->llama2_bos_turns = fam.llama2_bos_turns;
            t->llama2_strip = fam.llama2_strip;
            t->source = CHAT_SOURCE_FLAG;
            return 0;
        }
    FILE *f = fopen(arg, "rb");
    if (!f)
        return model_fail(err, "--chat-template %s: not a family (chatml, llama2, llama3, phi3) and "
                               "not a readable file", arg);
    tok_bytes src = {0};
    char buf[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = tok_bytes_append(&src, buf, n);
    bool bad = ferror(f);
    fclose(f);
    if (rc || bad) {
        tok_bytes_free(&src);
        return model_fail(err, "--chat-template %s: %s", arg, rc ? "out of memory" : "read error");
    }
    jinja_error jerr;
    struct jinja_template *j = jinja_parse(src.p ? (const char *)src.p : "", src.n, &jerr);
    chat_template fam = chat_template_detect(src.p ? (const char *)src.p : "", src.n);
    tok_bytes_free(&src);
    if (!j)
        return model_fail(err, "--chat-template %s: %s", arg, jerr.msg);
    jinja_free(t->jinja);
    jinja_free(t->jinja_tool_use);
    t->jinja = j;
    t->jinja_tool_use = NULL;
    t->family = fam.family;
    t->known = fam.known;
    t->source = CHAT_SOURCE_FLAG;
    return 0;
}

void chat_template_free(chat_template *t)
{
    jinja_free(t->jinja);
    jinja_free(t->jinja_tool_use);
    free(t->bos_token);
    free(t->eos_token);
    t->jinja = t->jinja_tool_use = NULL;
    t->bos_token = t->eos_token = NULL;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static int put(tok_bytes *b, const char *s) { return tok_bytes_append(b, s, strlen(s)); }

static int put_trimmed(tok_bytes *b, const char *s)
{
    size_t len = strlen(s), i = 0;
    while (i < len && is_space(s[i]))
        i++;
    while (len > i && is_space(s[len - 1]))
        len--;
    return tok_bytes_append(b, s + i, len - i);
}

static int render_llama2(const chat_template *t, const chat_message *msgs, size_t n, tok_bytes *out)
{
    int (*content)(tok_bytes *, const char *) = t->llama2_strip ? put_trimmed : put;
    bool in_turn = true;
    int rc = put(out, "[INST] ");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!in_turn) {
            in_turn = true;
            rc = put(out, t->llama2_bos_turns ? "<s>[INST] " : "[INST] ");
        }
        if (rc)
            break;
        if (!strcmp(msgs[i].role, "system")) {
            if (t->llama2_sys_tags)
                rc = put(out, "<<SYS>>\n") || content(out, msgs[i].content) || put(out, "\n<</SYS>>\n\n");
            else
                rc = content(out, msgs[i].content) || put(out, "\n");
        } else if (!strcmp(msgs[i].role, "user")) {
            rc = content(out, msgs[i].content) || put(out, " [/INST]");
        } else {
            rc = content(out, msgs[i].content) || put(out, "</s>");
            in_turn = false;
        }
    }
    return rc;
}

static int render_family(const chat_template *t, const chat_message *msgs, size_t n,
                         bool add_generation_prompt, tok_bytes *out, model_error *err)
{
    int rc = tok_bytes_append(out, "", 0);
    switch (t->family) {
    case CHAT_LLAMA2:
        rc = rc || render_llama2(t, msgs, n, out);
        break;
    case CHAT_LLAMA3:
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = put(out, "<|start_header_id|>") || put(out, msgs[i].role) ||
                 put(out, "<|end_header_id|>\n\n") || put_trimmed(out, msgs[i].content) ||
                 put(out, "<|eot_id|>");
        if (rc == 0 && add_generation_prompt)
            rc = put(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case CHAT_PHI3:
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = put(out, "<|") || put(out, msgs[i].role) || put(out, "|>\n") ||
                 put(out, msgs[i].content) || put(out, "<|end|>\n");
        if (rc == 0 && add_generation_prompt)
            rc = put(out, "<|assistant|>\n");
        break;
    default:
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = put(out, "<|im_start|>") || put(out, msgs[i].role) || put(out, "\n") ||
                 put(out, msgs[i].content) || put(out, "<|im_end|>\n");
        if (rc == 0 && add_generation_prompt)
            rc = put(out, "<|im_start|>assistant\n");
        break;
    }
    return rc ? model_fail(err, "chat template: out of memory") : 0;
}

static int render_jinja(const chat_template *t, const json_t *messages, const json_t *tools,
                        const json_t *kwargs, bool add_generation_prompt, tok_bytes *out, model_error *err)
{
    json_t *ctx = kwargs && json_is_object(kwargs) ? json_deep_copy(kwargs) : json_object();
    if (!ctx || json_object_set(ctx, "messages", (json_t *)messages) ||
        (tools && json_object_set(ctx, "tools", (json_t *)tools)) ||
        json_object_set_new(ctx, "add_generation_prompt", json_boolean(add_generation_prompt)) ||
        json_object_set_new(ctx, "bos_token", json_string(t->bos_token ? t->bos_token : "")) ||
        json_object_set_new(ctx, "eos_token", json_string(t->eos_token ? t->eos_token : ""))) {
        json_decref(ctx);
        return model_fail(err, "chat template: out of memory");
    }
    char *text;
    size_t len;
    jinja_error jerr;
    const struct jinja_template *j =
        t->jinja_tool_use && json_array_size(tools) > 0 ? t->jinja_tool_use : t->jinja;
    int rc = jinja_render(j, ctx, NULL, time(NULL), &text, &len, &jerr);
    json_decref(ctx);
    if (rc)
        return model_fail(err, "chat template: %s", jerr.msg);
    size_t skip = 0, bl = t->bos_token ? strlen(t->bos_token) : 0;
    if (t->strip_bos && bl && len >= bl && !memcmp(text, t->bos_token, bl))
        skip = bl;
    rc = tok_bytes_append(out, "", 0) || tok_bytes_append(out, text + skip, len - skip);
    free(text);
    return rc ? model_fail(err, "chat template: out of memory") : 0;
}

int chat_template_render(const chat_template *t, const chat_message *msgs, size_t n,
                         bool add_generation_prompt, tok_bytes *out, model_error *err)
{
    if (!t->jinja)
        return render_family(t, msgs, n, add_generation_prompt, out, err);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_pack("{s:s, s:s}", "role", msgs[i].role, "content", msgs[i].content))) {
            json_decref(arr);
            arr = NULL;
        }
    if (!arr)
        return model_fail(err, "chat template: out of memory");
    int rc = render_jinja(t, arr, NULL, NULL, add_generation_prompt, out, err);
    json_decref(arr);
    return rc;
}

/* A message's content as the family formatters take it: a string, or the text parts of
 * a list joined. */
static int content_text(const json_t *m, tok_bytes *b)
{
    const json_t *c = json_object_get(m, "content");
    if (json_is_string(c))
        return tok_bytes_append(b, json_string_value(c), json_string_length(c));
    size_t i;
    const json_t *part;
    json_array_foreach(c, i, part) {
        const json_t *txt = json_object_get(part, "text");
        if (json_is_string(txt) && tok_bytes_append(b, json_string_value(txt), json_string_length(txt)))
            return -1;
    }
    return tok_bytes_append(b, "", 0);
}

int chat_template_render_json(const chat_template *t, const json_t *messages, const json_t *tools,
                              const json_t *kwargs, bool add_generation_prompt, tok_bytes *out,
                              model_error *err)
{
    if (!json_is_array(messages))
        return model_fail(err, "chat template: messages is not an array");
    if (t->jinja)
        return render_jinja(t, messages, tools, kwargs, add_generation_prompt, out, err);
    size_t n = json_array_size(messages);
    chat_message *msgs = calloc(n + 1, sizeof *msgs);
    tok_bytes *texts = calloc(n + 1, sizeof *texts);
    int rc = msgs && texts ? 0 : model_fail(err, "chat template: out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *m = json_array_get(messages, i), *role = json_object_get(m, "role");
        if (!json_is_string(role))
            rc = model_fail(err, "chat template: messages[%zu] has no role", i);
        else if (content_text(m, &texts[i]))
            rc = model_fail(err, "chat template: out of memory");
        else
            msgs[i] = (chat_message){json_string_value(role), (const char *)texts[i].p};
    }
    if (rc == 0)
        rc = render_family(t, msgs, n, add_generation_prompt, out, err);
    for (size_t i = 0; texts && i < n; i++)
        tok_bytes_free(&texts[i]);
    free(texts);
    free(msgs);
    return rc;
}
