/* Tests of ble-agent's GATT database through the ATT server, as a central would see it:
 * primary service discovery, the provd Gateway's 128-bit UUIDs, values and callbacks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "att_pdu.h"
#include "att_proto.h"
#include "services.h"

/* 2c8e000N-d233-4303-b2c5-87adc4ee163f on the wire */
#define GW(n) 0x3f, 0x16, 0xee, 0xc4, 0xad, 0x87, 0xc5, 0xb2, 0x03, 0x43, 0x33, 0xd2, n, 0x00, 0x8e, 0x2c

struct fixture {
    struct services_config cfg;
    struct services *svc;
    struct att_server *a, *b; /* two connections */
    int battery;
    int telemetry_writes;
    void *telemetry_conn;
    size_t telemetry_len;
    uint8_t telemetry[GATT_MAX_VALUE_LEN];
};

static int battery_level(void *user_data)
{
    return ((struct fixture *)user_data)->battery;
}

static int telemetry_in(void *user_data, void *conn, const uint8_t *value, size_t len)
{
    struct fixture *f = user_data;

    f->telemetry_writes++;
    f->telemetry_conn = conn;
    f->telemetry_len = len;
    memcpy(f->telemetry, value, len);
    return 0;
}

/* Each connection has its own last result. */
static int telemetry_result(void *user_data, void *conn, uint8_t *buf, size_t cap)
{
    struct fixture *f = user_data;
    const char *text = conn == &f->a ? "{\"status\":201}" : "{\"status\":409}";

    (void)cap;
    memcpy(buf, text, strlen(text));
    return (int)strlen(text);
}

static void start(struct fixture *f)
{
    f->svc = services_new(&f->cfg);
    assert_non_null(f->svc);
    f->a = att_server_new(services_db(f->svc), &f->a, ATT_MTU_MAX);
    f->b = att_server_new(services_db(f->svc), &f->b, ATT_MTU_MAX);
    assert_non_null(f->a);
    assert_non_null(f->b);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->cfg = (struct services_config){
        .device_name = "gw-kitchen",
        .appearance = 0x0080,
        .manufacturer = "provd",
        .model = "ble-agent",
        .firmware_revision = "0.1.0",
        .server = "http://127.0.0.1:8080",
        .version = "0.1.0",
        .adapter = "hci0",
        .battery_level = battery_level,
        .telemetry_in = telemetry_in,
        .telemetry_result = telemetry_result,
        .user_data = f,
    };
    f->battery = 87;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    att_server_free(f->a);
    att_server_free(f->b);
    services_free(f->svc);
    free(f);
    return 0;
}

struct group {
    uint16_t start, end;
    struct bt_uuid uuid;
};

/* Read By Group Type from handle 1 until Attribute Not Found, as a central discovers. */
static size_t discover_primary(struct att_server *srv, struct group *groups, size_t cap)
{
    uint8_t out[ATT_MTU_MAX];
    size_t count = 0;
    uint32_t from = 1;

    for (;;) {
        uint8_t req[] = {0x10, (uint8_t)from, (uint8_t)(from >> 8), 0xff, 0xff, 0x00, 0x28};
        size_t n = att_pdu_send(srv, req, sizeof(req), out);
        if (out[0] == ATT_OP_ERROR_RSP) {
            assert_int_equal(n, 5);
            assert_int_equal(out[4], ATT_ECODE_ATTR_NOT_FOUND);
            return count;
        }
        assert_int_equal(out[0], ATT_OP_READ_BY_GROUP_RSP);
        size_t each = out[1];
        assert_true(each == 6 || each == 20);
        assert_int_equal((n - 2) % each, 0);
        for (size_t i = 2; i < n; i += each) {
            assert_true(count < cap);
            struct group *g = &groups[count++];
            g->start = (uint16_t)(out[i] | out[i + 1] << 8);
            g->end = (uint16_t)(out[i + 2] | out[i + 3] << 8);
            assert_int_equal(bt_uuid_from_le(&g->uuid, out + i + 4, each - 4), 0);
            from = g->end + 1u;
        }
        assert_true(from <= 0xffff);
    }
}

static void check_groups(const struct group *got, size_t n, const struct group *want, size_t m)
{
    assert_int_equal(n, m);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].start, want[i].start);
        assert_int_equal(got[i].end, want[i].end);
        assert_true(bt_uuid_equal(&got[i].uuid, &want[i].uuid));
    }
}

