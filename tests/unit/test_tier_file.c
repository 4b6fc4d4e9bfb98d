/* The file tier: bit-exact round trips, every kind of damaged object is a counted miss and
 * is removed, lookups cost O(log n) cold and nothing warm, capacity holds, orphans and stale
 * leases are cleaned up, and broken directories give errors rather than crashes. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/file_lease.h"
#include "cache/file_path.h"
#include "cache/kvs_admin.h"
#include "cache/object.h"
#include "cache/tier_file.h"

static const kvs_layout small = {2, 2, 32, KVS_DTYPE_F16};

typedef struct chain {
    kvs_key ns;
    size_t n;
    kvs_chunk **c;
} chain;

static chain make_chain(uint8_t ns_seed, const kvs_layout *layout, size_t n, uint32_t tokens)
{
    chain ch = {.n = n, .c = calloc(n, sizeof(kvs_chunk *))};
    for (int i = 0; i < KVS_KEY_BYTES; i++)
        ch.ns.b[i] = (uint8_t)(ns_seed + i * 7);
    kvs_key parent = ch.ns;
    int32_t *tok = malloc(tokens * sizeof *tok);
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < tokens; j++)
            tok[j] = (int32_t)(ns_seed * 1000 + i * tokens + j);
        kvs_key key;
        kvs_key_next(&parent, tok, tokens, &key);
        kvs_error err;
        assert_int_equal(kvs_chunk_new(&ch.ns, &parent, &key, (uint32_t)i, tok, tokens, layout,
                                       &ch.c[i], &err), KVS_OK);
        test_fill_random((uint8_t *)kvs_chunk_payload(ch.c[i]), ch.c[i]->info.payload_size,
                         ns_seed * 100000 + i);
        kvs_object_seal(ch.c[i]);
        parent = key;
    }
    free(tok);
    return ch;
}

static void free_chain(chain *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        kvs_chunk_release(ch->c[i]);
    free(ch->c);
}

static kvs_tier *open_tier(const char *root, uint64_t capacity, kvs_file_tier_tuning *tune)
{
    kvs_file_tier_options o = {.name = "local_disk", .root = root, .capacity_bytes = capacity,
                               .io_depth = 8, .writer_id = "test"};
    kvs_file_tier_tuning def;
    kvs_file_tier_default_tuning(&def);
    kvs_tier *t;
    kvs_error err;
    kvs_status st = kvs_tier_file_open_tuned(&o, tune ? tune : &def, &t, &err);
    if (st != KVS_OK)
        fail_msg("open %s: %s", root, err.msg);
    return t;
}

static void put_all(kvs_tier *t, const chain *ch, kvs_status expect)
{
    kvs_status *st = calloc(ch->n, sizeof *st);
    t->methods->put(t, ch->c, ch->n, st);
    for (size_t i = 0; i < ch->n; i++)
        assert_int_equal(st[i], expect);
    free(st);
}

static kvs_status get_one(kvs_tier *t, const chain *ch, size_t i, const int32_t *tokens,
                          kvs_chunk **out)
{
    kvs_chunk_request r = {.key = ch->c[i]->info.key, .chunk_index = (uint32_t)i,
                           .tokens = tokens ? tokens : ch->c[i]->tokens,
                           .n_tokens = ch->c[i]->info.n_tokens};
    kvs_status st;
    t->methods->get(t, &ch->ns, &r, 1, out, &st);
    return st;
}

static kvs_tier_stats stats_of(kvs_tier *t)
{
    kvs_tier_stats s;
    t->methods->stats(t, &s);
    return s;
}

static void object_path(char *out, const char *root, const chain *ch, size_t i)
{
    kvs_file_object_path(out, 4096, root, &ch->ns, &ch->c[i]->info.key);
}

static mode_t mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_mode & 07777;
}

/* Objects are the owner's alone by default, whatever the umask; a tier shared by a group
 * gets exactly the file_mode asked for, though the umask would clear group bits. */
