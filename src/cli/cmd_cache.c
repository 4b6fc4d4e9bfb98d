/* kvspill cache ls|stat|verify|gc DIR: operator tools for a file tier directory.
 * Exit status: 0 ok, 1 a problem was found (damaged objects), 2 usage error or cannot run. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/kvs_admin.h"
#include "cli/commands.h"

static int usage_error(const char *cmd, const char *usage)
{
    fprintf(stderr, "usage: kvspill %s %s\n", cmd, usage);
    return 2;
}

static bool listed(const char *arg, const char *const *list)
{
    for (; list && *list; list++)
        if (!strcmp(arg, *list))
            return true;
    return false;
}

#define ROOTS_SHOWN 10

typedef struct roots_found {
    const char *cmd;
    unsigned n;
} roots_found;

static int print_root(void *ctx, const char *root)
{
    roots_found *r = ctx;
    if (r->n++ == 0)
        fprintf(stderr, "kvspill %s: cache directories below it:\n", r->cmd);
    if (r->n <= ROOTS_SHOWN)
        fprintf(stderr, "  %s\n", root);
    return 0;
}

/* A directory without v1/ is not a cache: say so, and where the caches below it are,
 * rather than report an empty cache. Returns 0 for a cache, 2 after printing why. */
static int require_cache_root(const char *cmd, const char *dir)
{
    if (kvs_file_is_root(dir))
        return 0;
    fprintf(stderr, "kvspill %s: %s: no cache found here (no %s/v1 directory)\n", cmd, dir, dir);
    roots_found r = {.cmd = cmd};
    kvs_error err;
    if (kvs_file_find_roots(dir, 4, print_root, &r, &err) != KVS_OK)
        fprintf(stderr, "kvspill %s: %s\n", cmd, err.msg);
    else if (r.n > ROOTS_SHOWN)
        fprintf(stderr, "  ... and %u more\n", r.n - ROOTS_SHOWN);
    else if (r.n == 0)
        fprintf(stderr, "kvspill %s: no cache directory below it either\n", cmd);
    return 2;
}

/* Checks every argument: flags from `flags`, flags with a value from `value_flags`, and
 * exactly one DIR, which must be a directory. Returns 0, or 2 after printing why. */
static int parse_args(int argc, char **argv, const char *const *flags,
                      const char *const *value_flags, const char *usage, const char **dir)
{
    *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (listed(argv[i], value_flags) && i + 1 < argc)
            i++;
        else if (argv[i][0] == '-' ? !listed(argv[i], flags) : *dir != NULL)
            return usage_error(argv[0], usage);
        else if (argv[i][0] != '-')
            *dir = argv[i];
    }
    if (!*dir)
        return usage_error(argv[0], usage);
    struct stat sb;
    if (stat(*dir, &sb) != 0) {
        fprintf(stderr, "kvspill %s: %s: %s\n", argv[0], *dir, strerror(errno));
        return 2;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "kvspill %s: %s: not a directory\n", argv[0], *dir);
        return 2;
    }
    return require_cache_root(argv[0], *dir);
}

static bool has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag))
            return true;
    return false;
}

static double age_seconds(int64_t mtime_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return now > mtime_ns ? (double)(now - mtime_ns) / 1e9 : 0.0;
}

/* ---- ls ------------------------------------------------------------------------------- */

typedef struct ls_ctx {
    json_t *json;      /* array, or NULL for text */
    uint64_t damaged;
} ls_ctx;

static int ls_entry(void *arg, const kvs_scan_entry *e)
{
    ls_ctx *ls = arg;
    if (e->is_temp)
        return 0;
    char key[KVS_KEY_HEX_LEN + 1], ns[KVS_KEY_HEX_LEN + 1];
    kvs_key_hex(&e->key, key);
    kvs_key_hex(&e->ns, ns);
    kvs_chunk_info info;
    kvs_error err;
    if (kvs_file_read_header(e->path, &info, &err) != KVS_OK) {
        fprintf(stderr, "kvspill cache ls: %s\n", err.msg);
        ls->damaged++;
        return 0;
    }
    double age = age_seconds(e->mtime_ns);
    if (ls->json) {
        json_array_append_new(ls->json,
            json_pack("{s:s,s:s,s:I,s:I,s:I,s:f,s:s}", "key", key, "namespace", ns,
                      "chunk_index", (json_int_t)info.chunk_index, "tokens",
                      (json_int_t)info.n_tokens, "bytes", (json_int_t)e->size, "age_s", age,
                      "writer", info.writer_id));
    } else {
        printf("%s %.16s %6u %6u %10" PRIu64 " %8.0fs\n", key, ns, info.chunk_index,
               info.n_tokens, e->size, age);
    }
    return 0;
}

