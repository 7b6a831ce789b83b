/* Tests of the provd Gateway's frame rules: which device ids may reach a URL, how a Telemetry
 * In value splits, and the Telemetry Result JSON cut to fit one attribute. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "telemetry_frame.h"

static bool id_ok(const char *id)
{
    return telemetry_id_valid((const uint8_t *)id, strlen(id));
}

static void device_ids(void **state)
{
    char longest[TELEMETRY_ID_MAX + 2];

    (void)state;
    assert_true(id_ok("dev-1"));
    assert_true(id_ok("A.b_c:D-9"));
    memset(longest, 'x', TELEMETRY_ID_MAX);
    longest[TELEMETRY_ID_MAX] = '\0';
    assert_true(id_ok(longest));
    longest[TELEMETRY_ID_MAX] = 'x';
    longest[TELEMETRY_ID_MAX + 1] = '\0';
    assert_false(id_ok(longest));
    assert_false(id_ok(""));
    /* Anything that could change the URL's meaning */
    for (const char *bad = "/?#% \t\r@&+\\\"'"; *bad; bad++) {
        char id[4] = {'a', *bad, 'b', '\0'};

        assert_false(id_ok(id));
    }
    assert_false(telemetry_id_valid((const uint8_t *)"a\0b", 3));
    assert_false(id_ok("d\xc3\xa9v"));
}

static int parse(const char *value, struct telemetry_frame *f)
{
    return telemetry_frame_parse((const uint8_t *)value, strlen(value), f);
}

static void frames(void **state)
{
    struct telemetry_frame f;

    (void)state;
    assert_int_equal(parse("dev-1\n{\"v\":2}\n", &f), 0);
    assert_string_equal(f.id, "dev-1");
    assert_int_equal(f.body_len, 8);
    assert_memory_equal(f.body, "{\"v\":2}\n", 8);
    /* Only the first newline splits */
    assert_int_equal(parse("a\nb\nc", &f), 0);
    assert_string_equal(f.id, "a");
    assert_int_equal(f.body_len, 3);
    assert_int_equal(parse("dev-1 {\"v\":2}", &f), -EINVAL);
    assert_int_equal(parse("\n{}", &f), -EINVAL);
    assert_int_equal(parse("dev-1\n", &f), -EINVAL);
    assert_int_equal(parse("../x\n{}", &f), -EINVAL);
    assert_int_equal(parse("dev-1\r\n{}", &f), -EINVAL);
}

/* Formats into a buffer of cap bytes and checks the JSON parses back to status and body. */
static void expect_result(int status, const char *body, size_t cap, const char *want_body, int want_len)
{
    char out[600];
    int n = telemetry_result_format(status, (const uint8_t *)body, strlen(body), out, cap);

    assert_int_equal(n, want_len);
    out[n] = '\0';
    struct json_object *o = json_tokener_parse(out), *v;

    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "status", &v));
    assert_int_equal(json_object_get_int(v), status);
    assert_true(json_object_object_get_ex(o, "body", &v));
    assert_string_equal(json_object_get_string(v), want_body);
    json_object_put(o);
}

static void results(void **state)
{
    char out[64];

    (void)state;
    expect_result(201, "{\"status\":\"OK\",\"seqn\":1}", 512, "{\"status\":\"OK\",\"seqn\":1}",
                  (int)strlen("{\"status\":201,\"body\":\"{\\\"status\\\":\\\"OK\\\",\\\"seqn\\\":1}\"}"));
    /* {"status":NNN,"body":" is 22 bytes, "} 2 more. Control characters become \u00XX;
     * UTF-8 is kept; invalid bytes and a surrogate's bytes become U+FFFD each. */
    expect_result(400, "a\nb\x01", 512, "a\nb\x01", 22 + 14 + 2);
    expect_result(200, "h\xc3\xa9!", 512, "h\xc3\xa9!", 22 + 4 + 2);
    expect_result(200,
                  "x\xff"
                  "y\xed\xa0\x80",
                  512, "x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 22 + 14 + 2);
    /* Cut to fit: whole characters and escapes only */
    expect_result(201, "abcdef", 26, "ab", 26);
    expect_result(201, "ab\"cd", 27, "ab", 26);
    expect_result(201, "a\xc3\xa9", 25, "a", 25);
    expect_result(502, "", 24, "", 24);
    assert_int_equal(telemetry_result_format(502, (const uint8_t *)"x", 1, out, 23), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_ids),
        cmocka_unit_test(frames),
        cmocka_unit_test(results),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