/* /TP/GAD/SR/BV-01-C on the real database: the first answers byte for byte, then the walk. */
static void gad_sr_bv_01_c_discover_all_primary_services(void **state)
{
    struct fixture *f = *state;
    struct group got[8], want[] = {
                             {0x01, 0x05, bt_uuid16(0x1800)},
                             {0x06, 0x09, bt_uuid16(0x1801)},
                             {0x0a, 0x0d, bt_uuid16(0x180f)},
                             {0x0e, 0x14, bt_uuid16(0x180a)},
                             {0x15, 0x1c, {0}},
                         };

    start(f);
    assert_int_equal(bt_uuid_parse(&want[4].uuid, SERVICES_GATEWAY_UUID), 0);
    att_pdu_expect(f->a, PDU(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
                   PDU(0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18, 0x06, 0x00, 0x09, 0x00, 0x01, 0x18,
                       0x0a, 0x00, 0x0d, 0x00, 0x0f, 0x18));
    att_pdu_expect(f->a, PDU(0x10, 0x0e, 0x00, 0xff, 0xff, 0x00, 0x28),
                   PDU(0x11, 0x06, 0x0e, 0x00, 0x14, 0x00, 0x0a, 0x18));
    att_pdu_expect(f->a, PDU(0x10, 0x15, 0x00, 0xff, 0xff, 0x00, 0x28),
                   PDU(0x11, 0x14, 0x15, 0x00, 0x1c, 0x00, GW(0x01)));
    att_pdu_expect(f->a, PDU(0x10, 0x1d, 0x00, 0xff, 0xff, 0x00, 0x28), PDU(0x01, 0x10, 0x1d, 0x00, 0x0a));
    check_groups(got, discover_primary(f->a, got, 8), want, 5);
    /* At MTU 517 the walk takes fewer requests and finds the same. */
    att_pdu_expect(f->b, PDU(0x02, 0x05, 0x02), PDU(0x03, 0x05, 0x02));
    check_groups(got, discover_primary(f->b, got, 8), want, 5);
}

static void battery_service_left_out_without_battery(void **state)
{
    struct fixture *f = *state;
    struct group got[8], want[] = {
                             {0x01, 0x05, bt_uuid16(0x1800)},
                             {0x06, 0x09, bt_uuid16(0x1801)},
                             {0x0a, 0x10, bt_uuid16(0x180a)},
                             {0x11, 0x18, {0}},
                         };

    f->cfg.battery_level = NULL;
    start(f);
    assert_int_equal(bt_uuid_parse(&want[3].uuid, SERVICES_GATEWAY_UUID), 0);
    check_groups(got, discover_primary(f->a, got, 8), want, 4);
    assert_int_equal(services_handle(f->svc, SERVICES_BATTERY_LEVEL), 0);
    assert_int_equal(services_handle(f->svc, SERVICES_TELEMETRY_RESULT), 0x17);
    att_pdu_expect(f->a, PDU(0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18),
                   PDU(0x01, 0x06, 0x01, 0x00, 0x0a));
}

/* /TP/GAD/SR/BV-02-C and BV-04-C for the 128-bit provd Gateway service */
static void gateway_discovery_by_uuid(void **state)
{
    struct fixture *f = *state;

    start(f);
    att_pdu_expect(f->a, PDU(0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, GW(0x01)),
                   PDU(0x07, 0x15, 0x00, 0x1c, 0x00));
    att_pdu_expect(f->a, PDU(0x08, 0x15, 0x00, 0x1c, 0x00, 0x03, 0x28),
                   PDU(0x09, 0x15, 0x16, 0x00, 0x02, 0x17, 0x00, GW(0x02)));
    att_pdu_expect(f->a, PDU(0x08, 0x17, 0x00, 0x1c, 0x00, 0x03, 0x28),
                   PDU(0x09, 0x15, 0x18, 0x00, 0x0c, 0x19, 0x00, GW(0x03)));
    att_pdu_expect(f->a, PDU(0x08, 0x19, 0x00, 0x1c, 0x00, 0x03, 0x28),
                   PDU(0x09, 0x15, 0x1a, 0x00, 0x12, 0x1b, 0x00, GW(0x04)));
    att_pdu_expect(f->a, PDU(0x08, 0x1b, 0x00, 0x1c, 0x00, 0x03, 0x28), PDU(0x01, 0x08, 0x1b, 0x00, 0x0a));
    /* /TP/GAD/SR/BV-06-C: the Telemetry Result value and its CCCD */
    att_pdu_expect(f->a, PDU(0x04, 0x1b, 0x00, 0x1c, 0x00), PDU(0x05, 0x02, 0x1b, 0x00, GW(0x04)));
    att_pdu_expect(f->a, PDU(0x04, 0x1c, 0x00, 0x1c, 0x00), PDU(0x05, 0x01, 0x1c, 0x00, 0x02, 0x29));
    assert_int_equal(services_handle(f->svc, SERVICES_TELEMETRY_RESULT), 0x1b);
}

/* /TP/GAR/SR/BV-03-C: the fixed values, read by characteristic UUID */
static void fixed_values(void **state)
{
    struct fixture *f = *state;

    start(f);
    att_pdu_expect(f->a, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x00, 0x2a),
                   PDU(0x09, 0x0c, 0x03, 0x00, 'g', 'w', '-', 'k', 'i', 't', 'c', 'h', 'e', 'n'));
    att_pdu_expect(f->a, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x01, 0x2a),
                   PDU(0x09, 0x04, 0x05, 0x00, 0x80, 0x00));
    att_pdu_expect(f->a, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x29, 0x2a),
                   PDU(0x09, 0x07, 0x10, 0x00, 'p', 'r', 'o', 'v', 'd'));
    att_pdu_expect(f->a, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x24, 0x2a),
                   PDU(0x09, 0x0b, 0x12, 0x00, 'b', 'l', 'e', '-', 'a', 'g', 'e', 'n', 't'));
    att_pdu_expect(f->a, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x26, 0x2a),
                   PDU(0x09, 0x07, 0x14, 0x00, '0', '.', '1', '.', '0'));
}

