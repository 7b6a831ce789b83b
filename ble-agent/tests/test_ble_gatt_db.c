/* Unit tests for the GATT database and UUIDs: handle layout, declarations' bytes, CCCDs,
 * static and callback values, and the builders' refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "att_proto.h"
#include "gatt_db.h"

static const char gateway[] = "2c8e0001-d233-4303-b2c5-87adc4ee163f";

static void uuid_parse_reverses_to_wire_order(void **state)
{
    struct bt_uuid u;
    const uint8_t le[16] = {0x3f, 0x16, 0xee, 0xc4, 0xad, 0x87, 0xc5, 0xb2,
                            0x03, 0x43, 0x33, 0xd2, 0x01, 0x00, 0x8e, 0x2c};

    (void)state;
    assert_int_equal(bt_uuid_parse(&u, gateway), 0);
    assert_int_equal(u.len, 16);
    assert_memory_equal(u.le, le, 16);
    assert_int_equal(bt_uuid_parse(&u, "2C8E0001-D233-4303-B2C5-87ADC4EE163F"), 0);
    assert_memory_equal(u.le, le, 16);
}

static void uuid_parse_rejects_malformed(void **state)
{
    struct bt_uuid u;

    (void)state;
    assert_int_equal(bt_uuid_parse(&u, "2c8e0001d233-4303-b2c5-87adc4ee163f"), -EINVAL);
    assert_int_equal(bt_uuid_parse(&u, "2c8e0001-d233-4303-b2c5-87adc4ee163"), -EINVAL);
    assert_int_equal(bt_uuid_parse(&u, "2c8e0001-d233-4303-b2c5-87adc4ee163f0"), -EINVAL);
    assert_int_equal(bt_uuid_parse(&u, "2c8e0001-d233-4303-b2c5-87adc4ee163g"), -EINVAL);
    assert_int_equal(bt_uuid_parse(&u, ""), -EINVAL);
}

static void uuid16_equals_its_base_uuid_form(void **state)
{
    struct bt_uuid long_form, other;
    struct bt_uuid name = bt_uuid16(0x2a00);

    (void)state;
    assert_int_equal(bt_uuid_parse(&long_form, "00002a00-0000-1000-8000-00805f9b34fb"), 0);
    assert_true(bt_uuid_equal(&name, &long_form));
    assert_true(bt_uuid_is16(&long_form, 0x2a00));
    assert_false(bt_uuid_is16(&long_form, 0x2a01));
    assert_int_equal(bt_uuid_parse(&other, gateway), 0);
    assert_false(bt_uuid_equal(&other, &long_form));
    assert_int_equal(bt_uuid_from_le(&other, name.le, 3), -EINVAL);
    assert_int_equal(bt_uuid_from_le(&other, name.le, 2), 0);
    assert_true(bt_uuid_equal(&other, &name));
}

static int read_counter(void *user_data, void *conn, uint8_t *buf, size_t cap)
{
    int *calls = user_data;

    assert_true(cap >= GATT_MAX_VALUE_LEN);
    buf[0] = (uint8_t)++ * calls;
    buf[1] = conn ? *(uint8_t *)conn : 0;
    return 2;
}

static int write_count(void *user_data, void *conn, const uint8_t *value, size_t len)
{
    (void)conn;
    (void)value;
    *(size_t *)user_data = len;
    return 0;
}

static void handles_are_assigned_in_order(void **state)
{
    struct gatt_db *db = gatt_db_new();
    struct bt_uuid svc = bt_uuid16(0x180f), svc2;
    int calls = 0;
    size_t written = 0;
    struct gatt_char_def level = {
        .uuid = bt_uuid16(0x2a19),
        .props = GATT_PROP_READ | GATT_PROP_NOTIFY,
        .read = read_counter,
        .user_data = &calls,
    };
    struct gatt_char_def in = {
        .props = GATT_PROP_WRITE,
        .write = write_count,
        .user_data = &written,
        .max_len = 8,
    };
    uint8_t buf[GATT_MAX_VALUE_LEN];

    (void)state;
    assert_int_equal(bt_uuid_parse(&svc2, gateway), 0);
    in.uuid = svc2;
    assert_int_equal(gatt_db_add_service(db, &svc), 1);
    assert_int_equal(gatt_db_add_char(db, &level), 3); /* decl 2, value 3, CCCD 4 */
    assert_int_equal(gatt_db_add_service(db, &svc2), 5);
    assert_int_equal(gatt_db_add_char(db, &in), 7); /* decl 6, value 7 */
    assert_int_equal(gatt_db_last_handle(db), 7);
    assert_int_equal(gatt_db_cccd_count(db), 1);
    assert_null(gatt_db_attr(db, 0));
    assert_null(gatt_db_attr(db, 8));

    /* Groups end where the next service starts, or at the last handle. */
    assert_int_equal(gatt_attr_end(gatt_db_attr(db, 1)), 4);
    assert_int_equal(gatt_attr_end(gatt_db_attr(db, 5)), 7);
    assert_int_equal(gatt_attr_end(gatt_db_attr(db, 3)), 3);

    /* Declarations: service UUID; properties, value handle, UUID */
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 1), NULL, buf, sizeof(buf)), 2);
    assert_memory_equal(buf, ((uint8_t[]){0x0f, 0x18}), 2);
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 2), NULL, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, ((uint8_t[]){0x12, 0x03, 0x00, 0x19, 0x2a}), 5);
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 5), NULL, buf, sizeof(buf)), 16);
    assert_memory_equal(buf, svc2.le, 16);
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 6), NULL, buf, sizeof(buf)), 19);
    assert_memory_equal(buf, ((uint8_t[]){0x08, 0x07, 0x00}), 3);
    assert_memory_equal(buf + 3, svc2.le, 16);

    /* CCCD bookkeeping */
    assert_true(bt_uuid_is16(gatt_attr_type(gatt_db_attr(db, 4)), GATT_CCCD_UUID));
    assert_int_equal(gatt_attr_cccd_index(gatt_db_attr(db, 4)), 0);
    assert_int_equal(gatt_attr_cccd_allowed(gatt_db_attr(db, 4)), GATT_CCC_NOTIFY);
    assert_int_equal(gatt_attr_value_cccd(gatt_db_attr(db, 3)), 0);
    assert_int_equal(gatt_attr_value_cccd(gatt_db_attr(db, 7)), -1);
    assert_int_equal(gatt_attr_cccd_index(gatt_db_attr(db, 3)), -1);

    /* Values through callbacks, with the connection pointer */
    uint8_t conn = 0x77;
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 3), &conn, buf, sizeof(buf)), 2);
    assert_memory_equal(buf, ((uint8_t[]){1, 0x77}), 2);
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 7), NULL, buf, sizeof(buf)),
                     -ATT_ECODE_READ_NOT_PERMITTED);
    assert_int_equal(gatt_attr_write(gatt_db_attr(db, 7), NULL, buf, 8), 0);
    assert_int_equal(written, 8);
    assert_int_equal(gatt_attr_write(gatt_db_attr(db, 7), NULL, buf, 9), -ATT_ECODE_INVALID_VALUE_LEN);
    assert_int_equal(gatt_attr_write(gatt_db_attr(db, 3), NULL, buf, 1), -ATT_ECODE_WRITE_NOT_PERMITTED);
    assert_int_equal(gatt_attr_write(gatt_db_attr(db, 1), NULL, buf, 1), -ATT_ECODE_WRITE_NOT_PERMITTED);
    assert_true(gatt_attr_writable(gatt_db_attr(db, 4)));
    assert_false(gatt_attr_writable(gatt_db_attr(db, 3)));
    gatt_db_free(db);
}

