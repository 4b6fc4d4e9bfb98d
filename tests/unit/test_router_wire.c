/* Router wire formats: backend URL parsing and chunked transfer-encoding decoding fed in
 * every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router/chunked.h"
#include "router/router_backends.h"

static void urls(void **state)
{
    (void)state;
    char host[256];
    uint16_t port;
    model_error err;
    assert_int_equal(router_parse_url("http://127.0.0.1:8000", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8000);
    assert_int_equal(router_parse_url("http://[::1]:81/", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 81);
    assert_int_equal(router_parse_url("http://replica-a:9", host, sizeof host, &port, &err), 0);
    assert_string_equal(host, "replica-a");
    const char *bad[] = {"https://a:1", "http://a", "http://a:0", "http://a:70000",
                         "http://a:80/v1", "http://:80", "a:80", "http://[::1]80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(router_parse_url(bad[i], host, sizeof host, &port, &err), -1);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    router_backends set;
    memset(&set, 0, sizeof set);
    assert_int_equal(router_backends_parse(&set, "http://a:1,http://b:2/", &err), 0);
    assert_int_equal(set.n, 2);
    assert_string_equal(router_backend_at(&set, 1)->url, "http://b:2");
    router_backends_free(&set);
    assert_int_equal(router_backends_parse(&set, "http://a:1,http://a:1", &err), -1);
    router_backends_free(&set);
    assert_int_equal(router_backends_parse(&set, "http://a:1,,http://b:2", &err), -1);
    router_backends_free(&set);
}

static const char wire[] = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                           "0\r\nX-Trailer: 1\r\n\r\n";
static const char body[] = "helloabcdefghijklmnopqrstuvwxyz";

static void chunked_every_split(void **state)
{
    (void)state;
    size_t wl = sizeof wire - 1;
    for (size_t step = 1; step <= wl; step++)
        for (size_t outmax = 1; outmax <= 8; outmax += 7) {
            chunked_decoder d;
            chunked_init(&d);
            char out[64];
            size_t o = 0, i = 0;
            while (i < wl && !chunked_done(&d)) {
                size_t n = wl - i < step ? wl - i : step, used, produced;
                assert_int_equal(chunked_decode(&d, wire + i, n, out + o, outmax, &used,
                                                &produced), 0);
                assert_true(used > 0 || produced > 0 || chunked_done(&d));
                i += used;
                o += produced;
            }
            assert_true(chunked_done(&d));
            assert_int_equal(i, wl);
            assert_int_equal(o, sizeof body - 1);
            assert_memory_equal(out, body, o);
        }
}

static void chunked_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"zz\r\n", "\r\n", "3\r\nabcX", "5\rx", "1234567890abcdef0\r\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        chunked_decoder d;
        chunked_init(&d);
        char out[64];
        size_t used, produced;
        assert_int_equal(chunked_decode(&d, bad[k], strlen(bad[k]), out, sizeof out, &used,
                                        &produced), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls),
        cmocka_unit_test(chunked_every_split),
        cmocka_unit_test(chunked_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