static void test_file_modes(void **state)
{
    (void)state;
    const struct {
        uint32_t file_mode;
        mode_t umask;
        mode_t want_file, want_dir;
    } cases[] = {{0, 022, 0600, 0700}, {0, 0, 0600, 0700}, {0660, 027, 0660, 0770},
                 {0640, 077, 0640, 0750}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mode_t saved = umask(cases[k].umask);
        char parent[4096], root[4200];
        test_mkdtemp(parent, "tier-mode");
        snprintf(root, sizeof root, "%s/cache", parent);
        kvs_file_tier_options o = {.name = "local_disk", .root = root, .io_depth = 4,
                                   .writer_id = "test", .file_mode = cases[k].file_mode};
        kvs_tier *t;
        kvs_error err;
        if (kvs_tier_file_open(&o, &t, &err) != KVS_OK)
            fail_msg("open %s: %s", root, err.msg);
        chain ch = make_chain((uint8_t)(40 + k), &small, 2, 16);
        put_all(t, &ch, KVS_OK);
        char path[4096];
        object_path(path, root, &ch, 1);
        assert_int_equal(mode_of(path), cases[k].want_file);
        *strrchr(path, '/') = '\0'; /* <k2k3>, <k0k1>, <namespace>, v1, the root */
        for (int up = 0; up < 5; up++) {
            assert_int_equal(mode_of(path), cases[k].want_dir);
            *strrchr(path, '/') = '\0';
        }
        free_chain(&ch);
        t->methods->close(t);
        umask(saved);
        test_rmtree(parent);
    }
}

static void test_round_trips(void **state)
{
    (void)state;
    const kvs_layout layouts[] = {{1, 1, 16, KVS_DTYPE_F16}, {3, 2, 40, KVS_DTYPE_F32},
                                  {22, 4, 64, KVS_DTYPE_F16}};
    const uint32_t sizes[] = {1, 100, 256};
    char root[4096];
    test_mkdtemp(root, "tier-rt");
    kvs_tier *t = open_tier(root, 0, NULL);
    for (size_t l = 0; l < 3; l++) {
        for (size_t s = 0; s < 3; s++) {
            chain ch = make_chain((uint8_t)(l * 3 + s + 1), &layouts[l], 5, sizes[s]);
            put_all(t, &ch, KVS_OK);
            kvs_chunk_request reqs[5];
            for (size_t i = 0; i < 5; i++)
                reqs[i] = (kvs_chunk_request){ch.c[i]->info.key, (uint32_t)i, ch.c[i]->tokens,
                                              sizes[s]};
            kvs_chunk *out[5];
            kvs_status st[5];
            t->methods->get(t, &ch.ns, reqs, 5, out, st);
            for (size_t i = 0; i < 5; i++) {
                assert_int_equal(st[i], KVS_OK);
                assert_int_equal(out[i]->total_size, ch.c[i]->total_size);
                assert_memory_equal(out[i]->buf, ch.c[i]->buf, ch.c[i]->total_size);
                kvs_chunk_release(out[i]);
            }
            kvs_key keys[5];
            for (size_t i = 0; i < 5; i++)
                keys[i] = ch.c[i]->info.key;
            assert_int_equal(t->methods->contains_prefix(t, &ch.ns, keys, 5), 5);
            kvs_error err;
            assert_int_equal(t->methods->remove(t, &ch.ns, &keys[3], &err), KVS_OK);
            assert_int_equal(t->methods->remove(t, &ch.ns, &keys[3], &err), KVS_OK);
            assert_int_equal(t->methods->contains_prefix(t, &ch.ns, keys, 5), 3);
            kvs_chunk *c;
            assert_int_equal(get_one(t, &ch, 3, NULL, &c), KVS_ERR_NOT_FOUND);
            assert_null(c);
            free_chain(&ch);
        }
    }
    kvs_tier_stats s = stats_of(t);
    assert_int_equal(s.hits, 45);
    assert_int_equal(s.corrupt, 0);
    printf("io mode: %s\n", kvs_tier_file_io_mode(t));
    t->methods->close(t);
    test_rmtree(root);
}