int cmd_cache_ls(int argc, char **argv)
{
    static const char *const flags[] = {"--json", NULL};
    const char *dir;
    if (parse_args(argc, argv, flags, NULL, "DIR [--json]", &dir))
        return 2;
    ls_ctx ls = {.json = has_flag(argc, argv, "--json") ? json_array() : NULL};
    if (!ls.json)
        printf("%-64s %-16s %6s %6s %10s %9s\n", "KEY", "NAMESPACE", "CHUNK", "TOKENS", "BYTES",
               "AGE");
    kvs_error err;
    if (kvs_file_scan(dir, ls_entry, &ls, NULL, &err) != KVS_OK) {
        fprintf(stderr, "kvspill cache ls: %s\n", err.msg);
        json_decref(ls.json);
        return 2;
    }
    if (ls.json) {
        json_dumpf(ls.json, stdout, JSON_INDENT(1));
        printf("\n");
        json_decref(ls.json);
    }
    return 0;
}

/* ---- stat ----------------------------------------------------------------------------- */

typedef struct ns_total {
    kvs_key ns;
    uint64_t objects, bytes;
} ns_total;

typedef struct stat_ctx {
    ns_total *ns;
    size_t n, cap;
    uint64_t temps, temp_bytes;
    bool nomem;
} stat_ctx;

static int stat_entry(void *arg, const kvs_scan_entry *e)
{
    stat_ctx *s = arg;
    if (e->is_temp) {
        s->temps++;
        s->temp_bytes += e->size;
        return 0;
    }
    size_t i = 0;
    while (i < s->n && !kvs_key_equal(&s->ns[i].ns, &e->ns))
        i++;
    if (i == s->n) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 8;
            ns_total *grown = realloc(s->ns, cap * sizeof *grown);
            if (!grown) {
                s->nomem = true;
                return 1;
            }
            s->ns = grown;
            s->cap = cap;
        }
        s->ns[s->n++] = (ns_total){.ns = e->ns};
    }
    s->ns[i].objects++;
    s->ns[i].bytes += e->size;
    return 0;
}

int cmd_cache_stat(int argc, char **argv)
{
    const char *dir;
    if (parse_args(argc, argv, NULL, NULL, "DIR", &dir))
        return 2;
    stat_ctx s = {0};
    kvs_error err;
    if (kvs_file_scan(dir, stat_entry, &s, NULL, &err) != KVS_OK || s.nomem) {
        fprintf(stderr, "kvspill cache stat: %s\n", s.nomem ? "out of memory" : err.msg);
        free(s.ns);
        return 2;
    }
    uint64_t objects = 0, bytes = 0;
    printf("%-64s %10s %14s\n", "NAMESPACE", "OBJECTS", "BYTES");
    for (size_t i = 0; i < s.n; i++) {
        char hex[KVS_KEY_HEX_LEN + 1];
        kvs_key_hex(&s.ns[i].ns, hex);
        printf("%s %10" PRIu64 " %14" PRIu64 "\n", hex, s.ns[i].objects, s.ns[i].bytes);
        objects += s.ns[i].objects;
        bytes += s.ns[i].bytes;
    }
    printf("total: %zu namespaces, %" PRIu64 " objects, %" PRIu64 " bytes (%.1f MiB); "
           "%" PRIu64 " temp files, %" PRIu64 " bytes\n",
           s.n, objects, bytes, (double)bytes / 1048576.0, s.temps, s.temp_bytes);
    free(s.ns);
    return 0;
}

/* ---- verify --------------------------------------------------------------------------- */

typedef struct verify_ctx {
    bool remove;
    uint64_t ok, damaged, removed, errors, exposed;
} verify_ctx;

