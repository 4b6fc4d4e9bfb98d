/* POST /v1/completions and /v1/chat/completions: parse, tokenize, submit one engine request
 * per choice, then either wait and answer once or stream server-sent events. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "server/choice_logprobs.h"
#include "server/detok.h"
#include "server/openai_response.h"
#include "server/server.h"
#include "server/tool_stream.h"

enum { WAIT_SLICE_MS = 50 }; /* how often a waiting thread looks for a vanished client */

typedef struct choice_state {
    detok dt;
    gen_update u;
    size_t consumed;          /* tokens of u already pushed through dt */
    size_t prompt_consumed;   /* echo: prompt logprobs of u already in logprobs */
    size_t prompt_offset;     /* echo: the text offset of the next prompt token */
    bool prompt_started;      /* echo: the first prompt token is in logprobs */
    double cum_logprob;       /* of the tokens consumed: how best_of ranks the choices */
    json_t *logprobs;         /* whole response: all of them; stream: those not sent yet */
    bool echo_sent;           /* stream: the prompt went out */
    const char *finish;       /* set once the choice is over */
    uint32_t completion_tokens;
    bool error;
    bool first_sent, final_sent;
    tool_stream ts;           /* chat with tools: the text held back around calls */
    tool_parse_result parsed; /* the reply's calls, once it ended */
} choice_state;

typedef struct completion_run {
    server *s;
    oai_request r;
    oai_meta meta;
    generation *g;
    size_t n;                 /* choices generated: best_of, of which r.n are returned */
    choice_state *c;
    token_ids prompt;
    char *echo;               /* echo: the prompt's text, put before each choice's text */
    size_t echo_len;
    int fd;
    tok_bytes out;            /* SSE bytes not yet handed to the connection */
    size_t out_pos;
    bool ended;               /* [DONE] queued */
} completion_run;

static void run_free(completion_run *run)
{
    if (run->g)
        gen_release(run->g);
    for (size_t i = 0; run->c && i < run->n; i++) {
        detok_free(&run->c[i].dt);
        gen_update_free(&run->c[i].u);
        json_decref(run->c[i].logprobs);
        tool_stream_free(&run->c[i].ts);
        tool_parse_result_free(&run->c[i].parsed);
    }
    free(run->c);
    token_ids_free(&run->prompt);
    free(run->echo);
    tok_bytes_free(&run->out);
    oai_request_free(&run->r);
    free(run);
}

/* The reply may hold tool calls to parse: tools were given and tool_choice is not "none". */
static bool tools_on(const completion_run *run)
{
    return run->r.tools.choice != OAI_TOOLS_NONE;
}

/* The call was forced by the grammar (tool_choice "required" or a named function). */
static bool tools_forced(const completion_run *run)
{
    return run->r.tools.choice == OAI_TOOLS_REQUIRED || run->r.tools.choice == OAI_TOOLS_NAMED;
}

static const char *finish_name(engine_finish f)
{
    switch (f) {
    case ENGINE_FINISH_STOP: return "stop";
    case ENGINE_FINISH_LENGTH: return "length";
    case ENGINE_FINISH_CANCELLED: return "abort";
    default: return "error";
    }
}

/* Echo with logprobs: the prompt's tokens come first, the first with null logprobs. */
static int add_prompt_logprobs(completion_run *run, choice_state *c, json_t *lp)
{
    const tokenizer *tk = engine_tokenizer(run->s->e);
    size_t len;
    if (!c->prompt_started) {
        if (choice_logprobs_first(lp, tk, run->prompt.ids[0], &len))
            return -1;
        c->prompt_offset = len;
        c->prompt_started = true;
    }
    const gen_tokens *p = &c->u.prompt;
    for (; c->prompt_consumed < p->n; c->prompt_consumed++) {
        size_t j = c->prompt_consumed;
        if (choice_logprobs_add(lp, run->meta.kind, tk, p->tokens[j], p->logprobs[j],
                                &p->top[j * c->u.top_k], c->u.top_k, c->prompt_offset, &len))
            return -1;
        c->prompt_offset += len;
    }
    return 0;
}

/* Pushes choice i's new tokens through the detokenizer; lp (may be NULL) collects their
 * logprobs. Returns -1 when out of memory. */
