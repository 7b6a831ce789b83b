/* test_posix_opts.c: devsim's command line: defaults, the bounds of every option, required
 * options, key lengths per envelope version, and server URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "devsim_opts.h"

#define KEY16 "000102030405060708090a0b0c0d0e0f"
#define KEY24 KEY16 "1011121314151617"
#define KEY32 KEY16 "101112131415161718191a1b1c1d1e1f"
#define BASE                                                                                                 \
    "devsim", "--server", "http://127.0.0.1:8080/", "--devices", "300", "--id-prefix", "fw", "--key", KEY16

static struct devsim_opts o;
static char err[256];

/* Parses a NULL-terminated argument list. */
static int parse_args(const char *const *args)
{
    char *argv[32];
    int argc = 0;

    while (args[argc]) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    err[0] = '\0';
    return devsim_opts_parse(&o, argc, argv, err, sizeof err);
}

#define PARSE(...) parse_args((const char *const[]){__VA_ARGS__, NULL})

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(PARSE(BASE), 0);
    assert_string_equal(o.fleet.server, "http://127.0.0.1:8080"); /* trailing slash dropped */
    assert_int_equal(o.fleet.devices, 300);
    assert_string_equal(o.fleet.id_prefix, "fw");
    assert_int_equal(o.fleet.key.version, FW_ENVELOPE_V2);
    assert_int_equal(o.fleet.key.key_len, 16);
    assert_int_equal(o.fleet.key.key[15], 0x0f);
    assert_int_equal(o.fleet.interval_s, 60);
    assert_int_equal(o.fleet.telemetry_every_s, 60);
    assert_int_equal(o.fleet.connections, DEVSIM_DEFAULT_CONNECTIONS);
    assert_int_equal(o.fleet.ramp_ms, 300); /* 1 ms per device */
    assert_int_equal(o.duration_ms, 0);
    assert_null(o.fleet.state_dir);
    assert_false(o.fleet.verbose);
    assert_false(o.help);
    assert_null(o.fleet.firmware_version);
    assert_int_equal(o.fleet.fail_update_pct, 0);
}

static void test_every_option(void **state)
{
    (void)state;
    assert_int_equal(PARSE(BASE, "--interval", "5", "--telemetry-every", "0", "--duration", "90", "--ramp",
                           "3", "--connections", "1024", "--state-dir", "/tmp/x", "--verbose", "--firmware-version",
                           "1.0.0+b7", "--fail-update", "100"),
                     0);
    assert_int_equal(o.fleet.interval_s, 5);
    assert_int_equal(o.fleet.telemetry_every_s, 0);
    assert_int_equal(o.duration_ms, 90000);
    assert_int_equal(o.fleet.ramp_ms, 3000);
    assert_int_equal(o.fleet.connections, 1024);
    assert_string_equal(o.fleet.state_dir, "/tmp/x");
    assert_true(o.fleet.verbose);
    assert_string_equal(o.fleet.firmware_version, "1.0.0+b7");
    assert_int_equal(o.fleet.fail_update_pct, 100);
}

