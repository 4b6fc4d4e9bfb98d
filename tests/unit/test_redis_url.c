/* The redis tier's URL parser: every form the tier accepts, and clear errors that never
 * show a password. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "cache/redis_url.h"

static kvs_redis_url parse_ok(const char *url)
{
    kvs_redis_url u;
    kvs_error err = {0};
    kvs_status s = kvs_redis_url_parse(url, &u, &err);
    if (s != KVS_OK)
        fail_msg("%s: %s", url, err.msg);
    return u;
}

static kvs_error parse_fails(const char *url, kvs_status expected)
{
    kvs_redis_url u;
    kvs_error err = {0};
    assert_int_equal(kvs_redis_url_parse(url, &u, &err), expected);
    assert_int_equal(err.code, expected);
    return err;
}

static void test_host_port_and_defaults(void **state)
{
    (void)state;
    kvs_redis_url u = parse_ok("redis://127.0.0.1:6380");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "");
    assert_int_equal(u.db, 0);
    assert_string_equal(u.display, "redis://127.0.0.1:6380");

    u = parse_ok("redis://cache.example");
    assert_string_equal(u.host, "cache.example");
    assert_int_equal(u.port, 6379);

    u = parse_ok("redis://h:1/");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 0);
}

static void test_db(void **state)
{
    (void)state;
    kvs_redis_url u = parse_ok("redis://h:7000/3");
    assert_int_equal(u.db, 3);
    assert_string_equal(u.display, "redis://h:7000/3");
    u = parse_ok("redis://h/15");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 15);
}

static void test_credentials(void **state)
{
    (void)state;
    kvs_redis_url u = parse_ok("redis://alice:s3cret@h:6379/2");
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "s3cret");
    assert_int_equal(u.db, 2);
    assert_null(strstr(u.display, "s3cret"));
    assert_null(strstr(u.display, "alice"));

    u = parse_ok("redis://:only@h:6379");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "only");

    u = parse_ok("redis://bare@h"); /* as redis-cli: a lone userinfo is the password */
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "bare");

    /* percent-encoded ':' '@' '/' in the password; an unencoded '@' too (last '@' wins) */
    u = parse_ok("redis://bob:p%3Aw%40d%2F@h:1");
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "p:w@d/");
    u = parse_ok("redis://bob:a@b@h:1");
    assert_string_equal(u.password, "a@b");
    assert_string_equal(u.host, "h");
}

static void test_ipv6(void **state)
{
    (void)state;
    kvs_redis_url u = parse_ok("redis://[::1]:6390/1");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6390);
    assert_int_equal(u.db, 1);
    assert_string_equal(u.display, "redis://[::1]:6390/1");
    u = parse_ok("redis://[fe80::1]");
    assert_string_equal(u.host, "fe80::1");
    assert_int_equal(u.port, 6379);
}

static void test_tls_is_refused_clearly(void **state)
{
    (void)state;
    kvs_error err = parse_fails("rediss://u:pw@h:6379", KVS_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "TLS"));
    assert_non_null(strstr(err.msg, "not available in this build"));
    assert_null(strstr(err.msg, "pw"));
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "http://h:1",        "redis:/h:1",     "redis://",         "redis://:6379",
        "redis://h:0",       "redis://h:65536", "redis://h:12ab",  "redis://h:",
        "redis://h:1/x",     "redis://h:1/-1",  "redis://h:1/1?x", "redis://[::1",
        "redis://[::1]x",    "redis://u%4@h",   "redis://u%00@h",  "redis://user:@h",
        "redis://h:1/99999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kvs_redis_url u;
        kvs_error err = {0};
        if (kvs_redis_url_parse(bad[i], &u, &err) != KVS_ERR_INVALID)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(err.msg, "redis URL"));
    }
    kvs_error err = parse_fails("redis://h:99999", KVS_ERR_INVALID);
    assert_string_equal(err.msg, "redis URL 'redis://h:99999': bad port '99999' (expected 1-65535)");
}

static void test_errors_never_show_the_password(void **state)
{
    (void)state;
    kvs_error err = parse_fails("redis://alice:hunter2@h:notaport", KVS_ERR_INVALID);
    assert_null(strstr(err.msg, "hunter2"));
    assert_null(strstr(err.msg, "alice"));
    assert_non_null(strstr(err.msg, "redis://***@h:notaport"));
    err = parse_fails("redis://x:pa/ss@h:bad", KVS_ERR_INVALID); /* unencoded '/' */
    assert_null(strstr(err.msg, "pa/ss"));
}

static void test_too_long(void **state)
{
    (void)state;
    char url[KVS_URL_MAX + 16];
    memset(url, 'a', sizeof url);
    memcpy(url, "redis://", 8);
    url[sizeof url - 1] = '\0';
    parse_fails(url, KVS_ERR_INVALID);
    char host[400];
    memset(host, 'h', sizeof host);
    snprintf(url, sizeof url, "redis://%.*s:1", 300, host);
    parse_fails(url, KVS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_port_and_defaults),
        cmocka_unit_test(test_db),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_tls_is_refused_clearly),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_errors_never_show_the_password),
        cmocka_unit_test(test_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
