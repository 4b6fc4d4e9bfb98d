/* `serve --model` by URL: an http(s):// URL or a Hugging Face `org/repo:file.gguf`
 * reference, downloaded once into a cache directory. */
#ifndef KVSPILL_CLI_MODEL_FETCH_H
#define KVSPILL_CLI_MODEL_FETCH_H

#include <stddef.h>

/* Whether ref names a remote model (a URL or `org/repo[:file]` that is not a local path). */
int model_ref_is_remote(const char *ref);

/* Writes to path the local file of the remote model ref, downloading it first unless the
 * cache ($KVSPILL_MODEL_CACHE, else ~/.cache/kvspill/models) has it: resumed with HTTP Range
 * after a broken transfer, a progress bar when stderr is a terminal, the size checked and the
 * sha256 when known (a `#sha256=HEX` fragment, or Hugging Face's X-Linked-Etag), renamed into
 * place only when complete. HF_TOKEN is sent as a Bearer token to Hugging Face (HF_ENDPOINT
 * replaces https://huggingface.co). Returns 0, or -1 with the reason on stderr. */
int model_fetch(const char *ref, char *path, size_t cap);

#endif
