/* test_fw_str.c: the firmware's text builder: RFC 4648 base64 vectors, JSON string escaping,
 * numbers, and the sticky overflow that keeps every write inside the buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fw_str.h"

static void test_base64_rfc4648(void **state)
{
    static const char *const vectors[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char buf[32];
        struct fw_str s;

        fw_str_init(&s, buf, sizeof buf);
        fw_str_put_base64(&s, (const uint8_t *)vectors[i][0], strlen(vectors[i][0]));
        assert_true(fw_str_ok(&s));
        assert_string_equal(buf, vectors[i][1]);
    }
}

static void test_base64_all_bytes(void **state)
{
    static const uint8_t bytes[] = {0x00, 0xff, 0xfe, 0x3e, 0x3f, 0xfb, 0xef};
    char buf[32];
    struct fw_str s;

    (void)state;
    fw_str_init(&s, buf, sizeof buf);
    fw_str_put_base64(&s, bytes, sizeof bytes);
    assert_string_equal(buf, "AP/+Pj/77w==");
}

static void test_json_string_escapes(void **state)
{
    char buf[64];
    struct fw_str s;

    (void)state;
    fw_str_init(&s, buf, sizeof buf);
    fw_str_put_json_string(&s, "a\"b\\c\n\x01\x1f caf\xc3\xa9");
    assert_true(fw_str_ok(&s));
    assert_string_equal(buf, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f caf\xc3\xa9\"");
}

static void test_u32(void **state)
{
    char buf[32];
    struct fw_str s;

    (void)state;
    fw_str_init(&s, buf, sizeof buf);
    fw_str_put_u32(&s, 0);
    fw_str_put(&s, ",");
    fw_str_put_u32(&s, 4294967295u);
    fw_str_put(&s, ",");
    fw_str_put_u32(&s, 1000);
    assert_string_equal(buf, "0,4294967295,1000");
}

static void test_overflow_is_sticky(void **state)
{
    char buf[8];
    struct fw_str s;

    (void)state;
    memset(buf, 'z', sizeof buf);
    fw_str_init(&s, buf, 6);
    fw_str_put(&s, "abcde");
    assert_true(fw_str_ok(&s));
    fw_str_put(&s, "f"); /* the NUL needs the last byte */
    assert_false(fw_str_ok(&s));
    fw_str_put(&s, ""); /* and it stays failed */
    assert_false(fw_str_ok(&s));
    assert_string_equal(buf, "abcde");
    assert_int_equal(buf[6], 'z'); /* nothing written past the capacity */
    fw_str_init(&s, buf, 0);
    assert_false(fw_str_ok(&s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648),      cmocka_unit_test(test_base64_all_bytes),
        cmocka_unit_test(test_json_string_escapes), cmocka_unit_test(test_u32),
        cmocka_unit_test(test_overflow_is_sticky),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
