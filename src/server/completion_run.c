/* A completion's choices as they run: the engine's events taken into each choice's text,
 * logprobs and finish reason. */
#include "server/completion_run.h"

#include <stdlib.h>
#include <string.h>

#include "server/choice_logprobs.h"

enum { WAIT_SLICE_MS = 50 }; /* how often a waiting thread looks for a vanished client */

void completion_run_free(completion_run *run)
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

bool completion_tools_on(const completion_run *run)
{
    return run->r.tools.choice != OAI_TOOLS_NONE;
}

bool completion_tools_forced(const completion_run *run)
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

int completion_advance(completion_run *run, size_t i, json_t *lp)
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
        size_t j = c->consumed, chars;
        if (detok_push(&c->dt, gt->tokens[j]))
            return -1;
        c->cum_logprob += gt->logprobs[j];
        if (!lp)
            continue;
        if (choice_logprobs_add(lp, run->meta.kind, tk, gt->tokens[j], gt->logprobs[j],
                                &gt->top[j * c->u.top_k], c->u.top_k, c->text_offset, &chars))
            return -1;
        c->text_offset += chars;
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

bool completion_all_finished(const completion_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        if (!run->c[i].finish)
            return false;
    return true;
}

void completion_usage(const completion_run *run, oai_usage *u)
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

bool completion_wait(completion_run *run)
{
    gen_wait(run->g, WAIT_SLICE_MS);
    if (http_peer_gone(run->fd))
        return false;
    if (atomic_load(&run->s->reg.cancel_all))
        gen_cancel_all(run->g);
    return true;
}
