#include "model/chat_template.h"

#include <string.h>

static bool has(const char *t, size_t len, const char *needle)
{
    return t && memmem(t, len, needle, strlen(needle)) != NULL;
}

chat_template chat_template_detect(const char *tmpl, size_t len)
{
    chat_template t = {CHAT_CHATML, true, false, false, false};
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

int chat_template_render(const chat_template *t, const chat_message *msgs, size_t n,
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
