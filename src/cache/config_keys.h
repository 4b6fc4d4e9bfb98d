/* The configuration keys kvs_config_set knows and the settings reader behind
 * kvs_config_from_env and kvs_config_from_yaml_file, shared by the environment and YAML
 * readers. */
#ifndef KVSPILL_CACHE_CONFIG_KEYS_H
#define KVSPILL_CACHE_CONFIG_KEYS_H

#include "kvspill.h"

/* NULL-terminated list of the LMCache-style key names (lower case). */
extern const char *const kvs_config_keys[];

/* kvs_settings_from_yaml_file on len bytes of YAML in memory, errors naming it as name. */
kvs_status kvs_settings_from_yaml_text(const kvs_settings *settings, const char *name,
                                       const char *text, size_t len, kvs_error *err);
/* kvs_config_from_yaml_file on len bytes of YAML in memory; errors name the text as name
 * (tests/fuzz/fuzz_config_yaml.c). */
kvs_status kvs_config_from_yaml_text(kvs_config *cfg, const char *name, const char *text,
                                     size_t len, kvs_error *err);

#endif