static int verify_entry(void *arg, const kvs_scan_entry *e)
{
    verify_ctx *v = arg;
    if (e->is_temp)
        return 0;
    /* KV tensors reveal their prompt: an object other users can read is a finding. */
    if (e->mode & S_IROTH) {
        if (v->exposed++ == 0)
            printf("READABLE BY OTHERS %s (mode %04o)\n", e->path, e->mode);
    }
    kvs_error err;
    kvs_status st = kvs_file_verify_object(e->path, &e->ns, &e->key, NULL, &err);
    if (st == KVS_OK) {
        v->ok++;
    } else if (st == KVS_ERR_CORRUPT) {
        v->damaged++;
        printf("DAMAGED %s\n", err.msg);
        if (v->remove) {
            if (unlink(e->path) == 0)
                v->removed++;
            else
                fprintf(stderr, "kvspill cache verify: remove %s: %s\n", e->path,
                        strerror(errno));
        }
    } else if (st != KVS_ERR_NOT_FOUND) { /* NOT_FOUND: evicted while we walked */
        v->errors++;
        fprintf(stderr, "kvspill cache verify: %s\n", err.msg);
    }
    return 0;
}

int cmd_cache_verify(int argc, char **argv)
{
    static const char *const flags[] = {"--remove", NULL};
    const char *dir;
    if (parse_args(argc, argv, flags, NULL, "DIR [--remove]", &dir))
        return 2;
    verify_ctx v = {.remove = has_flag(argc, argv, "--remove")};
    kvs_error err;
    if (kvs_file_scan(dir, verify_entry, &v, NULL, &err) != KVS_OK) {
        fprintf(stderr, "kvspill cache verify: %s\n", err.msg);
        return 2;
    }
    printf("verified %" PRIu64 " objects: %" PRIu64 " ok, %" PRIu64 " damaged",
           v.ok + v.damaged, v.ok, v.damaged);
    if (v.remove)
        printf(", %" PRIu64 " removed", v.removed);
    printf("\n");
    if (v.exposed)
        printf("%" PRIu64 " objects are readable by other users: chmod o-r them; kvspill "
               "creates objects 0600, or LMCACHE_FILE_MODE (e.g. 0660 for a tier shared by "
               "one group)\n",
               v.exposed);
    if (v.errors)
        return 2;
    return v.damaged || v.exposed ? 1 : 0;
}

/* ---- gc ------------------------------------------------------------------------------- */

/* "10G", "500M", "64k", "4096" (binary units). */
static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return false;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (shift && (*end == 'i'))
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

static const char *flag_value(int argc, char **argv, const char *flag)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], flag))
            return argv[i + 1];
    return NULL;
}

int cmd_cache_gc(int argc, char **argv)
{
    static const char *const value_flags[] = {"--max-size", "--orphan-age", NULL};
    static const char *usage = "DIR --max-size SIZE [--orphan-age SECONDS]  (SIZE: 10G, 500M, "
                               "bytes)";
    const char *dir;
    if (parse_args(argc, argv, NULL, value_flags, usage, &dir))
        return 2;
    const char *size_arg = flag_value(argc, argv, "--max-size");
    const char *age_arg = flag_value(argc, argv, "--orphan-age");
    uint64_t max_size, orphan_s = 600;
    if (!size_arg)
        return usage_error(argv[0], usage);
    if (!parse_size(size_arg, &max_size)) {
        fprintf(stderr, "kvspill %s: --max-size %s: not a size (10G, 500M, bytes)\n", argv[0],
                size_arg);
        return 2;
    }
    if (age_arg && !parse_size(age_arg, &orphan_s)) {
        fprintf(stderr, "kvspill %s: --orphan-age %s: not a number of seconds\n", argv[0],
                age_arg);
        return 2;
    }
    char owner[64];
    snprintf(owner, sizeof owner, "kvspill-gc-%ld", (long)getpid());
    kvs_evict_params p = {.trigger_bytes = max_size, .target_bytes = max_size,
                          .orphan_age_ns = orphan_s * 1000000000ull,
                          .lease_ttl_ns = 30ull * 1000000000ull, .owner = owner};
    kvs_evict_report r;
    kvs_error err;
    if (kvs_file_evict(dir, &p, &r, &err) != KVS_OK) {
        fprintf(stderr, "kvspill cache gc: %s\n", err.msg);
        return 2;
    }
    if (r.lease_busy) {
        fprintf(stderr, "kvspill cache gc: %s/v1/.evict.lease: another process is evicting; "
                        "try again later\n", dir);
        return 2;
    }
    printf("gc %s: %" PRIu64 " -> %" PRIu64 " bytes (limit %" PRIu64 "); evicted %" PRIu64
           " objects (%" PRIu64 " bytes); removed %" PRIu64 " orphan temp files%s\n",
           dir, r.used_before, r.used_after, max_size, r.evicted_objects, r.evicted_bytes,
           r.orphans_removed, r.lease_lost ? "; stopped: lease taken over" : "");
    return r.used_after > max_size ? 1 : 0;
}