typedef enum damage {
    FLIP_HEADER,
    FLIP_PAYLOAD,
    TRUNCATE,
    WRONG_VERSION,
    OTHER_NAMESPACE,
    WRONG_TOKENS,
    EMPTY_FILE,
} damage;

static void damage_object(const char *path, damage d, const char *root, const chain *other)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    switch (d) {
    case FLIP_HEADER:
    case WRONG_VERSION:
    case FLIP_PAYLOAD: {
        off_t off = d == FLIP_HEADER ? 100 : d == WRONG_VERSION ? 8 : 4096 + 777;
        assert_int_equal(pread(fd, &b, 1, off), 1);
        b ^= d == WRONG_VERSION ? 0x03 : 0x10;
        assert_int_equal(pwrite(fd, &b, 1, off), 1);
        break;
    }
    case TRUNCATE: assert_int_equal(ftruncate(fd, 4096 + 100), 0); break;
    case EMPTY_FILE: assert_int_equal(ftruncate(fd, 0), 0); break;
    case OTHER_NAMESPACE: {
        /* A valid object of another namespace, renamed into this path. */
        char src[4096];
        object_path(src, root, other, 0);
        assert_int_equal(rename(src, path), 0);
        break;
    }
    case WRONG_TOKENS: break;
    }
    close(fd);
}

static void test_damaged_objects_are_counted_misses_and_removed(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-dmg");
    kvs_tier *t = open_tier(root, 0, NULL);
    const damage kinds[] = {FLIP_HEADER, FLIP_PAYLOAD, TRUNCATE, WRONG_VERSION,
                            OTHER_NAMESPACE, WRONG_TOKENS, EMPTY_FILE};
    size_t nk = sizeof kinds / sizeof kinds[0];
    chain ch = make_chain(50, &small, nk, 64);
    chain other = make_chain(51, &small, 1, 64);
    put_all(t, &ch, KVS_OK);
    for (size_t k = 0; k < nk; k++) {
        char path[4096];
        object_path(path, root, &ch, k);
        if (kinds[k] == OTHER_NAMESPACE)
            put_all(t, &other, KVS_OK);
        damage_object(path, kinds[k], root, &other);
        int32_t wrong[64];
        memcpy(wrong, ch.c[k]->tokens, sizeof wrong);
        wrong[63] ^= 1;
        kvs_chunk *c = (kvs_chunk *)0x1;
        kvs_status st = get_one(t, &ch, k, kinds[k] == WRONG_TOKENS ? wrong : NULL, &c);
        assert_int_equal(st, KVS_ERR_CORRUPT);
        assert_null(c);
        struct stat sb;
        assert_int_equal(stat(path, &sb), -1); /* removed */
        kvs_tier_stats s = stats_of(t);
        assert_int_equal(s.corrupt, k + 1);
        assert_int_equal(s.misses, k + 1);
        assert_non_null(strstr(s.last_error, path));
    }
    free_chain(&other);
    free_chain(&ch);
    t->methods->close(t);
    test_rmtree(root);
}

