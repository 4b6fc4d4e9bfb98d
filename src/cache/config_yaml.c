/* LMCACHE_CONFIG_FILE: a YAML mapping of LMCache keys to scalars. Keys we do not know are
 * ignored whatever their value (LMCache configs carry extra_config mappings and many
 * options of other backends); a known key with a bad value names file, line and key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "cache/config_keys.h"
#include "cache/error.h"

/* YAML's plain null ("null", "~", "", "None" as LMCache writes it) turns a string option
 * off; numbers and booleans keep their text. */
static const char *scalar_text(const yaml_node_t *node)
{
    const char *text = (const char *)node->data.scalar.value;
    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (!strcmp(text, "null") || !strcmp(text, "Null") || !strcmp(text, "NULL") ||
         !strcmp(text, "~") || !strcmp(text, "None")))
        return "";
    return text;
}

static bool key_known(const kvs_settings *settings, const char *key)
{
    for (size_t i = 0; settings->keys[i]; i++)
        if (!strcmp(settings->keys[i], key))
            return true;
    return false;
}

static kvs_status apply_mapping(const kvs_settings *settings, const char *path, yaml_document_t *doc,
                                yaml_node_t *root, kvs_error *err)
{
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(doc, pair->key);
        yaml_node_t *v = yaml_document_get_node(doc, pair->value);
        unsigned long line = k ? (unsigned long)k->start_mark.line + 1 : 0;
        if (!k || k->type != YAML_SCALAR_NODE || !v)
            return kvs_fail(err, KVS_ERR_INVALID, "%s:%lu: a key is not a plain name", path,
                            line);
        const char *key = (const char *)k->data.scalar.value;
        if (!key_known(settings, key))
            continue;
        if (v->type != YAML_SCALAR_NODE)
            return kvs_fail(err, KVS_ERR_INVALID, "%s:%lu: %s: expected a single value", path,
                            line, key);
        kvs_error inner;
        kvs_status st = settings->set(settings->target, key, scalar_text(v), &inner);
        if (st != KVS_OK)
            return kvs_fail(err, st, "%s:%lu: %s", path, line, inner.msg);
    }
    return KVS_OK;
}

/* Loads the one document of an initialized parser whose input is set, names errors after
 * name, applies it to settings and deletes the parser. */
static kvs_status load(const kvs_settings *settings, const char *name, yaml_parser_t *parser, kvs_error *err)
{
    yaml_document_t doc;
    kvs_status st = KVS_OK;
    if (!yaml_parser_load(parser, &doc)) {
        st = kvs_fail(err, KVS_ERR_INVALID, "%s:%lu: YAML error: %s", name,
                      (unsigned long)parser->problem_mark.line + 1,
                      parser->problem ? parser->problem : "unreadable");
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type == YAML_MAPPING_NODE)
            st = apply_mapping(settings, name, &doc, root, err);
        else if (root && !(root->type == YAML_SCALAR_NODE && !*scalar_text(root)))
            st = kvs_fail(err, KVS_ERR_INVALID, "%s:%lu: expected a mapping of keys to values",
                          name, (unsigned long)root->start_mark.line + 1);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(parser);
    return st;
}

kvs_status kvs_settings_from_yaml_file(const kvs_settings *settings, const char *path,
                                       kvs_error *err)
{
    if (!settings || !settings->keys || !settings->set || !path)
        return kvs_fail(err, KVS_ERR_INVALID, "config: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return kvs_fail_errno(err, errno, "open config file %s", path);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return kvs_fail(err, KVS_ERR_NOMEM, "%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    kvs_status st = load(settings, path, &parser, err);
    fclose(f);
    return st;
}

kvs_status kvs_settings_from_yaml_text(const kvs_settings *settings, const char *name,
                                       const char *text, size_t len, kvs_error *err)
{
    if (!settings || !settings->keys || !settings->set || !name || (!text && len))
        return kvs_fail(err, KVS_ERR_INVALID, "config: NULL argument");
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return kvs_fail(err, KVS_ERR_NOMEM, "%s: cannot start the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);
    return load(settings, name, &parser, err);
}
