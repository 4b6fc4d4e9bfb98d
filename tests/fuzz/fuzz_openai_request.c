/* Fuzzes the OpenAI request parser and validator with both endpoint kinds, the length
 * check, and the error body of every rejection. Nothing a client sends may crash it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/api_error.h"
#include "server/openai_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so a read past the end is caught by the sanitizer. */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    static const oai_limits lim = {"tiny", 32000, 512};
    for (int kind = OAI_COMPLETION; kind <= OAI_CHAT; kind++) {
        oai_request r;
        api_error err;
        if (oai_request_parse((oai_kind)kind, body, size, &lim, &r, &err) == 0) {
            size_t n_prompt = r.prompt_is_tokens ? r.n_prompt_tokens : r.prompt_len;
            if (oai_check_lengths(&r, n_prompt, lim.max_model_len, &err) != 0)
                free(api_error_json(&err, NULL));
        } else {
            free(api_error_json(&err, NULL));
        }
        oai_request_free(&r);
    }
    free(body);
    return 0;
}
