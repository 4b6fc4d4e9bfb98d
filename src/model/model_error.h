/* Errors in the model layer: functions return 0 on success and -1 on failure, with a
 * message naming the thing and the cause in *err ("model.gguf: tensor blk.0.attn_q.weight:
 * data [123, 456) past end of file (400)"). Never printed from inside the library. */
#ifndef KVSPILL_MODEL_ERROR_H
#define KVSPILL_MODEL_ERROR_H

#define MODEL_ERROR_MAX 512
#define MODEL_MUST_CHECK __attribute__((warn_unused_result))

typedef struct model_error {
    char msg[MODEL_ERROR_MAX];
} model_error;

/* Sets err (when not NULL) and returns -1, so callers can `return model_fail(...)`. */
int model_fail(model_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