/* 512 chunks (a 131072-token prompt): a fresh process pays O(log n) stats, a warm one none. */
static void test_lookup_cost(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-lookup");
    const kvs_layout one = {1, 1, 8, KVS_DTYPE_F16};
    chain ch = make_chain(60, &one, 512, 4);
    kvs_key keys[512];
    for (size_t i = 0; i < 512; i++)
        keys[i] = ch.c[i]->info.key;
    kvs_tier *w = open_tier(root, 0, NULL);
    put_all(w, &ch, KVS_OK);
    uint64_t ops0 = stats_of(w).metadata_ops;
    assert_int_equal(w->methods->contains_prefix(w, &ch.ns, keys, 512), 512);
    assert_int_equal(stats_of(w).metadata_ops - ops0, 0);
    w->methods->close(w);

    kvs_tier *cold = open_tier(root, 0, NULL);
    ops0 = stats_of(cold).metadata_ops;
    assert_int_equal(cold->methods->contains_prefix(cold, &ch.ns, keys, 512), 512);
    uint64_t cold_ops = stats_of(cold).metadata_ops - ops0;
    assert_true(cold_ops >= 1 && cold_ops <= 10);
    /* A partial prefix: chunks from 300 on are gone. */
    kvs_error err;
    for (size_t i = 300; i < 512; i++)
        assert_int_equal(cold->methods->remove(cold, &ch.ns, &keys[i], &err), KVS_OK);
    cold->methods->close(cold);
    cold = open_tier(root, 0, NULL);
    ops0 = stats_of(cold).metadata_ops;
    assert_int_equal(cold->methods->contains_prefix(cold, &ch.ns, keys, 512), 300);
    cold_ops = stats_of(cold).metadata_ops - ops0;
    assert_true(cold_ops <= 10);
    /* Warm now: the same question costs nothing. */
    ops0 = stats_of(cold).metadata_ops;
    assert_int_equal(cold->methods->contains_prefix(cold, &ch.ns, keys, 512), 300);
    assert_int_equal(stats_of(cold).metadata_ops - ops0, 0);
    cold->methods->close(cold);
    free_chain(&ch);
    test_rmtree(root);
}

typedef struct usage {
    uint64_t bytes, objects, temps;
} usage;

static int add_usage(void *ctx, const kvs_scan_entry *e)
{
    usage *u = ctx;
    u->bytes += e->size;
    if (e->is_temp)
        u->temps++;
    else
        u->objects++;
    return 0;
}

static usage dir_usage(const char *root)
{
    usage u = {0};
    kvs_error err;
    assert_int_equal(kvs_file_scan(root, add_usage, &u, NULL, &err), KVS_OK);
    return u;
}

static void test_capacity_holds(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-cap");
    chain ch = make_chain(70, &small, 120, 64);
    uint64_t obj = ch.c[0]->total_size;
    uint64_t cap = obj * 40;
    kvs_tier *t = open_tier(root, cap, NULL);
    for (size_t i = 0; i < ch.n; i++) {
        kvs_status st;
        t->methods->put(t, &ch.c[i], 1, &st);
        assert_int_equal(st, KVS_OK);
        /* At most one scan interval (10% of capacity) past the limit at any time. */
        assert_true(dir_usage(root).bytes <= cap + cap / 10 + obj);
    }
    kvs_evict_report r;
    kvs_error err;
    assert_int_equal(kvs_tier_file_evict_now(t, &r, &err), KVS_OK);
    usage u = dir_usage(root);
    assert_true(u.bytes <= cap);
    kvs_tier_stats s = stats_of(t);
    assert_true(s.evictions >= 120 - 40);
    /* Least recently used went first: the newest chunk is still there. */
    kvs_chunk *c;
    assert_int_equal(get_one(t, &ch, ch.n - 1, NULL, &c), KVS_OK);
    kvs_chunk_release(c);
    assert_int_equal(get_one(t, &ch, 0, NULL, &c), KVS_ERR_NOT_FOUND);
    t->methods->close(t);
    free_chain(&ch);
    test_rmtree(root);
}

