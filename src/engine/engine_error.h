/* Errors of the engine (ARCHITECTURE.md §6): functions return 0 on success and -1 on failure,
 * with a message in *err naming the thing and the cause ("paged kv cache: sequence 3: 2 more
 * blocks needed, 0 free"). A failure of the model layer below is carried up with its
 * message. Never printed from inside the engine. */
#ifndef KVSPILL_ENGINE_ENGINE_ERROR_H
#define KVSPILL_ENGINE_ENGINE_ERROR_H

#define ENGINE_ERROR_MAX 512
#define ENGINE_MUST_CHECK __attribute__((warn_unused_result))

typedef struct engine_error {
    char msg[ENGINE_ERROR_MAX];
} engine_error;

/* Sets err (when not NULL) and returns -1, so callers can `return engine_fail(...)`. */
int engine_fail(engine_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
