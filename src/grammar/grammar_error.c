/* The library's error: a message naming the thing and the cause. */
#include <stdarg.h>
#include <stdio.h>

#include "grammar/grammar.h"

int grammar_fail(grammar_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