/* Gateway Info is JSON longer than MTU-1: a long read gives all of it. */
static void gateway_info_json(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX];
    char text[GATT_MAX_VALUE_LEN + 1];
    size_t len = 0, n;

    f->cfg.server = "http://gw.example/\"x\"";
    start(f);
    do {
        uint8_t req[] = {0x0c, 0x17, 0x00, (uint8_t)len, (uint8_t)(len >> 8)};
        n = att_pdu_send(f->a, req, sizeof(req), out);
        assert_int_equal(out[0], ATT_OP_READ_BLOB_RSP);
        memcpy(text + len, out + 1, n - 1);
        len += n - 1;
    } while (n == 23);
    text[len] = '\0';
    assert_true(len > 22);
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    assert_string_equal(json_object_get_string(json_object_object_get(o, "server")),
                        "http://gw.example/\"x\"");
    assert_string_equal(json_object_get_string(json_object_object_get(o, "version")), "0.1.0");
    assert_string_equal(json_object_get_string(json_object_object_get(o, "adapter")), "hci0");
    json_object_put(o);
}

/* Battery Level comes from the callback on every read; a failure is Unlikely Error. */
static void battery_level_read_and_notify(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX];
    uint16_t level = 0x0c;

    start(f);
    assert_int_equal(services_handle(f->svc, SERVICES_BATTERY_LEVEL), level);
    att_pdu_expect(f->a, PDU(0x0a, 0x0c, 0x00), PDU(0x0b, 87));
    f->battery = 100;
    att_pdu_expect(f->a, PDU(0x0a, 0x0c, 0x00), PDU(0x0b, 100));
    f->battery = -1;
    att_pdu_expect(f->a, PDU(0x0a, 0x0c, 0x00), PDU(0x01, 0x0a, 0x0c, 0x00, 0x0e));
    f->battery = 101;
    att_pdu_expect(f->a, PDU(0x0a, 0x0c, 0x00), PDU(0x01, 0x0a, 0x0c, 0x00, 0x0e));
    att_pdu_expect(f->a, PDU(0x12, 0x0c, 0x00, 50), PDU(0x01, 0x12, 0x0c, 0x00, 0x03));
    /* Notify only: indications are refused. */
    att_pdu_expect(f->a, PDU(0x12, 0x0d, 0x00, 0x02, 0x00), PDU(0x01, 0x12, 0x0d, 0x00, 0xfd));
    att_pdu_expect(f->a, PDU(0x12, 0x0d, 0x00, 0x01, 0x00), PDU(0x13));
    assert_int_equal(att_server_notify(f->a, level, (const uint8_t *)"\x3c", 1, out, sizeof(out)), 4);
    assert_memory_equal(out, ((uint8_t[]){0x1b, 0x0c, 0x00, 0x3c}), 4);
    assert_int_equal(att_server_notify(f->b, level, (const uint8_t *)"\x3c", 1, out, sizeof(out)), 0);
}

