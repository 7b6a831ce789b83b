/* json_out: the exact text it writes (commas, nesting, escapes), and that json-c reads every
 * string back unchanged. */
#include <json-c/json.h>

#include "json_out.h"
#include "testlib.h"

struct body {
    struct response res;
    struct json_out out;
};

static int setup(void **state)
{
    struct body *b = calloc(1, sizeof *b);
    response_init(&b->res);
    json_out_start(&b->out, &b->res, 200);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    struct body *b = *state;
    response_free(&b->res);
    free(b);
    return 0;
}

static void nesting_and_commas(void **state)
{
    struct body *b = *state;
    struct json_out *out = &b->out;
    json_out_open_array(out);
    json_out_open_object(out);
    json_out_key(out, "a");
    json_out_int(out, -12);
    json_out_key(out, "b");
    json_out_open_array(out);
    json_out_bool(out, true);
    json_out_bool(out, false);
    json_out_null(out);
    json_out_close_array(out);
    json_out_key(out, "c");
    json_out_open_object(out);
    json_out_close_object(out);
    json_out_key(out, "d");
    json_out_raw(out, "{\"x\":[1,2]}");
    json_out_close_object(out);
    json_out_string(out, "s");
    json_out_open_array(out);
    json_out_close_array(out);
    json_out_int(out, INT64_MAX);
    json_out_close_array(out);
    assert_string_equal(b->res.body,
                        "[{\"a\":-12,\"b\":[true,false,null],\"c\":{},\"d\":{\"x\":[1,2]}},\"s\",[],"
                        "9223372036854775807]");
    assert_int_equal(b->res.body_len, strlen(b->res.body));
    assert_int_equal(b->res.status, 200);
}

static void strings_are_escaped(void **state)
{
    struct body *b = *state;
    json_out_string(&b->out, "q\"b\\n\nt\tc\x01\x1f/\xc3\xa9");
    assert_string_equal(b->res.body, "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f/\xc3\xa9\"");
}

static void keys_are_escaped_too(void **state)
{
    struct body *b = *state;
    json_out_open_object(&b->out);
    json_out_key(&b->out, "a\"b");
    json_out_isotime(&b->out, TEST_T0);
    json_out_close_object(&b->out);
    assert_string_equal(b->res.body, "{\"a\\\"b\":\"2026-11-22T08:42:10Z\"}");
}

static void members_are_key_then_value(void **state)
{
    struct body *b = *state;
    json_out_open_object(&b->out);
    json_out_member_string(&b->out, "s", "x");
    json_out_member_int(&b->out, "i", 7);
    json_out_member_bool(&b->out, "b", false);
    json_out_member_raw(&b->out, "r", "[1]");
    json_out_member_isotime(&b->out, "t", TEST_T0);
    json_out_close_object(&b->out);
    assert_string_equal(b->res.body,
                        "{\"s\":\"x\",\"i\":7,\"b\":false,\"r\":[1],\"t\":\"2026-11-22T08:42:10Z\"}");
}

/* Every byte from 1 to 127 inside a string, read back by json-c, is the same string. */
static void every_ascii_byte_reads_back(void **state)
{
    struct body *b = *state;
    char text[128];
    for (int i = 1; i < 128; i++)
        text[i - 1] = (char)i;
    text[127] = '\0';
    json_out_string(&b->out, text);
    struct json_object *parsed = json_tokener_parse(b->res.body);
    assert_non_null(parsed);
    assert_true(json_object_is_type(parsed, json_type_string));
    assert_string_equal(json_object_get_string(parsed), text);
    json_object_put(parsed);
}

static void start_writes_over(void **state)
{
    struct body *b = *state;
    json_out_string(&b->out, "old answer");
    json_out_start(&b->out, &b->res, 201);
    json_out_open_object(&b->out);
    json_out_close_object(&b->out);
    assert_string_equal(b->res.body, "{}");
    assert_int_equal(b->res.status, 201);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(nesting_and_commas, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_are_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_are_escaped_too, setup, teardown),
        cmocka_unit_test_setup_teardown(members_are_key_then_value, setup, teardown),
        cmocka_unit_test_setup_teardown(every_ascii_byte_reads_back, setup, teardown),
        cmocka_unit_test_setup_teardown(start_writes_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
