/* `vllm serve` flags for `kvspill serve`: a deployment's arguments (the seed's extraArgs, a
 * chart's vllmConfig) work unchanged. vLLM spells every flag with '-' or '_'
 * (--max-model-len, --max_model_len); vllm_flags_normalize rewrites the '_' form, and
 * vllm_flags_filter takes out the vLLM flags kvspill has no use for, keeping the reason each
 * is ignored for the startup line. What remains goes to getopt, so a flag no vLLM version
 * has stays an error. */
#ifndef KVSPILL_CLI_VLLM_FLAGS_H
#define KVSPILL_CLI_VLLM_FLAGS_H

#include <stddef.h>

/* The flags taken out, as "--name value (reason)", joined by "; " for one line. */
typedef struct vllm_ignored {
    char text[4096];
    size_t n;
} vllm_ignored;

/* Rewrites argv in place: "--max_model_len=8" becomes "--max-model-len=8" (the value is
 * kept as it is). The strings must be writable, as main's argv is. */
void vllm_flags_normalize(int argc, char **argv);

/* Moves the ignored vLLM flags (with their values) out of argv, which keeps argv[0] and the
 * rest in order; returns the new argc. A refused flag (one whose silent absence would be
 * wrong, such as TLS) writes "--flag: why" to refused and returns -1. */
int vllm_flags_filter(int argc, char **argv, vllm_ignored *ignored, char *refused,
                      size_t refused_cap);

/* Adds "--flag value (reason)" to the startup line. */
void vllm_ignored_add(vllm_ignored *ig, const char *flag, const char *value, const char *why);

#endif