static int advance_choice(completion_run *run, size_t i, json_t *lp)
{
    choice_state *c = &run->c[i];
    if (c->finish)
        return 0;
    if (gen_take(run->g, i, &c->u))
        return -1;
    if (lp && run->r.echo && add_prompt_logprobs(run, c, lp))
        return -1;
    const tokenizer *tk = engine_tokenizer(run->s->e);
    const gen_tokens *gt = &c->u.gen;
    for (; c->consumed < gt->n && !c->dt.stopped; c->consumed++) {
        size_t j = c->consumed, offset = run->echo_len + c->dt.text.n, len;
        if (detok_push(&c->dt, gt->tokens[j]))
            return -1;
        c->cum_logprob += gt->logprobs[j];
        if (lp && choice_logprobs_add(lp, run->meta.kind, tk, gt->tokens[j], gt->logprobs[j],
                                      &gt->top[j * c->u.top_k], c->u.top_k, offset, &len))
            return -1;
    }
    if (c->dt.stopped) {
        /* A stop string ends the choice here; the engine need not go on. */
        gen_cancel(run->g, i);
        c->finish = "stop";
        c->completion_tokens = (uint32_t)c->consumed;
    } else if (c->u.done) {
        if (detok_finish(&c->dt))
            return -1;
        c->finish = finish_name(c->u.finish);
        c->error = c->u.finish == ENGINE_FINISH_ERROR;
        c->completion_tokens = c->u.completion_tokens > gt->n ? c->u.completion_tokens
                                                              : (uint32_t)gt->n;
    }
    return 0;
}

static bool all_finished(const completion_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        if (!run->c[i].finish)
            return false;
    return true;
}

static void usage_of(const completion_run *run, oai_usage *u)
{
    memset(u, 0, sizeof *u);
    for (size_t i = 0; i < run->n; i++) {
        const gen_update *g = &run->c[i].u;
        if (g->prompt_tokens > u->prompt_tokens)
            u->prompt_tokens = g->prompt_tokens;
        if (g->cached_tokens > u->cached_tokens || i == 0) {
            u->cached_tokens = g->cached_tokens;
            u->cached_by = g->cached_by;
        }
        if (g->ttft_ms > 0 && (u->ttft_ms == 0 || g->ttft_ms < u->ttft_ms))
            u->ttft_ms = g->ttft_ms;
        u->completion_tokens += run->c[i].completion_tokens;
    }
    for (unsigned t = 0; t < KVS_MAX_TIERS; t++)
        u->tier_names[t] = engine_offload_tier_name(run->s->e, t);
}

/* Waits a slice for engine events; false when the client went away or the server is
 * shutting down (the generation is then cancelled). */