/* /TP/GAW/SR/BV-05-C on Telemetry In: a frame longer than the MTU by Prepare/Execute */
static void telemetry_in_long_write(void **state)
{
    struct fixture *f = *state;
    const char *frame = "dev-42\n{\"iv\":\"00112233445566778899aabb\",\"ct\":\"c2VjcmV0IHRlbGVtZXRyeQ==\","
                        "\"tag\":\"ffeeddccbbaa99887766554433221100\"}";
    size_t len = strlen(frame);
    uint8_t out[ATT_MTU_MAX];

    start(f);
    for (size_t off = 0; off < len; off += 18) {
        size_t n = len - off < 18 ? len - off : 18;
        uint8_t req[23] = {0x16, 0x19, 0x00, (uint8_t)off, (uint8_t)(off >> 8)};
        memcpy(req + 5, frame + off, n);
        assert_int_equal(att_pdu_send(f->a, req, 5 + n, out), 5 + n);
        assert_int_equal(out[0], ATT_OP_PREP_WRITE_RSP);
        assert_memory_equal(out + 1, req + 1, 4 + n);
    }
    assert_int_equal(f->telemetry_writes, 0);
    att_pdu_expect(f->a, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(f->telemetry_writes, 1);
    assert_ptr_equal(f->telemetry_conn, &f->a);
    assert_int_equal(f->telemetry_len, len);
    assert_memory_equal(f->telemetry, frame, len);

    /* Short frames: Write Request and Write Command */
    att_pdu_expect(f->b, PDU(0x12, 0x19, 0x00, 'd', '\n', '{', '}'), PDU(0x13));
    assert_ptr_equal(f->telemetry_conn, &f->b);
    att_pdu_expect(f->b, PDU(0x52, 0x19, 0x00, 'e', '\n', '{', '}'), NO_ANSWER);
    assert_int_equal(f->telemetry_writes, 3);
    assert_memory_equal(f->telemetry, "e\n{}", 4);
    /* Telemetry In is not readable; Gateway Info not writable. */
    att_pdu_expect(f->a, PDU(0x0a, 0x19, 0x00), PDU(0x01, 0x0a, 0x19, 0x00, 0x02));
    att_pdu_expect(f->a, PDU(0x12, 0x17, 0x00, 'x'), PDU(0x01, 0x12, 0x17, 0x00, 0x03));
}

static void telemetry_result_per_connection(void **state)
{
    struct fixture *f = *state;

    start(f);
    att_pdu_expect(f->a, PDU(0x0a, 0x1b, 0x00),
                   PDU(0x0b, '{', '"', 's', 't', 'a', 't', 'u', 's', '"', ':', '2', '0', '1', '}'));
    att_pdu_expect(f->b, PDU(0x0a, 0x1b, 0x00),
                   PDU(0x0b, '{', '"', 's', 't', 'a', 't', 'u', 's', '"', ':', '4', '0', '9', '}'));
}

/* Service Changed: indicate only, never read */
static void service_changed_indication(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX];
    const uint8_t range[] = {0x01, 0x00, 0xff, 0xff};
    uint16_t sc = 0x08;

    start(f);
    assert_int_equal(services_handle(f->svc, SERVICES_SERVICE_CHANGED), sc);
    att_pdu_expect(f->a, PDU(0x08, 0x06, 0x00, 0x09, 0x00, 0x03, 0x28),
                   PDU(0x09, 0x07, 0x07, 0x00, 0x20, 0x08, 0x00, 0x05, 0x2a));
    att_pdu_expect(f->a, PDU(0x0a, 0x08, 0x00), PDU(0x01, 0x0a, 0x08, 0x00, 0x02));
    att_pdu_expect(f->a, PDU(0x12, 0x09, 0x00, 0x01, 0x00), PDU(0x01, 0x12, 0x09, 0x00, 0xfd));
    att_pdu_expect(f->a, PDU(0x12, 0x09, 0x00, 0x02, 0x00), PDU(0x13));
    assert_int_equal(att_server_indicate(f->a, sc, range, sizeof(range), out, sizeof(out)), 7);
    assert_memory_equal(out, ((uint8_t[]){0x1d, 0x08, 0x00, 0x01, 0x00, 0xff, 0xff}), 7);
    assert_int_equal(att_server_indicate(f->b, sc, range, sizeof(range), out, sizeof(out)), 0);
}

static void config_refused(void **state)
{
    struct fixture *f = *state;
    char name[GATT_MAX_VALUE_LEN + 2];

    f->cfg.telemetry_in = NULL;
    errno = 0;
    assert_null(services_new(&f->cfg));
    assert_int_equal(errno, EINVAL);
    f->cfg.telemetry_in = telemetry_in;
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    f->cfg.device_name = name;
    errno = 0;
    assert_null(services_new(&f->cfg));
    assert_int_equal(errno, EINVAL);
    /* A Gateway Info over 512 bytes once encoded */
    f->cfg.device_name = "ok";
    f->cfg.server = name + 40; /* 473 bytes, plus the JSON around it */
    errno = 0;
    assert_null(services_new(&f->cfg));
    assert_int_equal(errno, EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(gad_sr_bv_01_c_discover_all_primary_services),
        T(battery_service_left_out_without_battery),
        T(gateway_discovery_by_uuid),
        T(fixed_values),
        T(gateway_info_json),
        T(battery_level_read_and_notify),
        T(telemetry_in_long_write),
        T(telemetry_result_per_connection),
        T(service_changed_indication),
        T(config_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
