/* POST /v1/embeddings: refused. The models kvspill loads (llama, qwen2, qwen3) are decoder
 * language models with an output head and no pooling; an embedding is not what they were
 * trained to give, so none is made up. 400, as vLLM answers when the served model does not
 * support the Embeddings API. */
#include "model/model.h"
#include "server/server.h"

void ep_embeddings(server *s, const http_request *req, http_response *resp)
{
    (void)req;
    api_error err;
    api_fail(&err, 400, "model", NULL,
             "The model `%.200s` does not support the Embeddings API: it is a %s "
             "text-generation model (a language-model head, no pooling), and kvspill serves "
             "no embedding models; use /v1/completions or /v1/chat/completions",
             s->model_name, engine_model(s->e)->arch);
    server_reply_error(resp, &err);
}
