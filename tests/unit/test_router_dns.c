/* --backends-dns: NAME:PORT parsing, resolution through the system resolver (localhost and
 * literals, which need no DNS server), and the merge of each answer into the backend set:
 * new addresses join unhealthy, missing ones leave the set, returning ones come back, and a
 * full set reuses the slot of a backend long gone with nothing running on it. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "router/router_backends.h"
#include "router/router_dns.h"

static void parse_specs(void **state)
{
    (void)state;
    char name[256];
    uint16_t port;
    model_error err;
    assert_int_equal(router_dns_parse("kv-engine.default.svc.cluster.local:8000", name,
                                      sizeof name, &port, &err), 0);
    assert_string_equal(name, "kv-engine.default.svc.cluster.local");
    assert_int_equal(port, 8000);
    assert_int_equal(router_dns_parse("[fd00::1]:81", name, sizeof name, &port, &err), 0);
    assert_string_equal(name, "fd00::1");
    assert_int_equal(port, 81);
    const char *bad[] = {"svc", "svc:", "svc:0", "svc:65536", ":80", "fd00::1:80", "svc:80x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(router_dns_parse(bad[i], name, sizeof name, &port, &err), -1);
        assert_non_null(strstr(err.msg, bad[i]));
    }
}

static void resolve_names(void **state)
{
    (void)state;
    static router_dns_answer a;
    model_error err;
    assert_int_equal(router_dns_resolve("127.0.0.1", 8000, &a, &err), 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.urls[0], "http://127.0.0.1:8000");
    assert_int_equal(router_dns_resolve("::1", 9, &a, &err), 0);
    assert_string_equal(a.urls[0], "http://[::1]:9");
    /* localhost: 127.0.0.1 from /etc/hosts, perhaps ::1 too; sorted, each once */
    assert_int_equal(router_dns_resolve("localhost", 7, &a, &err), 0);
    assert_true(a.n >= 1 && a.n <= 2);
    assert_string_equal(a.urls[0], "http://127.0.0.1:7");
    if (a.n == 2)
        assert_string_equal(a.urls[1], "http://[::1]:7");
    assert_int_equal(router_dns_resolve("no-such-replica.invalid", 7, &a, &err), -1);
    assert_non_null(strstr(err.msg, "no-such-replica.invalid"));
}

static router_backend *by_url(router_backends *set, const char *url)
{
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(router_backend_at(set, i)->url, url))
            return router_backend_at(set, i);
    return NULL;
}

static void sync_answers(void **state)
{
    (void)state;
    router_backends set;
    memset(&set, 0, sizeof set);
    model_error err;
    assert_int_equal(router_backends_parse(&set, "http://10.0.0.1:80", &err), 0);
    const char *first[] = {"http://10.0.1.1:80", "http://10.0.1.2:80"};
    assert_int_equal(router_backends_sync(&set, 0, first, 2, &err), 0);
    assert_int_equal(set.n, 3);
    router_backend *b1 = by_url(&set, "http://10.0.1.1:80");
    assert_non_null(b1);
    assert_true(atomic_load(&b1->present));
    assert_false(atomic_load(&b1->healthy)); /* until its /health answers */
    atomic_store(&b1->healthy, true);
    /* 10.0.1.1 leaves the answer: out of the set at once; the static backend stays */
    const char *second[] = {"http://10.0.1.2:80"};
    assert_int_equal(router_backends_sync(&set, 0, second, 1, &err), 0);
    assert_false(atomic_load(&b1->present));
    assert_false(atomic_load(&b1->healthy));
    assert_true(atomic_load(&by_url(&set, "http://10.0.0.1:80")->present));
    /* ... and comes back in the same slot */
    assert_int_equal(router_backends_sync(&set, 0, first, 2, &err), 0);
    assert_int_equal(set.n, 3);
    assert_true(by_url(&set, "http://10.0.1.1:80") == b1 && atomic_load(&b1->present));

    /* Fill the set: 61 more addresses of source 1. */
    static char urls[64][40];
    const char *many[64];
    for (int i = 0; i < 61; i++) {
        snprintf(urls[i], sizeof urls[i], "http://10.0.2.%d:80", i);
        many[i] = urls[i];
    }
    assert_int_equal(router_backends_sync(&set, 1, many, 61, &err), 0);
    assert_int_equal(set.n, ROUTER_MAX_BACKENDS);
    /* A new address with no slot free: refused, named */
    const char *newer[] = {"http://10.0.3.1:80"};
    assert_int_equal(router_backends_sync(&set, 0, newer, 1, &err), -1);
    assert_non_null(strstr(err.msg, "10.0.3.1"));
    /* Source 0's old pods gone for two rounds, one still busy: the idle slot is reused, the
     * busy one kept, and the replaced backend stays readable (retired, not freed). */
    router_backend *b2 = by_url(&set, "http://10.0.1.2:80");
    atomic_store(&b2->in_flight, 1);
    const char *none[1];
    assert_int_equal(router_backends_sync(&set, 0, none, 0, &err), 0);
    assert_int_equal(router_backends_sync(&set, 0, none, 0, &err), 0);
    assert_int_equal(router_backends_sync(&set, 0, newer, 1, &err), 0);
    assert_int_equal(set.n, ROUTER_MAX_BACKENDS);
    assert_non_null(by_url(&set, "http://10.0.3.1:80"));
    assert_null(by_url(&set, "http://10.0.1.1:80"));
    assert_true(by_url(&set, "http://10.0.1.2:80") == b2);
    assert_string_equal(b1->url, "http://10.0.1.1:80");
    assert_true(set.retired == b1);
    router_backends_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_specs),
        cmocka_unit_test(resolve_names),
        cmocka_unit_test(sync_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