static bool wait_events(completion_run *run)
{
    gen_wait(run->g, WAIT_SLICE_MS);
    if (http_peer_gone(run->fd))
        return false;
    if (atomic_load(&run->s->reg.cancel_all))
        gen_cancel_all(run->g);
    return true;
}

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
            if (advance_choice(run, i, run->c[i].logprobs)) {
                api_fail(&err, 500, NULL, NULL, "out of memory while generating");
                server_reply_error(resp, &err);
                return;
            }
        if (all_finished(run))
            break;
        if (!wait_events(run)) {
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
        if (!tools_on(run))
            continue;
        if (tool_parse(run->r.tools.format, ch[i].text, ch[i].len, tools_forced(run),
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
    usage_of(run, &u);
    size_t len = 0;
    char *body = oai_response_body(&run->meta, ch, n_shown, &u, &len);
    free(ch);
    free(order);
    server_reply(resp, 200, "application/json", body, len);
}

/* The end of a choice that may hold tool calls: the content not sent yet, the calls as
 * delta.tool_calls, then the finish reason ("tool_calls" when there were calls). */
static int stream_tool_end(completion_run *run, size_t i)
{
    choice_state *c = &run->c[i];
    const char *rest;
    size_t rest_n;
    if (tool_stream_finish(&c->ts, &c->parsed, &rest, &rest_n))
        return -1;
    bool called = json_array_size(c->parsed.calls) > 0;
    if (rest_n && oai_chunk_append(&run->meta, (uint32_t)i, rest, rest_n, !c->first_sent, NULL,
                                   NULL, &run->out))
        return -1;
    c->first_sent |= rest_n > 0;
    if (called && oai_tool_calls_chunk_append(&run->meta, (uint32_t)i, c->parsed.calls,
                                              !c->first_sent, &run->out))
        return -1;
    c->first_sent |= called;
    c->final_sent = true;
    return oai_chunk_append(&run->meta, (uint32_t)i, "", 0, !c->first_sent,
                            called ? "tool_calls" : c->finish, NULL, &run->out);
}

/* Echo in a stream: the prompt goes out with the first chunk, once its logprobs are in
 * (they all come before the first generated token). */
static bool echo_held(const completion_run *run, const choice_state *c)
{
    return run->r.echo && !c->echo_sent && run->r.logprobs && c->u.gen.n == 0 && !c->u.done;
}

/* The chunk's text: the echoed prompt before text in the first one. */
static int chunk_text(completion_run *run, choice_state *c, const char **text, size_t *len,
                      tok_bytes *buf)
{
    if (!run->r.echo || c->echo_sent)
        return 0;
    c->echo_sent = true;
    if (tok_bytes_append(buf, run->echo, run->echo_len) ||
        (*len && tok_bytes_append(buf, *text, *len)))
        return -1;
    *text = buf->p ? buf->p : "";
    *len = buf->n;
    return 0;
}

/* Sends the logprobs not sent yet: the chunk takes them, a new empty object follows. */
static json_t *take_logprobs(completion_run *run, choice_state *c)
{
    if (!c->logprobs || oai_logprobs_count(c->logprobs, run->meta.kind) == 0)
        return NULL;
    json_t *lp = c->logprobs;
    c->logprobs = oai_logprobs_new(run->meta.kind);
    return lp;
}

static int stream_error(completion_run *run, choice_state *c)
{
    api_error err;
    api_fail(&err, 500, NULL, NULL, "generation failed: %s", c->u.message);
    char *e = api_error_json(&err, NULL);
    int rc = !e || tok_bytes_append(&run->out, "data: ", 6) ||
             tok_bytes_append(&run->out, e, strlen(e)) ||
             tok_bytes_append(&run->out, "\n\n", 2);
    free(e);
    c->final_sent = true;
    return rc ? -1 : 0;
}

/* Queues choice i's chunk for what its new events allow. */
static int stream_choice(completion_run *run, size_t i)
{
    choice_state *c = &run->c[i];
    if (advance_choice(run, i, c->logprobs))
        return -1;
    if (c->error)
        return stream_error(run, c);
    if (echo_held(run, c))
        return 0;
    size_t len;
    const char *text = detok_take(&c->dt, &len);
    if (tools_on(run) && tool_stream_push(&c->ts, text, len, &text, &len))
        return -1;
    tok_bytes buf = {0};
    if (chunk_text(run, c, &text, &len, &buf)) {
        tok_bytes_free(&buf);
        return -1;
    }
    json_t *lp = take_logprobs(run, c);
    int rc = run->r.logprobs && !c->logprobs ? -1 : 0;
    const char *finish = tools_on(run) ? NULL : c->finish; /* tools: after the calls */
    if (rc == 0 && (len || finish || lp || (!c->first_sent && run->meta.kind == OAI_CHAT))) {
        rc = oai_chunk_append(&run->meta, (uint32_t)i, text, len, !c->first_sent, finish, lp,
                              &run->out);
        c->first_sent = true;
        c->final_sent = finish != NULL;
    }
    json_decref(lp);
    tok_bytes_free(&buf);
    if (rc == 0 && tools_on(run) && c->finish)
        rc = stream_tool_end(run, i);
    return rc;
}

/* Queues the chunks that the new events allow; the [DONE] line once all choices end. */
static int stream_step(completion_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        if (!run->c[i].final_sent && stream_choice(run, i))
            return -1;
    if (!run->ended && all_finished(run)) {
        oai_usage u;
        usage_of(run, &u);
        if ((run->r.include_usage && oai_usage_chunk_append(&run->meta, &u, &run->out)) ||
            oai_done_append(&run->out))
            return -1;
        run->ended = true;
    }
    return 0;
}

static ssize_t stream_read(void *ctx, char *buf, size_t max)
{
    completion_run *run = ctx;
    while (run->out_pos == run->out.n) {
        run->out.n = run->out_pos = 0;
        if (run->ended)
            return 0;
        if (stream_step(run))
            return -1;
        if (run->out.n == 0 && !run->ended && !wait_events(run))
            return -1; /* the client left: MHD closes, stream_free cancels */
    }
    size_t n = run->out.n - run->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, run->out.p + run->out_pos, n);
    run->out_pos += n;
    return (ssize_t)n;
}

static void stream_free(void *ctx)
{
    run_free(ctx);
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
        if (tools_on(run) && run->r.tools.format == TOOL_MISTRAL)
            run->c[i].dt.shown_control = s->tool_calls_token;
        tool_stream_init(&run->c[i].ts, run->r.tools.format, tools_forced(run));
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
        resp->status = 200;
        resp->content_type = "text/event-stream";
        resp->stream = stream_read;
        resp->stream_ctx = run;
        resp->stream_free = stream_free;
        return;
    }
    answer_whole(run, resp);
    run_free(run);
    return;
fail:
    run_free(run);
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
