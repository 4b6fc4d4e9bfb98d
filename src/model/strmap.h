/* A hash map from byte strings to int32 values, for vocabularies and merge ranks. Keys are
 * copied into the map's own storage. */
#ifndef KVSPILL_MODEL_STRMAP_H
#define KVSPILL_MODEL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap strmap;

strmap *strmap_new(size_t expected);
void strmap_free(strmap *m);
/* Inserts key -> value; an existing key keeps its first value (returns 1). 0 when
 * inserted, -1 when out of memory. */
int strmap_put(strmap *m, const char *key, size_t len, int32_t value);
/* The value, or -1 when absent. */
int32_t strmap_get(const strmap *m, const char *key, size_t len);

#endif
