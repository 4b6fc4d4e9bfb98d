/* The matcher: parse stacks as hash-consed linked frames (a stack is one node id, equal
 * stacks are one id), a state as an interned sorted set of stacks, and per state a table
 * of the states after each byte, filled as the bytes are seen (the token mask's trie walk
 * looks a transition up with one load). A state's stacks are expanded: each top is a byte set to match
 * next, or the empty stack (node 0) when the text so far is complete. */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar_matcher_internal.h"

enum {
    MAX_NODES = 1 << 22,   /* frames, all states together */
    MAX_SETS = 1 << 17,    /* states (each with a 1 KiB transition table once stepped from) */
    MAX_STACKS = 4096,     /* stacks in one state: an ambiguous grammar's parses */
    MAX_EXPAND = 1 << 20,  /* expansion steps to make one state */
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int limit(grammar_matcher *m, const char *what, int n)
{
    return grammar_fail(m->err, "grammar: %s (more than %d); the grammar is too ambiguous",
                        what, n);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Open-addressing tables of ids (0 = empty slot), keyed by what the id stands for. */
static int rehash(uint32_t **tab, size_t *cap, size_t n_items, uint64_t (*key)(grammar_matcher *, uint32_t),
                  grammar_matcher *m)
{
    if ((n_items + 1) * 2 <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 1024;
    uint32_t *t = calloc(nc, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < *cap; i++) {
        uint32_t id = (*tab)[i];
        if (!id)
            continue;
        size_t h = (size_t)key(m, id) & (nc - 1);
        while (t[h])
            h = (h + 1) & (nc - 1);
        t[h] = id;
    }
    free(*tab);
    *tab = t;
    *cap = nc;
    return 0;
}

static uint64_t node_key(grammar_matcher *m, uint32_t id)
{
    return mix((uint64_t)m->nodes[id].pos << 32 | m->nodes[id].parent);
}

/* The stack `pos` on top of `parent`; 0 (never a real frame) when a limit is hit. */
static uint32_t intern_node(grammar_matcher *m, uint32_t pos, uint32_t parent)
{
    if (rehash(&m->node_tab, &m->node_cap, m->n_nodes, node_key, m))
        return 0;
    size_t h = (size_t)mix((uint64_t)pos << 32 | parent) & (m->node_cap - 1);
    for (uint32_t id; (id = m->node_tab[h]); h = (h + 1) & (m->node_cap - 1))
        if (m->nodes[id].pos == pos && m->nodes[id].parent == parent)
            return id;
    if (m->n_nodes >= MAX_NODES ||
        grow((void **)&m->nodes, &m->cap_nodes, m->n_nodes + 1, sizeof *m->nodes))
        return 0;
    uint32_t id = (uint32_t)m->n_nodes++;
    m->nodes[id] = (snode){pos, parent};
    m->node_tab[h] = id;
    return id;
}

static uint64_t set_hash_of(const uint32_t *s, uint32_t n)
{
    uint64_t h = n;
    for (uint32_t i = 0; i < n; i++)
        h = mix(h ^ s[i]);
    return h;
}

static uint64_t set_key(grammar_matcher *m, uint32_t id) { return m->sets[id].hash; }

/* The id of the set of stacks s[0..n) (sorted, distinct); UINT32_MAX on a limit. */
static uint32_t intern_set(grammar_matcher *m, const uint32_t *s, uint32_t n)
{
    if (n == 0)
        return 0;
    if (rehash(&m->set_tab, &m->set_cap, m->n_sets, set_key, m))
        return UINT32_MAX;
    uint64_t hv = set_hash_of(s, n);
    size_t h = (size_t)hv & (m->set_cap - 1);
    for (uint32_t id; (id = m->set_tab[h]); h = (h + 1) & (m->set_cap - 1)) {
        const sstate *st = &m->sets[id];
        if (st->hash == hv && st->n == n && !memcmp(m->pool + st->off, s, n * sizeof *s))
            return id;
    }
    if (m->n_sets >= MAX_SETS ||
        grow((void **)&m->sets, &m->cap_sets, m->n_sets + 1, sizeof *m->sets) ||
        grow((void **)&m->pool, &m->cap_pool, m->n_pool + n, sizeof *m->pool))
        return UINT32_MAX;
    uint32_t id = (uint32_t)m->n_sets++;
    memcpy(m->pool + m->n_pool, s, n * sizeof *s);
    m->sets[id] = (sstate){(uint32_t)m->n_pool, n, hv, NULL};
    m->n_pool += n;
    m->set_tab[h] = id;
    return id;
}

static int scratch_add(grammar_matcher *m, uint32_t stack)
{
    if (m->n_scratch >= MAX_STACKS * 4)
        return limit(m, "parse stacks in one state", MAX_STACKS);
    if (grow((void **)&m->scratch, &m->cap_scratch, m->n_scratch + 1, sizeof *m->scratch))
        return grammar_fail(m->err, "grammar: out of memory");
    m->scratch[m->n_scratch++] = stack;
    return 0;
}

static int nomem_state(grammar_matcher *m)
{
    return grammar_fail(m->err, "grammar: out of memory or more than %d parse frames",
                        MAX_NODES);
}

/* Adds to scratch the expanded stacks of `stack`: rule references at the top replaced by
 * each alternative, until a byte set (or nothing: complete) is on top. */
static int expand(grammar_matcher *m, uint32_t stack)
{
    if (++m->n_expand > MAX_EXPAND)
        return limit(m, "expansion steps for one state", MAX_EXPAND);
    if (stack == 0)
        return scratch_add(m, 0);
    const gelem *el = m->g->el;
    snode nd = m->nodes[stack];
    if (el[nd.pos].type == GE_BYTES)
        return scratch_add(m, stack);
    uint32_t base = nd.parent;
    if (!gelem_ends_seq(&el[nd.pos + 1]) && !(base = intern_node(m, nd.pos + 1, nd.parent)))
        return nomem_state(m);
    for (uint32_t a = m->g->rule_start[el[nd.pos].value];; a++) {
        int rc;
        if (gelem_ends_seq(&el[a])) {
            rc = expand(m, base);
        } else {
            uint32_t s = intern_node(m, a, base);
            rc = s ? expand(m, s) : nomem_state(m);
            while (!gelem_ends_seq(&el[a + 1]))
                a++;
            a++;
        }
        if (rc)
            return -1;
        if (el[a].type == GE_END)
            break;
    }
    return 0;
}

static int by_id(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Interns scratch as a state into *out. */
static int finish_set(grammar_matcher *m, uint32_t *out)
{
    qsort(m->scratch, m->n_scratch, sizeof *m->scratch, by_id);
    uint32_t n = 0;
    for (size_t i = 0; i < m->n_scratch; i++)
        if (n == 0 || m->scratch[i] != m->scratch[n - 1])
            m->scratch[n++] = m->scratch[i];
    if (n > MAX_STACKS)
        return limit(m, "parse stacks in one state", MAX_STACKS);
    uint32_t id = intern_set(m, m->scratch, n);
    if (id == UINT32_MAX)
        return grammar_fail(m->err, "grammar: out of memory or more than %d states", MAX_SETS);
    *out = id;
    return 0;
}

int gm_step(grammar_matcher *m, uint32_t set, uint8_t byte, uint32_t *out)
{
    if (set == 0) {
        *out = 0;
        return 0;
    }
    if (!m->sets[set].next) {
        uint32_t *t = malloc(256 * sizeof *t);
        if (!t)
            return grammar_fail(m->err, "grammar: out of memory");
        memset(t, 0xFF, 256 * sizeof *t); /* UINT32_MAX: not computed yet */
        m->sets[set].next = t;
    } else if (m->sets[set].next[byte] != UINT32_MAX) {
        *out = m->sets[set].next[byte];
        return 0;
    }
    m->n_scratch = 0;
    m->n_expand = 0;
    const sstate st = m->sets[set];
    for (uint32_t i = 0; i < st.n; i++) {
        uint32_t s = m->pool[st.off + i];
        if (s == 0)
            continue;
        snode nd = m->nodes[s];
        if (!byteset_has(&m->g->sets[m->g->el[nd.pos].value], byte))
            continue;
        uint32_t next = nd.parent;
        if (!gelem_ends_seq(&m->g->el[nd.pos + 1]) &&
            !(next = intern_node(m, nd.pos + 1, nd.parent)))
            return nomem_state(m);
        if (expand(m, next))
            return -1;
    }
    uint32_t result;
    if (finish_set(m, &result))
        return -1;
    m->sets[set].next[byte] = result; /* sets may have moved: index again */
    *out = result;
    return 0;
}

int grammar_matcher_create(const grammar *g, grammar_matcher **out, grammar_error *err)
{
    *out = NULL;
    grammar_matcher *m = calloc(1, sizeof *m);
    if (!m)
        return grammar_fail(err, "grammar: out of memory");
    m->g = g;
    m->err = err;
    /* Id 0 of nodes and sets is reserved: the empty stack and the dead state, and the
     * empty slot of the tables. */
    if (grow((void **)&m->nodes, &m->cap_nodes, 1, sizeof *m->nodes) ||
        grow((void **)&m->sets, &m->cap_sets, 1, sizeof *m->sets)) {
        grammar_matcher_destroy(m);
        return grammar_fail(err, "grammar: out of memory");
    }
    m->n_nodes = m->n_sets = 1;
    m->sets[0] = (sstate){0, 0, 0, NULL};
    int rc = 0;
    for (uint32_t a = g->rule_start[g->root]; !rc; a++) {
        if (gelem_ends_seq(&g->el[a])) {
            rc = scratch_add(m, 0);
        } else {
            uint32_t s = intern_node(m, a, 0);
            rc = s ? expand(m, s) : nomem_state(m);
            while (!gelem_ends_seq(&g->el[a + 1]))
                a++;
            a++;
        }
        if (g->el[a].type == GE_END)
            break;
    }
    if (rc || finish_set(m, &m->cur)) {
        grammar_matcher_destroy(m);
        return -1;
    }
    m->err = NULL;
    *out = m;
    return 0;
}

void grammar_matcher_destroy(grammar_matcher *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->node_tab);
    for (size_t i = 0; i < m->n_sets; i++)
        free(m->sets[i].next);
    free(m->sets);
    free(m->set_tab);
    free(m->pool);
    free(m->scratch);
    for (size_t i = 0; i < GM_MASK_CACHE; i++)
        free(m->masks[i].bits);
    free(m);
}

int grammar_matcher_accept(grammar_matcher *m, const void *bytes, size_t n, grammar_error *err)
{
    m->err = err;
    const uint8_t *p = bytes;
    uint32_t s = m->cur;
    for (size_t i = 0; i < n && s; i++)
        if (gm_step(m, s, p[i], &s))
            return -1;
    if (s == 0)
        return 1;
    m->cur = s;
    return 0;
}

bool grammar_matcher_complete(const grammar_matcher *m)
{
    const sstate *st = &m->sets[m->cur];
    return st->n && m->pool[st->off] == 0; /* sorted: the empty stack comes first */
}

bool grammar_matcher_can_continue(const grammar_matcher *m)
{
    const sstate *st = &m->sets[m->cur];
    return st->n > (grammar_matcher_complete(m) ? 1u : 0u);
}