static void test_number_bounds(void **state)
{
    static const char *const bad[][2] = {
        {"--devices", "0"},
        {"--devices", "100001"},
        {"--devices", "-1"},
        {"--devices", "12x"},
        {"--devices", ""},
        {"--devices", " 5"},
        {"--devices", "+5"},
        {"--devices", "99999999999999999999"},
        {"--interval", "0"},
        {"--interval", "86401"},
        {"--telemetry-every", "86401"},
        {"--duration", "2592001"},
        {"--ramp", "3601"},
        {"--connections", "0"},
        {"--connections", "1025"},
        {"--fail-update", "101"},
        {"--firmware-version", ""},
        {"--firmware-version", "1 0"},
        {"--firmware-version", "123456789012345678901234567890123"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(PARSE(BASE, bad[i][0], bad[i][1]), -1);
        assert_non_null(strstr(err, bad[i][0])); /* the message names the option */
    }
    assert_int_equal(PARSE(BASE, "--devices", "100000", "--duration", "2592000", "--ramp", "3600"), 0);
    assert_int_equal(o.fleet.devices, 100000);
}

static void test_keys_per_version(void **state)
{
    (void)state;
    assert_int_equal(PARSE(BASE, "--key", KEY24), -1); /* v2 is AES-128-GCM only */
    assert_non_null(strstr(err, "--key"));
    assert_int_equal(PARSE(BASE, "--key", KEY24, "--v1"), 0);
    assert_int_equal(o.fleet.key.version, FW_ENVELOPE_V1);
    assert_int_equal(o.fleet.key.key_len, 24);
    assert_int_equal(PARSE(BASE, "--v1", "--key", KEY32), 0);
    assert_int_equal(o.fleet.key.key_len, 32);
    assert_int_equal(o.fleet.key.key[31], 0x1f);
    assert_int_equal(PARSE(BASE, "--key", "000102030405060708090a0b0c0d0e0"), -1);  /* odd */
    assert_int_equal(PARSE(BASE, "--key", "000102030405060708090a0b0c0d0e0g"), -1); /* not hex */
    assert_int_equal(PARSE(BASE, "--v1", "--key", KEY32 "00"), -1);                 /* too long */
    assert_int_equal(PARSE(BASE, "--key", "000102030405060708090A0B0C0D0E0F"), 0);  /* either case */
    assert_int_equal(o.fleet.key.key[10], 0x0a);
}

static void test_servers_and_prefixes(void **state)
{
    char longurl[HTTP_POOL_BASE_MAX + 16] = "http://";

    (void)state;
    memset(longurl + 7, 'a', HTTP_POOL_BASE_MAX);
    longurl[HTTP_POOL_BASE_MAX + 7] = '\0';
    assert_int_equal(PARSE(BASE, "--server", "ftp://example.org"), -1);
    assert_int_equal(PARSE(BASE, "--server", "http://exa mple.org"), -1);
    assert_int_equal(PARSE(BASE, "--server", "http://"), -1);
    assert_int_equal(PARSE(BASE, "--server", longurl), -1);
    assert_int_equal(PARSE(BASE, "--server", "https://provd.example.org:8443//"), 0);
    assert_string_equal(o.fleet.server, "https://provd.example.org:8443");
    assert_int_equal(PARSE(BASE, "--id-prefix", "a/b"), -1);
    assert_int_equal(PARSE(BASE, "--id-prefix", ""), -1);
    assert_int_equal(PARSE(BASE, "--id-prefix", "0123456789012345678901234567890123456789012345678"), -1);
    assert_int_equal(PARSE(BASE, "--id-prefix", "a4:cf:12:"), 0);
    assert_int_equal(PARSE(BASE, "--state-dir", ""), -1);
}

static void test_required_and_unknown(void **state)
{
    (void)state;
    assert_int_equal(PARSE("devsim", "--server", "http://x", "--devices", "1", "--id-prefix", "p"), -1);
    assert_non_null(strstr(err, "required"));
    assert_int_equal(PARSE(BASE, "--bogus"), -1);
    assert_non_null(strstr(err, "--bogus"));
    assert_int_equal(PARSE(BASE, "--devices"), -1); /* value missing */
    assert_int_equal(PARSE(BASE, "extra"), -1);
    assert_non_null(strstr(err, "extra"));
    assert_int_equal(PARSE("devsim", "--help"), 0);
    assert_true(o.help);
    assert_int_equal(PARSE(BASE, "--fail-update", "5"), -1); /* nothing to update */
    assert_non_null(strstr(err, "--firmware-version"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_number_bounds),
        cmocka_unit_test(test_keys_per_version),
        cmocka_unit_test(test_servers_and_prefixes),
        cmocka_unit_test(test_required_and_unknown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
