/* Configuration with LMCache's key names and units: sizes in GB (GiB, as LMCache computes
 * size * 1024**3), the cuFile buffer in MiB, booleans as Python/YAML write them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cache/config_keys.h"
#include "cache/error.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MIB (1024.0 * 1024.0)
#define MAX_IO_THREADS 1024u
#define MAX_IO_DEPTH 4096u

void kvs_config_init(kvs_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->local_cpu = true;
    cfg->max_local_cpu_size = (uint64_t)(5.0 * GIB);
    cfg->cufile_buffer_size = (uint64_t)(128 * MIB);
    cfg->durability = KVS_DURABILITY_NONE;
    cfg->max_write_queue_size = (uint64_t)GIB;
    cfg->io_threads = 4;
    cfg->io_depth = 32;
    cfg->file_mode = 0600;
    char host[64] = "localhost";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(cfg->writer_id, sizeof cfg->writer_id, "%.40s:%ld", host, (long)getpid());
}

kvs_status kvs_setting_bool(const char *key, const char *value, bool *out, kvs_error *err)
{
    if (!strcasecmp(value, "true") || !strcmp(value, "1"))
        *out = true;
    else if (!strcasecmp(value, "false") || !strcmp(value, "0"))
        *out = false;
    else
        return kvs_fail(err, KVS_ERR_INVALID, "%s: '%s' is not a boolean (true/false/1/0)", key,
                        value);
    return KVS_OK;
}

kvs_status kvs_setting_uint(const char *key, const char *value, uint32_t min, uint32_t max,
                            uint32_t *out, kvs_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno || end == value || *end || value[0] == '-' || v < min || v > max)
        return kvs_fail(err, KVS_ERR_INVALID, "%s: '%s' is not an integer in [%u, %u]", key,
                        value, min, max);
    *out = (uint32_t)v;
    return KVS_OK;
}

/* A non-negative number of `unit` bytes ("5", "0.5", "20.0"), rounded down to bytes. */
static kvs_status parse_size(const char *key, const char *value, double unit, uint64_t *out,
                             kvs_error *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(v) || v < 0 || v * unit >= 0x1p64)
        return kvs_fail(err, KVS_ERR_INVALID, "%s: '%s' is not a non-negative size in %s", key,
                        value, unit == GIB ? "GB" : "MiB");
    *out = (uint64_t)(v * unit);
    return KVS_OK;
}

static kvs_status copy_string(const char *key, const char *value, char *out, size_t cap,
                              kvs_error *err)
{
    size_t len = strlen(value);
    if (len >= cap)
        return kvs_fail(err, KVS_ERR_INVALID, "%s: value of %zu bytes is too long (max %zu)", key,
                        len, cap - 1);
    memcpy(out, value, len + 1);
    return KVS_OK;
}

static kvs_status parse_dir(const char *key, const char *value, char *out, kvs_error *err)
{
    if (!strncmp(value, "file://", 7) && value[7] != '/')
        return kvs_fail(err, KVS_ERR_INVALID, "%s: '%s' is not a file:///absolute/path URL", key,
                        value);
    return copy_string(key, value, out, KVS_PATH_MAX, err);
}

static kvs_status parse_remote_url(const char *value, char *out, kvs_error *err)
{
    if (value[0] && strncmp(value, "redis://", 8) != 0)
        return kvs_fail(err, KVS_ERR_INVALID,
                        "remote_url: '%s' is not supported (only redis://host:port)", value);
    return copy_string("remote_url", value, out, KVS_URL_MAX, err);
}

/* Octal permission bits ("0600", "660"); the owner must keep read and write, or the tier
 * could not read back or replace what it writes. */
static kvs_status parse_file_mode(const char *value, uint32_t *out, kvs_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(value, &end, 8);
    if (errno || end == value || *end || value[0] == '-' || v > 0777 || (v & 0600) != 0600)
        return kvs_fail(err, KVS_ERR_INVALID,
                        "file_mode: '%s' is not octal permission bits with owner read and "
                        "write (e.g. 0600, 0660)",
                        value);
    *out = (uint32_t)v;
    return KVS_OK;
}

static kvs_status parse_durability(const char *value, kvs_durability *out, kvs_error *err)
{
    if (!strcasecmp(value, "none"))
        *out = KVS_DURABILITY_NONE;
    else if (!strcasecmp(value, "data"))
        *out = KVS_DURABILITY_DATA;
    else
        return kvs_fail(err, KVS_ERR_INVALID, "durability: '%s' is not none or data", value);
    return KVS_OK;
}

