/* test_fw_json.c: the firmware's bounded JSON reader: what it accepts, what it refuses (syntax,
 * depth, duplicates, trailing bytes), member lookup and uint32 reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fw_json.h"

static enum fw_json_result parse(const char *text, struct fw_json_value *v)
{
    return fw_json_parse(text, strlen(text), v);
}

static void test_valid_documents(void **state)
{
    static const struct {
        const char *text;
        enum fw_json_type type;
    } cases[] = {
        {"{}", FW_JSON_OBJECT},
        {" [ ] ", FW_JSON_ARRAY},
        {"null", FW_JSON_NULL},
        {"true", FW_JSON_BOOL},
        {"false", FW_JSON_BOOL},
        {"0", FW_JSON_NUMBER},
        {"-12.5e+3", FW_JSON_NUMBER},
        {"1E9", FW_JSON_NUMBER},
        {"\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\"", FW_JSON_STRING},
        {"\"caf\xc3\xa9\"", FW_JSON_STRING},
        {"{\"a\":[1,{\"b\":null},\"x\",[]],\"c\":{}}", FW_JSON_OBJECT},
        {"\t\r\n{ \"a\" : [ 1 , 2 ] }\n", FW_JSON_OBJECT},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fw_json_value v;

        assert_int_equal(parse(cases[i].text, &v), FW_JSON_OK);
        assert_int_equal(v.type, cases[i].type);
        /* The span is the value without surrounding whitespace. */
        assert_true(v.text[0] != ' ' && v.text[0] != '\t');
        assert_true(v.text[v.len - 1] != ' ' && v.text[v.len - 1] != '\n');
    }
}

static void test_invalid_documents(void **state)
{
    static const char *const cases[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{a:1}",
        "{'a':1}",
        "[1 2]",
        "{\"a\":1 \"b\":2}",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "+1",
        "tru",
        "nul",
        "True",
        "\"abc",
        "\"a\\x\"",
        "\"\\u12G4\"",
        "\"a\nb\"",
        "{} {}",
        "[}",
        "{]",
        "{\"a\":[1}",
        "[\"a\":1]",
        "1 2",
        "\"\\u00\"",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fw_json_value v;

        if (parse(cases[i], &v) != FW_JSON_INVALID)
            fail_msg("accepted invalid JSON: %s", cases[i]);
    }
}

static void test_embedded_nul_and_length(void **state)
{
    struct fw_json_value v;

    (void)state;
    /* The length bounds the reader, not a terminator. */
    assert_int_equal(fw_json_parse("{\"a\":1}xyz", 7, &v), FW_JSON_OK);
    assert_int_equal(fw_json_parse("{\"a\":1}", 6, &v), FW_JSON_INVALID);
    assert_int_equal(fw_json_parse("\"a\0b\"", 5, &v), FW_JSON_INVALID);
    assert_int_equal(fw_json_parse("{}\0", 3, &v), FW_JSON_INVALID);
}

/* `depth` arrays nested, e.g. 2: [[]]. */
static void nest(char *buf, size_t depth)
{
    memset(buf, '[', depth);
    memset(buf + depth, ']', depth);
    buf[2 * depth] = '\0';
}

static void test_depth_limit(void **state)
{
    char buf[2 * 4096 + 1];
    struct fw_json_value v;

    (void)state;
    nest(buf, FW_JSON_MAX_DEPTH);
    assert_int_equal(parse(buf, &v), FW_JSON_OK);
    nest(buf, FW_JSON_MAX_DEPTH + 1);
    assert_int_equal(parse(buf, &v), FW_JSON_INVALID);
    nest(buf, 4096); /* deep input is refused, not a stack overflow */
    assert_int_equal(parse(buf, &v), FW_JSON_INVALID);
}

static void test_get_members(void **state)
{
    const char *doc = "{\"cfgsn\":12,\"data\":{\"cfgsn\":99,\"x\":[1,2]},\"poll_interval\":30,"
                      "\"name\":\"n\\\"a\"}";
    struct fw_json_value v;

    (void)state;
    assert_int_equal(fw_json_get(doc, strlen(doc), "data", &v), FW_JSON_OK);
    assert_int_equal(v.type, FW_JSON_OBJECT);
    assert_int_equal(v.len, strlen("{\"cfgsn\":99,\"x\":[1,2]}"));
    assert_memory_equal(v.text, "{\"cfgsn\":99,\"x\":[1,2]}", v.len);
    /* Only top-level members count: the nested cfgsn is not seen. */
    assert_int_equal(fw_json_get(doc, strlen(doc), "cfgsn", &v), FW_JSON_OK);
    assert_memory_equal(v.text, "12", 2);
    assert_int_equal(fw_json_get(doc, strlen(doc), "name", &v), FW_JSON_OK);
    assert_int_equal(v.type, FW_JSON_STRING);
    assert_memory_equal(v.text, "\"n\\\"a\"", v.len);
    assert_int_equal(fw_json_get(doc, strlen(doc), "x", &v), FW_JSON_NOT_FOUND);
    assert_int_equal(fw_json_get(doc, strlen(doc), "cfg", &v), FW_JSON_NOT_FOUND);
    assert_int_equal(fw_json_get("{}", 2, "cfgsn", &v), FW_JSON_NOT_FOUND);
}

static void test_get_refuses(void **state)
{
    static const char *const cases[] = {
        "{\"cfgsn\":1,\"cfgsn\":2}", /* duplicate */
        "[{\"cfgsn\":1}]",           /* not an object */
        "{\"cfgsn\":1} x",           /* trailing bytes */
        "{\"cfgsn\":1,\"b\":[}",     /* invalid after the member */
        "{\"cfgsn\" 1}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fw_json_value v;

        assert_int_equal(fw_json_get(cases[i], strlen(cases[i]), "cfgsn", &v), FW_JSON_INVALID);
    }
}

static void test_uint32(void **state)
{
    static const struct {
        const char *text;
        enum fw_json_result rc;
        uint32_t n;
    } cases[] = {
        {"0", FW_JSON_OK, 0},
        {"42", FW_JSON_OK, 42},
        {"4294967295", FW_JSON_OK, 4294967295u},
        {"4294967296", FW_JSON_INVALID, 0},
        {"99999999999", FW_JSON_INVALID, 0},
        {"-1", FW_JSON_INVALID, 0},
        {"1.0", FW_JSON_INVALID, 0},
        {"1e3", FW_JSON_INVALID, 0},
        {"\"5\"", FW_JSON_INVALID, 0},
        {"true", FW_JSON_INVALID, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fw_json_value v;
        uint32_t n = 7;

        assert_int_equal(parse(cases[i].text, &v), FW_JSON_OK);
        assert_int_equal(fw_json_uint32(&v, &n), cases[i].rc);
        assert_int_equal(n, cases[i].rc == FW_JSON_OK ? cases[i].n : 7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_embedded_nul_and_length),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_get_members),
        cmocka_unit_test(test_get_refuses),
        cmocka_unit_test(test_uint32),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
