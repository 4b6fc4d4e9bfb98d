/* POST /v1/completions and /v1/chat/completions: parse, tokenize, submit one engine request
 * per choice, then either wait and answer once or stream server-sent events. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "server/detok.h"
#include "server/openai_response.h"
#include "server/server.h"
#include "server/tool_stream.h"

enum { WAIT_SLICE_MS = 50 }; /* how often a waiting thread looks for a vanished client */

typedef struct choice_state {
    detok dt;
    gen_update u;
    size_t consumed;          /* tokens of u already pushed through dt */
    json_t *logprobs;         /* all of them (whole response) */
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
    size_t n;
    choice_state *c;
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

/* Pushes choice i's new tokens through the detokenizer; lp (may be NULL) collects their
 * logprobs. Returns -1 when out of memory. */
static int advance_choice(completion_run *run, size_t i, json_t *lp)
{
    choice_state *c = &run->c[i];
    if (c->finish)
        return 0;
    if (gen_take(run->g, i, &c->u))
        return -1;
    const tokenizer *tk = engine_tokenizer(run->s->e);
    for (; c->consumed < c->u.n && !c->dt.stopped; c->consumed++) {
        int32_t tok = c->u.tokens[c->consumed];
        size_t offset = c->dt.text.n;
        if (detok_push(&c->dt, tok))
            return -1;
        if (lp) {
            tok_bytes piece = {0};
            int rc = tokenizer_append_piece(tk, tok, false, &piece) ||
                     oai_logprobs_add(lp, run->meta.kind, piece.p ? piece.p : "", piece.n,
                                      c->u.logprobs[c->consumed], offset,
                                      run->r.top_logprobs > 0);
            tok_bytes_free(&piece);
            if (rc)
                return -1;
        }
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
        c->completion_tokens = c->u.completion_tokens > c->u.n ? c->u.completion_tokens
                                                               : (uint32_t)c->u.n;
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
    if (!ch) {
        server_reply(resp, 500, NULL, NULL, 0);
        return;
    }
    for (size_t i = 0; i < run->n; i++) {
        choice_state *c = &run->c[i];
        ch[i].text = detok_text(&c->dt, &ch[i].len);
        ch[i].finish_reason = c->finish;
        ch[i].logprobs = c->logprobs;
        if (!tools_on(run))
            continue;
        if (tool_parse(run->r.tools.format, ch[i].text, ch[i].len, tools_forced(run),
                       &c->parsed)) {
            free(ch);
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
    char *body = oai_response_body(&run->meta, ch, run->n, &u, &len);
    free(ch);
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

/* Queues the chunks that the new events allow; the [DONE] line once all choices end. */
static int stream_step(completion_run *run)
{
    for (size_t i = 0; i < run->n; i++) {
        choice_state *c = &run->c[i];
        if (c->final_sent)
            continue;
        json_t *lp = run->r.logprobs ? oai_logprobs_new(run->meta.kind) : NULL;
        if ((run->r.logprobs && !lp) || advance_choice(run, i, lp)) {
            json_decref(lp);
            return -1;
        }
        if (c->error) {
            api_error err;
            api_fail(&err, 500, NULL, NULL, "generation failed: %s", c->u.message);
            char *e = api_error_json(&err, NULL);
            int rc = !e || tok_bytes_append(&run->out, "data: ", 6) ||
                     tok_bytes_append(&run->out, e, strlen(e)) ||
                     tok_bytes_append(&run->out, "\n\n", 2);
            free(e);
            json_decref(lp);
            c->final_sent = true;
            if (rc)
                return -1;
            continue;
        }
        size_t len;
        const char *text = detok_take(&c->dt, &len);
        if (tools_on(run) && tool_stream_push(&c->ts, text, len, &text, &len)) {
            json_decref(lp);
            return -1;
        }
        bool has_lp = lp && json_array_size(json_object_get(lp, run->meta.kind == OAI_CHAT
                                                                    ? "content" : "tokens"));
        const char *finish = tools_on(run) ? NULL : c->finish; /* tools: after the calls */
        if (len || finish || has_lp || (!c->first_sent && run->meta.kind == OAI_CHAT)) {
            if (oai_chunk_append(&run->meta, (uint32_t)i, text, len, !c->first_sent, finish,
                                 has_lp ? lp : NULL, &run->out)) {
                json_decref(lp);
                return -1;
            }
            c->first_sent = true;
            c->final_sent = finish != NULL;
        }
        json_decref(lp);
        if (tools_on(run) && c->finish && stream_tool_end(run, i))
            return -1;
    }
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
    token_ids prompt = {0};
    if (oai_request_parse(kind, req->body, req->body_len, &lim, &run->r, &err) ||
        server_prompt_tokens(s, &run->r, true, &prompt, &err) ||
        oai_check_lengths(&run->r, prompt.n, s->max_model_len, &err))
        goto fail;
    oai_meta_init(&run->meta, kind, s->model_name);
    run->n = run->r.n;
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
    engine_request er = {.prompt = prompt.ids, .n_prompt = prompt.n,
                         .sampling = run->r.sampling, .cache_salt = run->r.cache_salt,
                         .grammar = run->r.grammar,
                         .grammar_len = run->r.grammar ? strlen(run->r.grammar) : 0};
    if (!run->r.seed_set && getrandom(&er.sampling.seed, sizeof er.sampling.seed, 0) < 0)
        er.sampling.seed = (uint64_t)(uintptr_t)run ^ (uint64_t)run->meta.created;
    if (gen_start(s->e, &s->reg, &er, run->n, &run->g, &err))
        goto fail;
    token_ids_free(&prompt);
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
    token_ids_free(&prompt);
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
