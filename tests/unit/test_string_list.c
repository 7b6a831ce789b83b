/* Unit tests of string_list.c: a body's list of tags or ids, checked item by item, folded,
 * sorted, deduplicated and capped, and the 400 message naming the item at fault. */
#include "testlib.h"

#include "string_list.h"

static const struct string_list_rule tags = {"tags", 3, string_list_take_tag, "a tag"};

/* The canonical text of the JSON array text in, or NULL with err. */
static const char *canonical(const char *in, const struct string_list_rule *rule, char *err, size_t err_len)
{
    static char out[STRING_LIST_JSON_MAX(8)];
    struct json_object *array = json_tokener_parse(in);
    assert_non_null(array);
    bool ok = string_list_canonical(array, rule, out, sizeof out, err, err_len);
    json_object_put(array);
    return ok ? out : NULL;
}

static void folds_sorts_and_dedups(void **state)
{
    (void)state;
    char err[128] = "";
    assert_string_equal(canonical("[\"v2\",\"Greenhouse\",\"greenhouse\",\"GREENHOUSE\"]", &tags, err, sizeof err),
                        "[\"greenhouse\",\"v2\"]");
    assert_string_equal(canonical("[]", &tags, err, sizeof err), "[]");
    /* Duplicates fold before the cap counts. */
    assert_string_equal(canonical("[\"a\",\"b\",\"c\",\"A\",\"B\",\"C\"]", &tags, err, sizeof err),
                        "[\"a\",\"b\",\"c\"]");
}

static void names_the_item_at_fault(void **state)
{
    (void)state;
    char err[128];
    assert_null(canonical("[\"ok\",\"no way\"]", &tags, err, sizeof err));
    assert_string_equal(err, "tags[1] must be a tag");
    assert_null(canonical("[\"ok\",7]", &tags, err, sizeof err));
    assert_string_equal(err, "tags[1] must be a tag");
    assert_null(canonical("[\"a\",\"b\",\"c\",\"d\"]", &tags, err, sizeof err));
    assert_string_equal(err, "tags must hold at most 3 items");
    assert_null(canonical("[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]", &tags, err, sizeof err));
    assert_string_equal(err, "tags must hold at most 3 items"); /* more than twice the cap: refused unread */
    assert_null(canonical("{\"a\":1}", &tags, err, sizeof err));
    assert_string_equal(err, "tags must be an array of at most 3 strings");
}

static void device_ids(void **state)
{
    (void)state;
    static const struct string_list_rule ids = {"ids", 4, string_list_take_device_id, "a device id"};
    char err[128];
    assert_string_equal(canonical("[\"b\",\"AA:BB\",\"a.b-c_d\"]", &ids, err, sizeof err),
                        "[\"AA:BB\",\"a.b-c_d\",\"b\"]"); /* byte order, case kept */
    assert_null(canonical("[\"a/b\"]", &ids, err, sizeof err));
    assert_string_equal(err, "ids[0] must be a device id");
    assert_null(canonical("[\"a\\u0000b\"]", &ids, err, sizeof err));
    char long_id[80];
    snprintf(long_id, sizeof long_id, "[\"%065d\"]", 0);
    assert_null(canonical(long_id, &ids, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(folds_sorts_and_dedups),
        cmocka_unit_test(names_the_item_at_fault),
        cmocka_unit_test(device_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
