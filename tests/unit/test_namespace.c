/* Namespace ids: every field of the description changes the id; equal descriptions agree. */
#include "testutil.h"

#include <string.h>

#include "kvspill.h"

static kvs_namespace_desc base_desc(void)
{
    kvs_namespace_desc d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 32; i++)
        d.model_fingerprint[i] = (uint8_t)(i + 1);
    d.layout = (kvs_layout){.n_layers = 22, .n_kv_heads = 4, .head_dim = 64, .dtype = KVS_DTYPE_F16};
    d.rope_type = 0;
    d.rope_dim = 64;
    d.rope_freq_base = 10000.0f;
    d.rope_freq_scale = 1.0f;
    d.layout_version = 1;
    d.tp_rank = 0;
    d.tp_size = 1;
    d.cache_salt = NULL;
    return d;
}

static kvs_key id_of(const kvs_namespace_desc *d)
{
    kvs_key k;
    kvs_error err;
    assert_int_equal(kvs_namespace_id(d, &k, &err), KVS_OK);
    return k;
}

static void test_equal_descs_equal_ids(void **state)
{
    (void)state;
    kvs_namespace_desc a = base_desc(), b = base_desc();
    char salt_a[] = "tenant-1", salt_b[] = "tenant-1"; /* equal text, different pointers */
    a.cache_salt = salt_a;
    b.cache_salt = salt_b;
    kvs_key ka = id_of(&a), kb = id_of(&b);
    assert_true(kvs_key_equal(&ka, &kb));
    /* NULL and "" are the same empty salt. */
    a.cache_salt = NULL;
    b.cache_salt = "";
    ka = id_of(&a);
    kb = id_of(&b);
    assert_true(kvs_key_equal(&ka, &kb));
}

static void test_each_field_changes_id(void **state)
{
    (void)state;
    const kvs_namespace_desc base = base_desc();
    const kvs_key k0 = id_of(&base);
    kvs_namespace_desc v[16];
    int n = 0;
    for (int i = 0; i < 16; i++)
        v[i] = base;
    v[n++].model_fingerprint[31] ^= 0x80;
    v[n++].layout.n_layers = 23;
    v[n++].layout.n_kv_heads = 8;
    v[n++].layout.head_dim = 128;
    v[n++].layout.dtype = KVS_DTYPE_BF16;
    v[n++].rope_type = 2;
    v[n++].rope_dim = 32;
    v[n++].rope_freq_base = 500000.0f;
    v[n++].rope_freq_scale = 0.25f;
    v[n++].layout_version = 2;
    v[n].tp_size = 2;
    v[n++].tp_rank = 1;
    v[n++].tp_size = 2;
    v[n++].cache_salt = "tenant-1";
    v[n++].cache_salt = "tenant-2";
    kvs_key ids[16];
    for (int i = 0; i < n; i++) {
        ids[i] = id_of(&v[i]);
        assert_false(kvs_key_equal(&ids[i], &k0));
        for (int j = 0; j < i; j++)
            assert_false(kvs_key_equal(&ids[i], &ids[j]));
    }
}

/* A salt that is a prefix of another gives a different id. */
static void test_salt_prefixes_differ(void **state)
{
    (void)state;
    kvs_namespace_desc a = base_desc(), b = base_desc();
    a.cache_salt = "ab";
    b.cache_salt = "abc";
    kvs_key ka = id_of(&a), kb = id_of(&b);
    assert_false(kvs_key_equal(&ka, &kb));
}

static void test_invalid_descs(void **state)
{
    (void)state;
    kvs_namespace_desc d = base_desc();
    kvs_key k;
    kvs_error err;
    d.tp_size = 0;
    assert_int_equal(kvs_namespace_id(&d, &k, &err), KVS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "tp_size"));
    d = base_desc();
    d.tp_rank = 1;
    assert_int_equal(kvs_namespace_id(&d, &k, &err), KVS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "tp_rank"));
    d = base_desc();
    d.layout.dtype = KVS_DTYPE_COUNT;
    assert_int_equal(kvs_namespace_id(&d, &k, &err), KVS_ERR_INVALID);
    assert_non_null(strstr(err.msg, "dtype"));
    assert_int_equal(kvs_namespace_id(NULL, &k, &err), KVS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_descs_equal_ids),
        cmocka_unit_test(test_each_field_changes_id),
        cmocka_unit_test(test_salt_prefixes_differ),
        cmocka_unit_test(test_invalid_descs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
