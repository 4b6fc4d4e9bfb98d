/* One completion request while it runs, shared by the endpoint (endpoint_completion.c:
 * parse, submit, answer whole) and its stream (completion_stream.c): each choice's engine
 * events as detokenized text, logprobs and tool calls (completion_run.c). */
#ifndef KVSPILL_SERVER_COMPLETION_RUN_H
#define KVSPILL_SERVER_COMPLETION_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/detok.h"
#include "server/openai_response.h"
#include "server/server.h"
#include "server/tool_stream.h"

typedef struct choice_state {
    detok dt;
    gen_update u;
    size_t consumed;          /* tokens of u already pushed through dt */
    size_t prompt_consumed;   /* echo: prompt logprobs of u already in logprobs */
    size_t prompt_offset;     /* echo: the text offset of the next prompt token */
    size_t text_offset;       /* completions: of the next generated token, in characters
                               * (after the echoed prompt's) */
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
    size_t echo_len, echo_chars;
    int fd;
    tok_bytes out;            /* SSE bytes not yet handed to the connection */
    size_t out_pos;
    bool ended;               /* [DONE] queued */
} completion_run;

void completion_run_free(completion_run *run);
/* The reply may hold tool calls to parse: tools were given and tool_choice is not "none". */
bool completion_tools_on(const completion_run *run);
/* The call was forced by the grammar (tool_choice "required" or a named function). */
bool completion_tools_forced(const completion_run *run);
/* Pushes choice i's new tokens through the detokenizer; lp (may be NULL) collects their
 * logprobs, after the prompt's with echo. -1 when out of memory. */
int completion_advance(completion_run *run, size_t i, json_t *lp);
bool completion_all_finished(const completion_run *run);
void completion_usage(const completion_run *run, oai_usage *u);
/* Waits a slice for engine events; false when the client went away. When the server is
 * shutting down the generation is cancelled (its final events follow). */
bool completion_wait(completion_run *run);
/* Answers with a stream of server-sent events, which then owns run. */
void completion_stream(completion_run *run, http_response *resp);

#endif