kvs_status kvs_config_set(kvs_config *cfg, const char *key, const char *value, kvs_error *err)
{
    if (!cfg || !key || !value)
        return kvs_fail(err, KVS_ERR_INVALID, "config: NULL argument");
    if (!strcmp(key, "local_cpu"))
        return kvs_setting_bool(key, value, &cfg->local_cpu, err);
    if (!strcmp(key, "max_local_cpu_size"))
        return parse_size(key, value, GIB, &cfg->max_local_cpu_size, err);
    if (!strcmp(key, "local_disk"))
        return parse_dir(key, value, cfg->local_disk, err);
    if (!strcmp(key, "max_local_disk_size"))
        return parse_size(key, value, GIB, &cfg->max_local_disk_size, err);
    if (!strcmp(key, "gds_path"))
        return parse_dir(key, value, cfg->gds_path, err);
    if (!strcmp(key, "max_gds_size"))
        return parse_size(key, value, GIB, &cfg->max_gds_size, err);
    if (!strcmp(key, "cufile_buffer_size") || !strcmp(key, "gds_buffer_size"))
        return parse_size(key, value, MIB, &cfg->cufile_buffer_size, err);
    if (!strcmp(key, "remote_url"))
        return parse_remote_url(value, cfg->remote_url, err);
    if (!strcmp(key, "durability"))
        return parse_durability(value, &cfg->durability, err);
    if (!strcmp(key, "max_write_queue_size"))
        return parse_size(key, value, GIB, &cfg->max_write_queue_size, err);
    if (!strcmp(key, "io_threads"))
        return kvs_setting_uint(key, value, 1, MAX_IO_THREADS, &cfg->io_threads, err);
    if (!strcmp(key, "io_depth"))
        return kvs_setting_uint(key, value, 1, MAX_IO_DEPTH, &cfg->io_depth, err);
    if (!strcmp(key, "writer_id"))
        return copy_string(key, value, cfg->writer_id, sizeof cfg->writer_id, err);
    if (!strcmp(key, "file_mode"))
        return parse_file_mode(value, &cfg->file_mode, err);
    return kvs_fail(err, KVS_ERR_INVALID, "config: unknown key '%s'", key);
}

const char *const kvs_config_keys[] = {
    "local_cpu", "max_local_cpu_size", "local_disk", "max_local_disk_size", "gds_path",
    "max_gds_size", "cufile_buffer_size", "gds_buffer_size", "remote_url", "durability",
    "max_write_queue_size", "io_threads", "io_depth", "writer_id", "file_mode", NULL,
};

kvs_status kvs_settings_from_env(const kvs_settings *settings, kvs_error *err)
{
    if (!settings || !settings->keys || !settings->set)
        return kvs_fail(err, KVS_ERR_INVALID, "config: NULL argument");
    /* As LMCache documents: with a configuration file the variables are ignored. */
    const char *file = getenv("LMCACHE_CONFIG_FILE");
    if (file && *file)
        return kvs_settings_from_yaml_file(settings, file, err);
    for (size_t i = 0; settings->keys[i]; i++) {
        char name[64] = "LMCACHE_";
        size_t n = strlen(name);
        for (const char *k = settings->keys[i]; *k && n + 1 < sizeof name; k++)
            name[n++] = (char)(*k >= 'a' && *k <= 'z' ? *k - 'a' + 'A' : *k);
        name[n] = '\0';
        const char *value = getenv(name);
        if (!value)
            continue;
        kvs_status st = settings->set(settings->target, settings->keys[i], value, err);
        if (st != KVS_OK) {
            if (err) {
                char msg[KVS_ERROR_MSG_MAX];
                snprintf(msg, sizeof msg, "%s", err->msg);
                kvs_fail(err, st, "environment %s: %s", name, msg);
            }
            return st;
        }
    }
    return KVS_OK;
}

static kvs_status set_config(void *target, const char *key, const char *value, kvs_error *err)
{
    return kvs_config_set(target, key, value, err);
}

/* The library's own settings: kvs_config_keys, set by kvs_config_set into cfg. */
static kvs_settings kvs_config_settings(kvs_config *cfg)
{
    return (kvs_settings){.keys = kvs_config_keys, .set = set_config, .target = cfg};
}

kvs_status kvs_config_from_env(kvs_config *cfg, kvs_error *err)
{
    if (!cfg)
        return kvs_fail(err, KVS_ERR_INVALID, "config: NULL argument");
    kvs_settings settings = kvs_config_settings(cfg);
    return kvs_settings_from_env(&settings, err);
}

kvs_status kvs_config_from_yaml_file(kvs_config *cfg, const char *path, kvs_error *err)
{
    if (!cfg)
        return kvs_fail(err, KVS_ERR_INVALID, "config: NULL argument");
    kvs_settings settings = kvs_config_settings(cfg);
    return kvs_settings_from_yaml_file(&settings, path, err);
}

kvs_status kvs_config_from_yaml_text(kvs_config *cfg, const char *name, const char *text,
                                     size_t len, kvs_error *err)
{
    if (!cfg)
        return kvs_fail(err, KVS_ERR_INVALID, "config: NULL argument");
    kvs_settings settings = kvs_config_settings(cfg);
    return kvs_settings_from_yaml_text(&settings, name, text, len, err);
}
