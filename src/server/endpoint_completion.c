/* POST /v1/completions and /v1/chat/completions: parse, tokenize, submit one engine request
 * per choice, then either wait and answer once or stream server-sent events
 * (completion_stream.c). */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "server/completion_run.h"

_Static_assert(OAI_MAX_LOGPROBS <= ENGINE_MAX_TOP_LOGPROBS,
               "the engine reports fewer alternatives than a request may ask for");

static const choice_state *first_error(const completion_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        if (run->c[i].error)
            return &run->c[i];
    return NULL;
}

/* order[0..n): the choices by cumulative logprob, highest first (best_of keeps the first
 * r.n, as vLLM does); equal ones keep their order. */
static void rank_choices(const completion_run *run, size_t *order)
{
    for (size_t i = 0; i < run->n; i++) {
        size_t at = i;
        for (; at > 0 && run->c[order[at - 1]].cum_logprob < run->c[i].cum_logprob; at--)
            order[at] = order[at - 1];
        order[at] = i;
    }
}

static void answer_whole(completion_run *run, http_response *resp)
{
    api_error err;
    while (true) {
        for (size_t i = 0; i < run->n; i++)
            if (completion_advance(run, i, run->c[i].logprobs)) {
                api_fail(&err, 500, NULL, NULL, "out of memory while generating");
                server_reply_error(resp, &err);
                return;
            }
        if (completion_all_finished(run))
            break;
        if (!completion_wait(run)) {
            api_fail(&err, 499, NULL, NULL, "the client closed the connection");
            server_reply_error(resp, &err);
            return;
        }
    }
    const choice_state *bad = first_error(run);
    if (bad) {
        api_fail(&err, 500, NULL, NULL, "generation failed: %s", bad->u.message);
        server_reply_error(resp, &err);
        return;
    }
    oai_choice *ch = calloc(run->n, sizeof *ch);
    size_t *order = calloc(run->n, sizeof *order);
    if (!ch || !order) {
        free(ch);
        free(order);
        server_reply(resp, 500, NULL, NULL, 0);
        return;
    }
    rank_choices(run, order);
    size_t n_shown = run->r.n;
    for (size_t i = 0; i < n_shown; i++) {
        choice_state *c = &run->c[order[i]];
        ch[i].text = detok_text(&c->dt, &ch[i].len);
        ch[i].prefix = run->echo;
        ch[i].prefix_len = run->echo_len;
        ch[i].finish_reason = c->finish;
        ch[i].logprobs = c->logprobs;
        if (!completion_tools_on(run))
            continue;
        if (tool_parse(run->r.tools.format, ch[i].text, ch[i].len, completion_tools_forced(run),
                       &c->parsed)) {
            free(ch);
            free(order);
            server_reply(resp, 500, NULL, NULL, 0);
            return;
        }
        if (json_array_size(c->parsed.calls) > 0) {
            ch[i].text = c->parsed.content;
            ch[i].len = c->parsed.content_len;
            ch[i].tool_calls = c->parsed.calls;
            ch[i].finish_reason = "tool_calls";
        }
    }
    oai_usage u;
    completion_usage(run, &u);
    size_t len = 0;
    char *body = oai_response_body(&run->meta, ch, n_shown, &u, &len);
    free(ch);
    free(order);
    server_reply(resp, 200, "application/json", body, len);
}


/* The echoed prompt: its text as sent, or the text of its token ids. */
static int echo_text(completion_run *run, api_error *err)
{
    tok_bytes t = {0};
    model_error merr;
    if (run->r.prompt_is_tokens
            ? tokenizer_decode(engine_tokenizer(run->s->e), run->prompt.ids, run->prompt.n,
                               false, &t, &merr)
            : tok_bytes_append(&t, run->r.prompt_text, run->r.prompt_len)) {
        tok_bytes_free(&t);
        return api_fail(err, 500, NULL, NULL, "out of memory echoing the prompt");
    }
    run->echo = t.p ? t.p : strdup("");
    run->echo_len = t.n;
    run->echo_chars = oai_text_chars(run->echo, run->echo_len);
    return run->echo ? 0 : api_fail(err, 500, NULL, NULL, "out of memory echoing the prompt");
}

static void handle(server *s, oai_kind kind, const http_request *req, http_response *resp)
{
    api_error err;
    completion_run *run = calloc(1, sizeof *run);
    if (!run) {
        server_reply(resp, 500, NULL, NULL, 0);
        return;
    }
    run->s = s;
    run->fd = req->fd;
    const tokenizer *tk = engine_tokenizer(s->e);
    oai_limits lim = server_limits(s);
    token_ids *prompt = &run->prompt;
    if (oai_request_parse(kind, req->body, req->body_len, &lim, &run->r, &err) ||
        server_prompt_tokens(s, &run->r, true, prompt, &err) ||
        oai_check_lengths(&run->r, prompt->n, s->max_model_len, &err) ||
        (run->r.echo && echo_text(run, &err)))
        goto fail;
    oai_meta_init(&run->meta, kind, s->model_name);
    run->n = run->r.best_of;
    run->c = calloc(run->n, sizeof *run->c);
    if (!run->c) {
        api_fail(&err, 500, NULL, NULL, "out of memory starting the request");
        goto fail;
    }
    for (size_t i = 0; i < run->n; i++) {
        detok_init(&run->c[i].dt, tk, run->r.stop, run->r.n_stop);
        run->c[i].text_offset = run->echo_chars;
        if (completion_tools_on(run) && run->r.tools.format == TOOL_MISTRAL)
            run->c[i].dt.shown_control = s->tool_calls_token;
        tool_stream_init(&run->c[i].ts, run->r.tools.format, completion_tools_forced(run));
        if (run->r.logprobs && !(run->c[i].logprobs = oai_logprobs_new(kind))) {
            api_fail(&err, 500, NULL, NULL, "out of memory starting the request");
            goto fail;
        }
    }
    engine_request er = {.prompt = prompt->ids, .n_prompt = prompt->n,
                         .sampling = run->r.sampling, .cache_salt = run->r.cache_salt,
                         .grammar = run->r.grammar,
                         .grammar_len = run->r.grammar ? strlen(run->r.grammar) : 0,
                         .top_logprobs = run->r.logprobs ? run->r.top_logprobs : 0,
                         .prompt_logprobs = run->r.echo && run->r.logprobs,
                         .prompt_only = run->r.max_tokens_set && run->r.max_tokens == 0};
    if (!run->r.seed_set && getrandom(&er.sampling.seed, sizeof er.sampling.seed, 0) < 0)
        er.sampling.seed = (uint64_t)(uintptr_t)run ^ (uint64_t)run->meta.created;
    if (gen_start(s->e, &s->reg, &er, run->n, &run->g, &err))
        goto fail;
    if (run->r.stream) {
        completion_stream(run, resp);
        return;
    }
    answer_whole(run, resp);
    completion_run_free(run);
    return;
fail:
    completion_run_free(run);
    server_reply_error(resp, &err);
}

void ep_completions(server *s, const http_request *req, http_response *resp)
{
    handle(s, OAI_COMPLETION, req, resp);
}

void ep_chat_completions(server *s, const http_request *req, http_response *resp)
{
    handle(s, OAI_CHAT, req, resp);
}
