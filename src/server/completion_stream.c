/* A completion answered as server-sent events: each choice's new text and logprobs as a
 * chunk when its events allow, echo first, tool calls at the end, usage and [DONE]. */
#include "server/completion_run.h"

#include <stdlib.h>
#include <string.h>

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
    if (completion_advance(run, i, c->logprobs))
        return -1;
    if (c->error)
        return stream_error(run, c);
    if (echo_held(run, c))
        return 0;
    size_t len;
    const char *text = detok_take(&c->dt, &len);
    if (completion_tools_on(run) && tool_stream_push(&c->ts, text, len, &text, &len))
        return -1;
    tok_bytes buf = {0};
    if (chunk_text(run, c, &text, &len, &buf)) {
        tok_bytes_free(&buf);
        return -1;
    }
    json_t *lp = take_logprobs(run, c);
    int rc = run->r.logprobs && !c->logprobs ? -1 : 0;
    const char *finish = completion_tools_on(run) ? NULL : c->finish; /* tools: after the calls */
    if (rc == 0 && (len || finish || lp || (!c->first_sent && run->meta.kind == OAI_CHAT))) {
        rc = oai_chunk_append(&run->meta, (uint32_t)i, text, len, !c->first_sent, finish, lp,
                              &run->out);
        c->first_sent = true;
        c->final_sent = finish != NULL;
    }
    json_decref(lp);
    tok_bytes_free(&buf);
    if (rc == 0 && completion_tools_on(run) && c->finish)
        rc = stream_tool_end(run, i);
    return rc;
}

/* Queues the chunks that the new events allow; the [DONE] line once all choices end. */
static int stream_step(completion_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        if (!run->c[i].final_sent && stream_choice(run, i))
            return -1;
    if (!run->ended && completion_all_finished(run)) {
        oai_usage u;
        completion_usage(run, &u);
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
        if (run->out.n == 0 && !run->ended && !completion_wait(run))
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
    completion_run_free(ctx);
}

void completion_stream(completion_run *run, http_response *resp)
{
    resp->status = 200;
    resp->content_type = "text/event-stream";
    resp->stream = stream_read;
    resp->stream_ctx = run;
    resp->stream_free = stream_free;
}