static void builders_refuse_bad_definitions(void **state)
{
    struct gatt_db *db = gatt_db_new();
    struct bt_uuid svc = bt_uuid16(0x1800), bad = {.len = 4};
    uint8_t big[GATT_MAX_VALUE_LEN + 1] = {0};
    struct gatt_char_def def = {.uuid = bt_uuid16(0x2a00), .props = GATT_PROP_READ};

    (void)state;
    assert_int_equal(gatt_db_add_char(db, &def), -EINVAL); /* no service yet */
    assert_int_equal(gatt_db_add_service(db, &bad), -EINVAL);
    assert_int_equal(gatt_db_add_service(db, &svc), 1);
    def.props = GATT_PROP_WRITE; /* writable without a write callback */
    assert_int_equal(gatt_db_add_char(db, &def), -EINVAL);
    def.props = GATT_PROP_READ;
    def.value = big;
    def.value_len = sizeof(big);
    assert_int_equal(gatt_db_add_char(db, &def), -EINVAL);
    def.value_len = 3;
    def.read = read_counter; /* both a static value and a callback */
    assert_int_equal(gatt_db_add_char(db, &def), -EINVAL);
    def.uuid = bad;
    def.read = NULL;
    assert_int_equal(gatt_db_add_char(db, &def), -EINVAL);
    assert_int_equal(gatt_db_last_handle(db), 1);
    gatt_db_free(db);
}

