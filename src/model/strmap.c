#include "model/strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint32_t off, len; /* key bytes in the arena; len == UINT32_MAX: empty */
    int32_t value;
} slot;

struct strmap {
    slot *slots;
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
};

static uint64_t hash(const char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static slot *alloc_slots(size_t cap)
{
    slot *s = malloc(cap * sizeof *s);
    if (s)
        for (size_t i = 0; i < cap; i++)
            s[i].len = UINT32_MAX;
    return s;
}

strmap *strmap_new(size_t expected)
{
    strmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 64;
    while (m->cap < expected * 2)
        m->cap *= 2;
    m->slots = alloc_slots(m->cap);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void strmap_free(strmap *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m->arena);
    free(m);
}

static size_t find(const strmap *m, const char *key, size_t len)
{
    size_t i = hash(key, len) & (m->cap - 1);
    while (m->slots[i].len != UINT32_MAX &&
           !(m->slots[i].len == len &&
             (len == 0 || memcmp(m->arena + m->slots[i].off, key, len) == 0)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int grow(strmap *m)
{
    size_t cap = m->cap * 2;
    slot *old = m->slots, *s = alloc_slots(cap);
    if (!s)
        return -1;
    size_t old_cap = m->cap;
    m->slots = s;
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].len == UINT32_MAX)
            continue;
        size_t j = find(m, m->arena + old[i].off, old[i].len);
        m->slots[j] = old[i];
    }
    free(old);
    return 0;
}

int strmap_put(strmap *m, const char *key, size_t len, int32_t value)
{
    if (len >= UINT32_MAX || m->arena_len + len >= UINT32_MAX)
        return -1;
    if ((m->n + 1) * 2 > m->cap && grow(m))
        return -1;
    size_t i = find(m, key, len);
    if (m->slots[i].len != UINT32_MAX)
        return 1;
    if (m->arena_len + len > m->arena_cap) {
        size_t cap = (m->arena_cap + len) * 2 + 1024;
        char *a = realloc(m->arena, cap);
        if (!a)
            return -1;
        m->arena = a;
        m->arena_cap = cap;
    }
    if (len)
        memcpy(m->arena + m->arena_len, key, len);
    m->slots[i] = (slot){(uint32_t)m->arena_len, (uint32_t)len, value};
    m->arena_len += len;
    m->n++;
    return 0;
}

int32_t strmap_get(const strmap *m, const char *key, size_t len)
{
    size_t i = find(m, key, len);
    return m->slots[i].len == UINT32_MAX ? -1 : m->slots[i].value;
}
