/* The configuration keys kvs_config_set knows, shared by the environment and YAML readers. */
#ifndef KVSPILL_CACHE_CONFIG_KEYS_H
#define KVSPILL_CACHE_CONFIG_KEYS_H

#include "kvspill.h"

/* NULL-terminated list of the LMCache-style key names (lower case). */
extern const char *const kvs_config_keys[];
bool kvs_config_key_known(const char *key);

#endif