static void database_grows_past_its_first_allocation(void **state)
{
    struct gatt_db *db = gatt_db_new();
    struct bt_uuid svc = bt_uuid16(0x180a);
    struct gatt_char_def def = {
        .uuid = bt_uuid16(0x2a29),
        .props = GATT_PROP_READ | GATT_PROP_INDICATE,
        .value = (const uint8_t *)"x",
        .value_len = 1,
    };
    uint8_t buf[GATT_MAX_VALUE_LEN];

    (void)state;
    assert_int_equal(gatt_db_add_service(db, &svc), 1);
    for (int i = 0; i < 100; i++)
        assert_int_equal(gatt_db_add_char(db, &def), 3 + 3 * i);
    assert_int_equal(gatt_db_last_handle(db), 301);
    assert_int_equal(gatt_db_cccd_count(db), 100);
    assert_int_equal(gatt_attr_end(gatt_db_attr(db, 1)), 301);
    assert_int_equal(gatt_attr_value_cccd(gatt_db_attr(db, 300)), 99);
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 300), NULL, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'x');
    gatt_db_free(db);
}

static int read_too_long(void *user_data, void *conn, uint8_t *buf, size_t cap)
{
    (void)user_data;
    (void)conn;
    (void)buf;
    return (int)cap + 1;
}

/* Values the database does not serve itself: CCCDs (per connection) and broken callbacks */
static void reads_that_are_not_the_databases(void **state)
{
    struct gatt_db *db = gatt_db_new();
    struct bt_uuid svc = bt_uuid16(0x180f);
    struct gatt_char_def def = {
        .uuid = bt_uuid16(0x2a19),
        .props = GATT_PROP_READ | GATT_PROP_NOTIFY,
        .read = read_too_long,
    };
    uint8_t buf[GATT_MAX_VALUE_LEN];

    (void)state;
    assert_int_equal(gatt_db_add_service(db, &svc), 1);
    assert_int_equal(gatt_db_add_char(db, &def), 3);
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 3), NULL, buf, sizeof(buf)), -ATT_ECODE_UNLIKELY);
    assert_int_equal(gatt_attr_read(gatt_db_attr(db, 4), NULL, buf, sizeof(buf)), -ATT_ECODE_UNLIKELY);
    assert_int_equal(gatt_attr_write(gatt_db_attr(db, 4), NULL, buf, 2), -ATT_ECODE_WRITE_NOT_PERMITTED);
    assert_int_equal(gatt_attr_max_len(gatt_db_attr(db, 4)), 2);
    gatt_db_free(db);
}

/* Handles stop at 0xFFFF; a characteristic that would not fit is not started. */
static void handles_run_out(void **state)
{
    struct gatt_db *db = gatt_db_new();
    struct bt_uuid svc = bt_uuid16(0x1800);
    struct gatt_char_def def = {
        .uuid = bt_uuid16(0x2a00),
        .props = GATT_PROP_READ | GATT_PROP_NOTIFY,
    };
    int h = 0;

    (void)state;
    for (int i = 0; i < 0xfffd; i++)
        h = gatt_db_add_service(db, &svc);
    assert_int_equal(h, 0xfffd);
    assert_int_equal(gatt_db_add_char(db, &def), -ENOSPC);
    assert_int_equal(gatt_db_last_handle(db), 0xfffd);
    assert_int_equal(gatt_db_add_service(db, &svc), 0xfffe);
    assert_int_equal(gatt_db_add_service(db, &svc), 0xffff);
    assert_int_equal(gatt_db_add_service(db, &svc), -ENOSPC);
    assert_int_equal(gatt_attr_end(gatt_db_attr(db, 0xffff)), 0xffff);
    assert_non_null(gatt_db_attr(db, 0xffff));
    gatt_db_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uuid_parse_reverses_to_wire_order),
        cmocka_unit_test(uuid_parse_rejects_malformed),
        cmocka_unit_test(uuid16_equals_its_base_uuid_form),
        cmocka_unit_test(handles_are_assigned_in_order),
        cmocka_unit_test(builders_refuse_bad_definitions),
        cmocka_unit_test(database_grows_past_its_first_allocation),
        cmocka_unit_test(reads_that_are_not_the_databases),
        cmocka_unit_test(handles_run_out),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