static void make_file(const char *path, size_t size, int64_t age_s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= age_s;
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_orphans_and_lease(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-orphan");
    kvs_file_tier_tuning tune;
    kvs_file_tier_default_tuning(&tune);
    tune.orphan_age_ns = 60ull * 1000000000ull;
    tune.lease_ttl_ns = 5ull * 1000000000ull;
    kvs_tier *t = open_tier(root, 1 << 30, &tune);
    chain ch = make_chain(80, &small, 1, 64);
    put_all(t, &ch, KVS_OK);
    char dir[4096], old_tmp[4200], new_tmp[4200], lease[4200];
    kvs_file_object_dir(dir, sizeof dir, root, &ch.ns, &ch.c[0]->info.key);
    snprintf(old_tmp, sizeof old_tmp, "%s/dead-writer.1.1.tmp", dir);
    snprintf(new_tmp, sizeof new_tmp, "%s/live-writer.2.2.tmp", dir);
    make_file(old_tmp, 8192, 3600);
    make_file(new_tmp, 8192, 0);

    /* A live lease of another process: nothing happens. */
    snprintf(lease, sizeof lease, "%s/v1/.evict.lease", root);
    FILE *f = fopen(lease, "w");
    fprintf(f, "other:1:1:1 %llu\n", (unsigned long long)(kvs_lease_now_ns() + 60000000000ull));
    fclose(f);
    kvs_evict_report r;
    kvs_error err;
    assert_int_equal(kvs_tier_file_evict_now(t, &r, &err), KVS_OK);
    assert_true(r.lease_busy);
    assert_int_equal(access(old_tmp, F_OK), 0);

    /* Its holder died: the lease expired and is taken over. */
    f = fopen(lease, "w");
    fprintf(f, "other:1:1:1 %llu\n", (unsigned long long)(kvs_lease_now_ns() - 1000000000ull));
    fclose(f);
    assert_int_equal(kvs_tier_file_evict_now(t, &r, &err), KVS_OK);
    assert_false(r.lease_busy);
    assert_int_equal(r.orphans_removed, 1);
    assert_int_equal(access(old_tmp, F_OK), -1);
    assert_int_equal(access(new_tmp, F_OK), 0);
    assert_int_equal(access(lease, F_OK), -1); /* released after the pass */

    /* An empty lease file left by a writer that died before filling it, long ago. */
    make_file(lease, 0, 3600);
    assert_int_equal(kvs_tier_file_evict_now(t, &r, &err), KVS_OK);
    assert_false(r.lease_busy);
    t->methods->close(t);
    free_chain(&ch);
    test_rmtree(root);
}

static void test_vanished_directory(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-gone");
    kvs_tier *t = open_tier(root, 0, NULL);
    chain ch = make_chain(90, &small, 4, 64);
    put_all(t, &ch, KVS_OK);
    test_rmtree(root);
    kvs_chunk *c;
    assert_int_equal(get_one(t, &ch, 0, NULL, &c), KVS_ERR_NOT_FOUND);
    kvs_status st[4];
    t->methods->put(t, ch.c, 4, st);
    for (int i = 0; i < 4; i++)
        assert_int_equal(st[i], KVS_ERR_IO);
    kvs_tier_stats s = stats_of(t);
    assert_non_null(strstr(s.last_error, root));
    assert_non_null(strstr(s.last_error, "No such file or directory"));
    kvs_evict_report r;
    kvs_error err;
    assert_int_equal(kvs_tier_file_evict_now(t, &r, &err), KVS_ERR_IO);
    t->methods->close(t);
    free_chain(&ch);
}

/* Permission errors, as an unprivileged user (root bypasses mode bits: fork and drop). */
static void test_permission_denied(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-perm");
    chmod(root, 0755);
    chain ch = make_chain(95, &small, 2, 64);
    /* A tier shared with other uids (file_mode): they read what root wrote. */
    kvs_file_tier_options shared = {.name = "local_disk", .root = root, .io_depth = 8,
                                    .writer_id = "test", .file_mode = 0644};
    kvs_tier *t;
    kvs_error open_err;
    if (kvs_tier_file_open(&shared, &t, &open_err) != KVS_OK)
        fail_msg("open %s: %s", root, open_err.msg);
    put_all(t, &ch, KVS_OK);
    t->methods->close(t);
    char v1[4200];
    snprintf(v1, sizeof v1, "%s/v1", root);
    chmod(v1, 0777); /* the tier opens; the namespace directory below stays root's */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        kvs_tier *u = open_tier(root, 0, NULL);
        kvs_status st;
        /* Writing into the existing namespace directory owned by root: EACCES. */
        kvs_chunk *c = ch.c[1];
        u->methods->put(u, &c, 1, &st);
        kvs_tier_stats s = stats_of(u);
        int ok = st == KVS_ERR_IO && strstr(s.last_error, "Permission denied") &&
                 strstr(s.last_error, root);
        kvs_chunk *got = NULL;
        ok = ok && get_one(u, &ch, 0, NULL, &got) == KVS_OK;
        kvs_chunk_release(got);
        u->methods->close(u);
        _exit(ok ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        skip();
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* And a directory nobody may write: opening the tier fails with the path named. */
    chmod(v1, 0555);
    pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        kvs_file_tier_options o = {.root = root};
        kvs_tier *u;
        kvs_error err;
        kvs_status st = kvs_tier_file_open(&o, &u, &err);
        _exit(st == KVS_ERR_IO && strstr(err.msg, root) ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free_chain(&ch);
    test_rmtree(root);
}

static char mounted[4096]; /* unmounted by the teardown even when an assertion fails */

static int umount_tmpfs(void **state)
{
    (void)state;
    if (mounted[0]) {
        umount(mounted);
        test_rmtree(mounted);
        mounted[0] = 0;
    }
    return 0;
}

/* A small tmpfs: read-only remount → I/O errors; full → KVS_ERR_FULL and no temp left. */
static void test_tmpfs_full_and_read_only(void **state)
{
    (void)state;
    char root[4096];
    test_mkdtemp(root, "tier-tmpfs");
    if (mount("kvspill-test", root, "tmpfs", 0, "size=2m") != 0) {
        printf("SKIP full disk and read-only cases: mount tmpfs on %s: %s\n", root,
               strerror(errno));
        test_rmtree(root);
        skip();
    }
    snprintf(mounted, sizeof mounted, "%s", root);
    kvs_tier *t = open_tier(root, 1ull << 40, NULL);
    /* Linux ≥ 6.6 tmpfs accepts O_DIRECT; older ones refuse it: either way the tier works. */
    printf("tmpfs io mode: %s\n", kvs_tier_file_io_mode(t));
    chain ch = make_chain(100, &small, 80, 64); /* 80 x 36 KiB > 2 MiB */
    kvs_status st[80];
    t->methods->put(t, ch.c, 80, st);
    size_t ok = 0, full = 0;
    for (int i = 0; i < 80; i++) {
        ok += st[i] == KVS_OK;
        full += st[i] == KVS_ERR_FULL;
        if (st[i] != KVS_OK && st[i] != KVS_ERR_FULL)
            printf("put %d: %s (%s)\n", i, kvs_status_str(st[i]), stats_of(t).last_error);
    }
    assert_true(ok > 0 && full > 0 && ok + full == 80);
    assert_int_equal(dir_usage(root).temps, 0);
    kvs_chunk *c;
    assert_int_equal(get_one(t, &ch, 0, NULL, &c), KVS_OK);
    kvs_chunk_release(c);

    kvs_error err;
    assert_int_equal(t->methods->remove(t, &ch.ns, &ch.c[0]->info.key, &err), KVS_OK);
    assert_int_equal(mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY, "size=2m"), 0);
    kvs_status one;
    t->methods->put(t, &ch.c[0], 1, &one);
    assert_int_equal(one, KVS_ERR_IO);
    assert_non_null(strstr(stats_of(t).last_error, "Read-only file system"));
    assert_int_equal(get_one(t, &ch, 1, NULL, &c), KVS_OK);
    kvs_chunk_release(c);
    t->methods->close(t);
    free_chain(&ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_damaged_objects_are_counted_misses_and_removed),
        cmocka_unit_test(test_lookup_cost),
        cmocka_unit_test(test_capacity_holds),
        cmocka_unit_test(test_orphans_and_lease),
        cmocka_unit_test(test_vanished_directory),
        cmocka_unit_test(test_permission_denied),
        cmocka_unit_test_teardown(test_tmpfs_full_and_read_only, umount_tmpfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
