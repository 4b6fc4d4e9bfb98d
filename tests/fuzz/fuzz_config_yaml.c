/* Fuzzes the LMCACHE_CONFIG_FILE reader (src/cache/config_yaml.c): YAML text as an operator
 * or a mounted ConfigMap might hold it, through libyaml and kvs_config_set. Nothing may
 * crash; a rejection names the file and says why; an accepted configuration holds
 * NUL-terminated strings and values the setters allow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/config_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t cap)
{
    if (!memchr(s, 0, cap))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so a read past the end is caught by the sanitizer. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    kvs_config cfg;
    kvs_config_init(&cfg);
    kvs_error err = {0};
    if (kvs_config_from_yaml_text(&cfg, "fuzz.yaml", text, size, &err) != KVS_OK) {
        if (strncmp(err.msg, "fuzz.yaml", 9) != 0)
            __builtin_trap();
    } else {
        check_string(cfg.local_disk, sizeof cfg.local_disk);
        check_string(cfg.gds_path, sizeof cfg.gds_path);
        check_string(cfg.remote_url, sizeof cfg.remote_url);
        check_string(cfg.writer_id, sizeof cfg.writer_id);
        if (cfg.io_threads == 0 || cfg.io_depth == 0)
            __builtin_trap();
    }
    free(text);
    return 0;
}
