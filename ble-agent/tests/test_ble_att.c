/* Byte-exact tests of the ATT server against a small database, one per request and error
 * path; names carry the GATT test-suite ids (GATT.TS) where one fits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "att_pdu.h"
#include "att_proto.h"
#include "gatt_db.h"

/* The database under test:
 *   1 service 0x1800           2 decl  3 Device Name "provd" (read)
 *                              4 decl  5 Appearance 80 00 (read)
 *   6 service U1 (128-bit)     7 decl  8 U2: 100 bytes 0..99 (read)
 *                              9 decl 10 U3: write, write without response (callback)
 *                             11 decl 12 0x2A19 read/notify/indicate (callback), 13 CCCD
 *                             14 decl 15 0xFFF1: write only, at most 4 bytes (callback)
 */
#define U1       0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xee, 0xaa
#define U2       0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xee, 0xaa
#define U3       0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xee, 0xaa
#define LONG_LEN 100

struct fixture {
    struct gatt_db *db;
    struct att_server *srv;
    struct att_server *other; /* a second connection on the same database */
    uint8_t long_value[LONG_LEN];
    /* what the write callbacks saw */
    int writes;
    void *write_conn;
    size_t written_len;
    uint8_t written[GATT_MAX_VALUE_LEN];
    int write_error; /* returned by the 0xFFF1 callback when non-zero */
    uint8_t level;
};

static int read_level(void *user_data, void *conn, uint8_t *buf, size_t cap)
{
    struct fixture *f = user_data;

    (void)conn;
    (void)cap;
    buf[0] = f->level;
    return 1;
}

static int record_write(void *user_data, void *conn, const uint8_t *value, size_t len)
{
    struct fixture *f = user_data;

    f->writes++;
    f->write_conn = conn;
    f->written_len = len;
    memcpy(f->written, value, len);
    return f->write_error;
}

static void add_char(struct gatt_db *db, struct gatt_char_def def, int handle)
{
    assert_int_equal(gatt_db_add_char(db, &def), handle);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct bt_uuid gap = bt_uuid16(0x1800), u1, u2, u3;
    static const uint8_t appearance[] = {0x80, 0x00};

    bt_uuid_from_le(&u1, (const uint8_t[]){U1}, 16);
    bt_uuid_from_le(&u2, (const uint8_t[]){U2}, 16);
    bt_uuid_from_le(&u3, (const uint8_t[]){U3}, 16);
    for (int i = 0; i < LONG_LEN; i++)
        f->long_value[i] = (uint8_t)i;
    f->db = gatt_db_new();
    assert_int_equal(gatt_db_add_service(f->db, &gap), 1);
    add_char(f->db,
             (struct gatt_char_def){.uuid = bt_uuid16(0x2a00),
                                    .props = GATT_PROP_READ,
                                    .value = (const uint8_t *)"provd",
                                    .value_len = 5},
             3);
    add_char(f->db,
             (struct gatt_char_def){
                 .uuid = bt_uuid16(0x2a01), .props = GATT_PROP_READ, .value = appearance, .value_len = 2},
             5);
    assert_int_equal(gatt_db_add_service(f->db, &u1), 6);
    add_char(f->db,
             (struct gatt_char_def){
                 .uuid = u2, .props = GATT_PROP_READ, .value = f->long_value, .value_len = LONG_LEN},
             8);
    add_char(f->db,
             (struct gatt_char_def){.uuid = u3,
                                    .props = GATT_PROP_WRITE | GATT_PROP_WRITE_NO_RSP,
                                    .write = record_write,
                                    .user_data = f},
             10);
    add_char(f->db,
             (struct gatt_char_def){.uuid = bt_uuid16(0x2a19),
                                    .props = GATT_PROP_READ | GATT_PROP_NOTIFY | GATT_PROP_INDICATE,
                                    .read = read_level,
                                    .user_data = f},
             12);
    add_char(f->db,
             (struct gatt_char_def){.uuid = bt_uuid16(0xfff1),
                                    .props = GATT_PROP_WRITE,
                                    .write = record_write,
                                    .user_data = f,
                                    .max_len = 4},
             15);
    f->srv = att_server_new(f->db, &f->srv, ATT_MTU_MAX);
    f->other = att_server_new(f->db, &f->other, ATT_MTU_MAX);
    assert_non_null(f->srv);
    assert_non_null(f->other);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    att_server_free(f->srv);
    att_server_free(f->other);
    gatt_db_free(f->db);
    free(f);
    return 0;
}

/* --- Exchange MTU ------------------------------------------------------------------- */

/* /TP/GAC/SR/BV-01-C: the server offers its MTU, the connection uses the smaller one. */
static void gac_sr_bv_01_c_exchange_mtu(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(att_server_mtu(f->srv), 23);
    att_pdu_expect(f->srv, PDU(0x02, 0x2c, 0x01), PDU(0x03, 0x05, 0x02));
    assert_int_equal(att_server_mtu(f->srv), 300);
    /* Only the first exchange counts. */
    att_pdu_expect(f->srv, PDU(0x02, 0x05, 0x02), PDU(0x03, 0x05, 0x02));
    assert_int_equal(att_server_mtu(f->srv), 300);
}

static void exchange_mtu_edges(void **state)
{
    struct fixture *f = *state;
    struct att_server *small = att_server_new(f->db, NULL, ATT_MTU_MIN);

    /* Below 23 is taken as 23; above the server's maximum as the maximum. */
    att_pdu_expect(f->srv, PDU(0x02, 0x10, 0x00), PDU(0x03, 0x05, 0x02));
    assert_int_equal(att_server_mtu(f->srv), 23);
    att_pdu_expect(f->other, PDU(0x02, 0xff, 0xff), PDU(0x03, 0x05, 0x02));
    assert_int_equal(att_server_mtu(f->other), 517);
    att_pdu_expect(small, PDU(0x02, 0x05, 0x02), PDU(0x03, 0x17, 0x00));
    assert_int_equal(att_server_mtu(small), 23);
    att_pdu_expect(small, PDU(0x02, 0x17), PDU(0x01, 0x02, 0x00, 0x00, 0x04));
    att_server_free(small);
    assert_null(att_server_new(f->db, NULL, 22));
    assert_null(att_server_new(f->db, NULL, 518));
}

/* --- Discovery ---------------------------------------------------------------------- */

/* /TP/GAD/SR/BV-01-C: Read By Group Type walk; one UUID size per answer. */
static void gad_sr_bv_01_c_discover_all_primary_services(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28),
                   PDU(0x11, 0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x18));
    att_pdu_expect(f->srv, PDU(0x10, 0x06, 0x00, 0xff, 0xff, 0x00, 0x28),
                   PDU(0x11, 0x14, 0x06, 0x00, 0x0f, 0x00, U1));
    att_pdu_expect(f->srv, PDU(0x10, 0x10, 0x00, 0xff, 0xff, 0x00, 0x28), PDU(0x01, 0x10, 0x10, 0x00, 0x0a));
}

static void read_by_group_type_errors(void **state)
{
    struct fixture *f = *state;

    /* /TP/GAD/SR/BI-01-C style: start 0 and start > end are Invalid Handle */
    att_pdu_expect(f->srv, PDU(0x10, 0x00, 0x00, 0xff, 0xff, 0x00, 0x28), PDU(0x01, 0x10, 0x00, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x10, 0x05, 0x00, 0x04, 0x00, 0x00, 0x28), PDU(0x01, 0x10, 0x05, 0x00, 0x01));
    /* Only service declarations group attributes. */
    att_pdu_expect(f->srv, PDU(0x10, 0x01, 0x00, 0xff, 0xff, 0x03, 0x28), PDU(0x01, 0x10, 0x01, 0x00, 0x10));
    /* Secondary services: none here. */
    att_pdu_expect(f->srv, PDU(0x10, 0x01, 0x00, 0xff, 0xff, 0x01, 0x28), PDU(0x01, 0x10, 0x01, 0x00, 0x0a));
    /* A group type that is neither 2 nor 16 bytes long */
    att_pdu_expect(f->srv, PDU(0x10, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x00),
                   PDU(0x01, 0x10, 0x00, 0x00, 0x04));
    att_pdu_expect(f->srv, PDU(0x10, 0x01, 0x00, 0xff, 0xff, 0x00), PDU(0x01, 0x10, 0x00, 0x00, 0x04));
}

/* /TP/GAD/SR/BV-02-C: Find By Type Value with 16- and 128-bit service UUIDs. */
static void gad_sr_bv_02_c_discover_primary_service_by_uuid(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x00, 0x18),
                   PDU(0x07, 0x01, 0x00, 0x05, 0x00));
    att_pdu_expect(f->srv, PDU(0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, U1),
                   PDU(0x07, 0x06, 0x00, 0x0f, 0x00));
    att_pdu_expect(f->srv, PDU(0x06, 0x07, 0x00, 0xff, 0xff, 0x00, 0x28, U1),
                   PDU(0x01, 0x06, 0x07, 0x00, 0x0a));
    att_pdu_expect(f->srv, PDU(0x06, 0x01, 0x00, 0xff, 0xff, 0x00, 0x28, 0x0f, 0x18),
                   PDU(0x01, 0x06, 0x01, 0x00, 0x0a));
    /* A non-grouping attribute ends its own group. */
    att_pdu_expect(f->srv, PDU(0x06, 0x01, 0x00, 0xff, 0xff, 0x01, 0x2a, 0x80, 0x00),
                   PDU(0x07, 0x05, 0x00, 0x05, 0x00));
    att_pdu_expect(f->srv, PDU(0x06, 0x00, 0x00, 0xff, 0xff, 0x00, 0x28, 0x00, 0x18),
                   PDU(0x01, 0x06, 0x00, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x06, 0x01, 0x00, 0xff, 0xff, 0x00), PDU(0x01, 0x06, 0x00, 0x00, 0x04));
}

/* /TP/GAD/SR/BV-04-C: characteristic declarations by Read By Type; one value length per answer. */
static void gad_sr_bv_04_c_discover_all_characteristics(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(
        f->srv, PDU(0x08, 0x01, 0x00, 0x05, 0x00, 0x03, 0x28),
        PDU(0x09, 0x07, 0x02, 0x00, 0x02, 0x03, 0x00, 0x00, 0x2a, 0x04, 0x00, 0x02, 0x05, 0x00, 0x01, 0x2a));
    /* A 19-byte declaration fills a 23-byte MTU alone. */
    att_pdu_expect(f->srv, PDU(0x08, 0x06, 0x00, 0x0f, 0x00, 0x03, 0x28),
                   PDU(0x09, 0x15, 0x07, 0x00, 0x02, 0x08, 0x00, U2));
    att_pdu_expect(f->srv, PDU(0x08, 0x08, 0x00, 0x0f, 0x00, 0x03, 0x28),
                   PDU(0x09, 0x15, 0x09, 0x00, 0x0c, 0x0a, 0x00, U3));
    att_pdu_expect(
        f->srv, PDU(0x08, 0x0a, 0x00, 0x0f, 0x00, 0x03, 0x28),
        PDU(0x09, 0x07, 0x0b, 0x00, 0x32, 0x0c, 0x00, 0x19, 0x2a, 0x0e, 0x00, 0x08, 0x0f, 0x00, 0xf1, 0xff));
    att_pdu_expect(f->srv, PDU(0x08, 0x0f, 0x00, 0x0f, 0x00, 0x03, 0x28), PDU(0x01, 0x08, 0x0f, 0x00, 0x0a));
}

/* /TP/GAD/SR/BV-06-C: Find Information, 16-bit and 128-bit formats. */
static void gad_sr_bv_06_c_discover_all_descriptors(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x04, 0x01, 0x00, 0xff, 0xff),
                   PDU(0x05, 0x01, 0x01, 0x00, 0x00, 0x28, 0x02, 0x00, 0x03, 0x28, 0x03, 0x00, 0x00, 0x2a,
                       0x04, 0x00, 0x03, 0x28, 0x05, 0x00, 0x01, 0x2a));
    att_pdu_expect(f->srv, PDU(0x04, 0x06, 0x00, 0xff, 0xff),
                   PDU(0x05, 0x01, 0x06, 0x00, 0x00, 0x28, 0x07, 0x00, 0x03, 0x28));
    att_pdu_expect(f->srv, PDU(0x04, 0x08, 0x00, 0xff, 0xff), PDU(0x05, 0x02, 0x08, 0x00, U2));
    att_pdu_expect(f->srv, PDU(0x04, 0x0c, 0x00, 0x0d, 0x00),
                   PDU(0x05, 0x01, 0x0c, 0x00, 0x19, 0x2a, 0x0d, 0x00, 0x02, 0x29));
    att_pdu_expect(f->srv, PDU(0x04, 0x10, 0x00, 0xff, 0xff), PDU(0x01, 0x04, 0x10, 0x00, 0x0a));
    att_pdu_expect(f->srv, PDU(0x04, 0x00, 0x00, 0x01, 0x00), PDU(0x01, 0x04, 0x00, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x04, 0x03, 0x00, 0x02, 0x00), PDU(0x01, 0x04, 0x03, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x04, 0x01, 0x00, 0xff), PDU(0x01, 0x04, 0x00, 0x00, 0x04));
}

/* --- Reads -------------------------------------------------------------------------- */

/* /TP/GAR/SR/BV-01-C, BI-01-C, BI-02-C */
static void gar_sr_bv_01_c_read(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x0a, 0x03, 0x00), PDU(0x0b, 'p', 'r', 'o', 'v', 'd'));
    f->level = 87;
    att_pdu_expect(f->srv, PDU(0x0a, 0x0c, 0x00), PDU(0x0b, 87));
    att_pdu_expect(f->srv, PDU(0x0a, 0x10, 0x00), PDU(0x01, 0x0a, 0x10, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x0a, 0x00, 0x00), PDU(0x01, 0x0a, 0x00, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x0a, 0x0f, 0x00), PDU(0x01, 0x0a, 0x0f, 0x00, 0x02));
    att_pdu_expect(f->srv, PDU(0x0a, 0x03), PDU(0x01, 0x0a, 0x00, 0x00, 0x04));
    att_pdu_expect(f->srv, PDU(0x0a, 0x03, 0x00, 0x00), PDU(0x01, 0x0a, 0x00, 0x00, 0x04));
}

/* /TP/GAR/SR/BV-03-C: Read By Type with a characteristic UUID, 16- and 128-bit forms. */
static void gar_sr_bv_03_c_read_using_uuid(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x00, 0x2a),
                   PDU(0x09, 0x07, 0x03, 0x00, 'p', 'r', 'o', 'v', 'd'));
    /* The same 16-bit UUID spelled on the Base UUID */
    att_pdu_expect(f->srv,
                   PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00, 0x00, 0x80, 0x00,
                       0x10, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00),
                   PDU(0x09, 0x07, 0x03, 0x00, 'p', 'r', 'o', 'v', 'd'));
    /* A long value is cut to MTU-4. */
    att_pdu_expect(
        f->srv, PDU(0x08, 0x01, 0x00, 0xff, 0xff, U2),
        PDU(0x09, 0x15, 0x08, 0x00, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18));
    /* /TP/GAR/SR/BI-06-C: not readable; BI-07-C: not found */
    att_pdu_expect(f->srv, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0xf1, 0xff), PDU(0x01, 0x08, 0x0f, 0x00, 0x02));
    att_pdu_expect(f->srv, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x34, 0x12), PDU(0x01, 0x08, 0x01, 0x00, 0x0a));
    att_pdu_expect(f->srv, PDU(0x08, 0x02, 0x00, 0x01, 0x00, 0x00, 0x2a), PDU(0x01, 0x08, 0x02, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x00, 0x2a, 0x00),
                   PDU(0x01, 0x08, 0x00, 0x00, 0x04));
}

/* /TP/GAR/SR/BV-04-C: a long read, Read then Read Blob until the value ends. */
static void gar_sr_bv_04_c_read_long(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX], value[LONG_LEN + 22];
    size_t got = 0, n;

    n = att_pdu_send(f->srv, PDU(0x0a, 0x08, 0x00), out);
    assert_int_equal(n, 23);
    assert_int_equal(out[0], 0x0b);
    memcpy(value, out + 1, n - 1);
    got = n - 1;
    while (n == 23) {
        uint8_t req[] = {0x0c, 0x08, 0x00, (uint8_t)got, (uint8_t)(got >> 8)};
        n = att_pdu_send(f->srv, req, sizeof(req), out);
        assert_true(n >= 1);
        assert_int_equal(out[0], 0x0d);
        memcpy(value + got, out + 1, n - 1);
        got += n - 1;
    }
    assert_int_equal(got, LONG_LEN);
    assert_memory_equal(value, f->long_value, LONG_LEN);
    /* Reading at the very end gives an empty part; past it is Invalid Offset. */
    att_pdu_expect(f->srv, PDU(0x0c, 0x08, 0x00, 0x64, 0x00), PDU(0x0d));
    att_pdu_expect(f->srv, PDU(0x0c, 0x08, 0x00, 0x58, 0x00),
                   PDU(0x0d, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99));
    /* /TP/GAR/SR/BI-13-C */
    att_pdu_expect(f->srv, PDU(0x0c, 0x08, 0x00, 0x65, 0x00), PDU(0x01, 0x0c, 0x08, 0x00, 0x07));
    att_pdu_expect(f->srv, PDU(0x0c, 0x20, 0x00, 0x00, 0x00), PDU(0x01, 0x0c, 0x20, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x0c, 0x0f, 0x00, 0x00, 0x00), PDU(0x01, 0x0c, 0x0f, 0x00, 0x02));
    att_pdu_expect(f->srv, PDU(0x0c, 0x08, 0x00, 0x00), PDU(0x01, 0x0c, 0x00, 0x00, 0x04));
}

/* /TP/GAR/SR/BV-05-C, BI-18-C, BI-19-C: Read Multiple */
static void gar_sr_bv_05_c_read_multiple(void **state)
{
    struct fixture *f = *state;

    f->level = 5;
    att_pdu_expect(f->srv, PDU(0x0e, 0x03, 0x00, 0x05, 0x00, 0x0c, 0x00),
                   PDU(0x0f, 'p', 'r', 'o', 'v', 'd', 0x80, 0x00, 5));
    /* The concatenation is cut to MTU-1. */
    att_pdu_expect(
        f->srv, PDU(0x0e, 0x03, 0x00, 0x08, 0x00),
        PDU(0x0f, 'p', 'r', 'o', 'v', 'd', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16));
    att_pdu_expect(f->srv, PDU(0x0e, 0x03, 0x00, 0x0f, 0x00), PDU(0x01, 0x0e, 0x0f, 0x00, 0x02));
    att_pdu_expect(f->srv, PDU(0x0e, 0x03, 0x00, 0x99, 0x00), PDU(0x01, 0x0e, 0x99, 0x00, 0x01));
    /* An error after the answer is full still wins. */
    att_pdu_expect(f->srv, PDU(0x0e, 0x08, 0x00, 0x08, 0x00, 0x0f, 0x00), PDU(0x01, 0x0e, 0x0f, 0x00, 0x02));
    att_pdu_expect(f->srv, PDU(0x0e, 0x03, 0x00), PDU(0x01, 0x0e, 0x00, 0x00, 0x04));
    att_pdu_expect(f->srv, PDU(0x0e, 0x03, 0x00, 0x05), PDU(0x01, 0x0e, 0x00, 0x00, 0x04));
    att_pdu_expect(f->srv, PDU(0x0e, 0x03, 0x00, 0x05, 0x00, 0x0c), PDU(0x01, 0x0e, 0x00, 0x00, 0x04));
}

/* --- Writes ------------------------------------------------------------------------- */

/* /TP/GAW/SR/BV-03-C, BI-02-C, BI-03-C: Write Request */
static void gaw_sr_bv_03_c_write(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x12, 0x0a, 0x00, 'h', 'e', 'l', 'l', 'o'), PDU(0x13));
    assert_int_equal(f->writes, 1);
    assert_ptr_equal(f->write_conn, &f->srv);
    assert_int_equal(f->written_len, 5);
    assert_memory_equal(f->written, "hello", 5);
    att_pdu_expect(f->srv, PDU(0x12, 0x0a, 0x00), PDU(0x13));
    assert_int_equal(f->written_len, 0);
    att_pdu_expect(f->srv, PDU(0x12, 0x77, 0x00, 1), PDU(0x01, 0x12, 0x77, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x12, 0x03, 0x00, 1), PDU(0x01, 0x12, 0x03, 0x00, 0x03));
    att_pdu_expect(f->srv, PDU(0x12, 0x01, 0x00, 1), PDU(0x01, 0x12, 0x01, 0x00, 0x03));
    /* /TP/GAW/SR/BI-33-C style: longer than the characteristic allows */
    att_pdu_expect(f->srv, PDU(0x12, 0x0f, 0x00, 1, 2, 3, 4, 5), PDU(0x01, 0x12, 0x0f, 0x00, 0x0d));
    /* The callback's own error reaches the peer. */
    f->write_error = -0x80;
    att_pdu_expect(f->srv, PDU(0x12, 0x0f, 0x00, 1), PDU(0x01, 0x12, 0x0f, 0x00, 0x80));
    att_pdu_expect(f->srv, PDU(0x12, 0x0a), PDU(0x01, 0x12, 0x00, 0x00, 0x04));
    assert_int_equal(f->writes, 3);
}

/* /TP/GAW/SR/BV-01-C: Write Command, never answered, errors dropped */
static void gaw_sr_bv_01_c_write_without_response(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x52, 0x0a, 0x00, 'x', 'y'), NO_ANSWER);
    assert_int_equal(f->writes, 1);
    assert_memory_equal(f->written, "xy", 2);
    att_pdu_expect(f->srv, PDU(0x52, 0x03, 0x00, 'x'), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x52, 0x99, 0x00, 'x'), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x52, 0x0a), NO_ANSWER);
    assert_int_equal(f->writes, 1);
}

/* A PDU longer than the MTU is malformed. */
static void request_longer_than_mtu(void **state)
{
    struct fixture *f = *state;
    uint8_t req[24] = {0x12, 0x0a, 0x00};

    att_pdu_expect(f->srv, req, sizeof(req), PDU(0x01, 0x12, 0x00, 0x00, 0x04));
    att_pdu_expect(f->srv, req, 23, PDU(0x13));
    assert_int_equal(f->written_len, 20);
}

/* Sends the value to handle as Prepare Write Requests of MTU-5 bytes, checking each echo. */
static void prepare_value(struct att_server *srv, uint16_t handle, const uint8_t *value, size_t len)
{
    size_t chunk = att_server_mtu(srv) - 5;

    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        uint8_t req[ATT_MTU_MAX] = {0x16, (uint8_t)handle, (uint8_t)(handle >> 8), (uint8_t)off,
                                    (uint8_t)(off >> 8)};
        uint8_t rsp[ATT_MTU_MAX];
        memcpy(req + 5, value + off, n);
        memcpy(rsp, req, 5 + n);
        rsp[0] = 0x17;
        att_pdu_expect(srv, req, 5 + n, rsp, 5 + n);
    }
}

/* /TP/GAW/SR/BV-05-C: a long write through Prepare/Execute at MTU 23 */
static void gaw_sr_bv_05_c_write_long(void **state)
{
    struct fixture *f = *state;
    uint8_t value[300];

    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 7);
    prepare_value(f->srv, 0x0a, value, sizeof(value));
    assert_int_equal(f->writes, 0);
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(f->writes, 1);
    assert_int_equal(f->written_len, sizeof(value));
    assert_memory_equal(f->written, value, sizeof(value));
    /* The queue is empty afterwards. */
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(f->writes, 1);
}

/* Overlapping parts and two handles in one queue, written in order of preparation. */
static void write_long_two_handles(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x16, 0x0f, 0x00, 0x00, 0x00, 'a', 'b', 'c'),
                   PDU(0x17, 0x0f, 0x00, 0x00, 0x00, 'a', 'b', 'c'));
    att_pdu_expect(f->srv, PDU(0x16, 0x0a, 0x00, 0x00, 0x00, '1', '2'),
                   PDU(0x17, 0x0a, 0x00, 0x00, 0x00, '1', '2'));
    att_pdu_expect(f->srv, PDU(0x16, 0x0f, 0x00, 0x02, 0x00, 'X', 'Y'),
                   PDU(0x17, 0x0f, 0x00, 0x02, 0x00, 'X', 'Y'));
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(f->writes, 2);
    /* The last write was handle 0x000a. */
    assert_int_equal(f->written_len, 2);
    assert_memory_equal(f->written, "12", 2);
}

/* /TP/GAW/SR/BV-05-C cancel: Execute Write with flags 0 drops the queue. */
static void write_long_cancel(void **state)
{
    struct fixture *f = *state;

    prepare_value(f->srv, 0x0a, (const uint8_t *)"cancelled value, never written", 30);
    att_pdu_expect(f->srv, PDU(0x18, 0x00), PDU(0x19));
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(f->writes, 0);
    att_pdu_expect(f->srv, PDU(0x18, 0x02), PDU(0x01, 0x18, 0x00, 0x00, 0x04));
    att_pdu_expect(f->srv, PDU(0x18), PDU(0x01, 0x18, 0x00, 0x00, 0x04));
}

/* /TP/GAW/SR/BI-07-C, BI-08-C, BI-09-C, BI-35-C: errors at prepare and at execute time */
static void write_long_errors(void **state)
{
    struct fixture *f = *state;

    att_pdu_expect(f->srv, PDU(0x16, 0x77, 0x00, 0x00, 0x00, 1), PDU(0x01, 0x16, 0x77, 0x00, 0x01));
    att_pdu_expect(f->srv, PDU(0x16, 0x03, 0x00, 0x00, 0x00, 1), PDU(0x01, 0x16, 0x03, 0x00, 0x03));
    att_pdu_expect(f->srv, PDU(0x16, 0x0a, 0x00, 0x00), PDU(0x01, 0x16, 0x00, 0x00, 0x04));

    /* A part starting past what came before: Invalid Offset, nothing written */
    att_pdu_expect(f->srv, PDU(0x16, 0x0a, 0x00, 0x05, 0x00, 1), PDU(0x17, 0x0a, 0x00, 0x05, 0x00, 1));
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x01, 0x18, 0x0a, 0x00, 0x07));
    assert_int_equal(f->writes, 0);

    /* Every value is checked before any is written. */
    att_pdu_expect(f->srv, PDU(0x16, 0x0a, 0x00, 0x00, 0x00, 1), PDU(0x17, 0x0a, 0x00, 0x00, 0x00, 1));
    att_pdu_expect(f->srv, PDU(0x16, 0x0f, 0x00, 0x00, 0x00, 1, 2, 3),
                   PDU(0x17, 0x0f, 0x00, 0x00, 0x00, 1, 2, 3));
    att_pdu_expect(f->srv, PDU(0x16, 0x0f, 0x00, 0x03, 0x00, 4, 5), PDU(0x17, 0x0f, 0x00, 0x03, 0x00, 4, 5));
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x01, 0x18, 0x0f, 0x00, 0x0d));
    assert_int_equal(f->writes, 0);

    /* A write callback's error names its handle. */
    f->write_error = -0x81;
    att_pdu_expect(f->srv, PDU(0x16, 0x0f, 0x00, 0x00, 0x00, 9), PDU(0x17, 0x0f, 0x00, 0x00, 0x00, 9));
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x01, 0x18, 0x0f, 0x00, 0x81));
    assert_int_equal(f->writes, 1);
}

/* /TP/GAW/SR/BI-... Prepare Queue Full, by entry count and by bytes */
static void prepare_queue_full(void **state)
{
    struct fixture *f = *state;
    uint8_t big[512];

    for (int i = 0; i < ATT_PREP_MAX_ENTRIES; i++) {
        uint8_t req[] = {0x16, 0x0a, 0x00, (uint8_t)i, 0x00, (uint8_t)i};
        uint8_t rsp[] = {0x17, 0x0a, 0x00, (uint8_t)i, 0x00, (uint8_t)i};
        att_pdu_expect(f->srv, req, sizeof(req), rsp, sizeof(rsp));
    }
    att_pdu_expect(f->srv, PDU(0x16, 0x0a, 0x00, 0x40, 0x00, 0x40), PDU(0x01, 0x16, 0x0a, 0x00, 0x09));
    att_pdu_expect(f->srv, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(f->written_len, ATT_PREP_MAX_ENTRIES);
    for (int i = 0; i < ATT_PREP_MAX_ENTRIES; i++)
        assert_int_equal(f->written[i], i);

    /* At MTU 517, two full parts fill the byte budget. */
    att_pdu_expect(f->other, PDU(0x02, 0x05, 0x02), PDU(0x03, 0x05, 0x02));
    memset(big, 0x5a, sizeof(big));
    prepare_value(f->other, 0x0a, big, 512);
    prepare_value(f->other, 0x0a, big, 512);
    att_pdu_expect(f->other, PDU(0x16, 0x0a, 0x00, 0x00, 0x00, 1), PDU(0x01, 0x16, 0x0a, 0x00, 0x09));
    /* Another connection's queue is its own. */
    att_pdu_expect(f->srv, PDU(0x16, 0x0a, 0x00, 0x00, 0x00, 1), PDU(0x17, 0x0a, 0x00, 0x00, 0x00, 1));
    att_pdu_expect(f->other, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(f->written_len, 512);
    assert_ptr_equal(f->write_conn, &f->other);
}

/* --- CCCDs, notifications, indications ----------------------------------------------- */

/* /TP/GAW/SR/BV-... CCCD values are per connection. */
static void cccd_per_connection(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX];

    att_pdu_expect(f->srv, PDU(0x12, 0x0d, 0x00, 0x01, 0x00), PDU(0x13));
    att_pdu_expect(f->srv, PDU(0x0a, 0x0d, 0x00), PDU(0x0b, 0x01, 0x00));
    att_pdu_expect(f->other, PDU(0x0a, 0x0d, 0x00), PDU(0x0b, 0x00, 0x00));
    assert_int_equal(att_server_ccc(f->srv, 0x0c), 1);
    assert_int_equal(att_server_ccc(f->other, 0x0c), 0);
    assert_int_equal(att_server_notify(f->srv, 0x0c, (const uint8_t *)"\x2a", 1, out, sizeof(out)), 4);
    assert_memory_equal(out, ((uint8_t[]){0x1b, 0x0c, 0x00, 0x2a}), 4);
    assert_int_equal(att_server_notify(f->other, 0x0c, (const uint8_t *)"\x2a", 1, out, sizeof(out)), 0);
    /* Wrong length, bits the characteristic does not support, reserved bits */
    att_pdu_expect(f->srv, PDU(0x12, 0x0d, 0x00, 0x01), PDU(0x01, 0x12, 0x0d, 0x00, 0x0d));
    att_pdu_expect(f->srv, PDU(0x12, 0x0d, 0x00, 0x04, 0x00), PDU(0x01, 0x12, 0x0d, 0x00, 0xfd));
    att_pdu_expect(f->srv, PDU(0x0a, 0x0d, 0x00), PDU(0x0b, 0x01, 0x00));
    /* Found by Read By Type and Find Information like any attribute */
    att_pdu_expect(f->srv, PDU(0x08, 0x01, 0x00, 0xff, 0xff, 0x02, 0x29),
                   PDU(0x09, 0x04, 0x0d, 0x00, 0x01, 0x00));
    /* A long write reaches a CCCD too. */
    att_pdu_expect(f->other, PDU(0x16, 0x0d, 0x00, 0x00, 0x00, 0x02, 0x00),
                   PDU(0x17, 0x0d, 0x00, 0x00, 0x00, 0x02, 0x00));
    att_pdu_expect(f->other, PDU(0x18, 0x01), PDU(0x19));
    assert_int_equal(att_server_ccc(f->other, 0x0c), 2);
    assert_int_equal(att_server_ccc(f->srv, 0x0c), 1);
    assert_int_equal(att_server_ccc(f->srv, 0x03), 0);
}

/* /TP/GAN/SR/BV-01-C: notifications carry at most MTU-3 bytes. */
static void gan_sr_bv_01_c_notification(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX];

    att_pdu_expect(f->srv, PDU(0x12, 0x0d, 0x00, 0x01, 0x00), PDU(0x13));
    assert_int_equal(att_server_notify(f->srv, 0x0c, f->long_value, LONG_LEN, out, sizeof(out)), 23);
    assert_memory_equal(out, ((uint8_t[]){0x1b, 0x0c, 0x00}), 3);
    assert_memory_equal(out + 3, f->long_value, 20);
    /* Not for handles without a CCCD, nor into a buffer smaller than the MTU */
    assert_int_equal(att_server_notify(f->srv, 0x08, f->long_value, 1, out, sizeof(out)), -EINVAL);
    assert_int_equal(att_server_notify(f->srv, 0x99, f->long_value, 1, out, sizeof(out)), -EINVAL);
    assert_int_equal(att_server_notify(f->srv, 0x0c, f->long_value, 1, out, 22), -EINVAL);
    /* Subscribed to notifications only: no indication. */
    assert_int_equal(att_server_indicate(f->srv, 0x0c, f->long_value, 1, out, sizeof(out)), 0);

    att_pdu_expect(f->other, PDU(0x02, 0x05, 0x02), PDU(0x03, 0x05, 0x02));
    att_pdu_expect(f->other, PDU(0x12, 0x0d, 0x00, 0x01, 0x00), PDU(0x13));
    assert_int_equal(att_server_notify(f->other, 0x0c, f->long_value, LONG_LEN, out, sizeof(out)),
                     3 + LONG_LEN);
    assert_memory_equal(out + 3, f->long_value, LONG_LEN);
    assert_false(att_server_indication_pending(f->other));
}

/* /TP/GAI/SR/BV-01-C: one indication outstanding until its confirmation */
static void gai_sr_bv_01_c_indication(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX];
    const uint8_t v[] = {0x01, 0x00, 0xff, 0xff};

    assert_int_equal(att_server_indicate(f->srv, 0x0c, v, sizeof(v), out, sizeof(out)), 0);
    att_pdu_expect(f->srv, PDU(0x12, 0x0d, 0x00, 0x02, 0x00), PDU(0x13));
    assert_int_equal(att_server_notify(f->srv, 0x0c, v, sizeof(v), out, sizeof(out)), 0);
    assert_int_equal(att_server_indicate(f->srv, 0x0c, v, sizeof(v), out, sizeof(out)), 7);
    assert_memory_equal(out, ((uint8_t[]){0x1d, 0x0c, 0x00, 0x01, 0x00, 0xff, 0xff}), 7);
    assert_true(att_server_indication_pending(f->srv));
    assert_int_equal(att_server_indicate(f->srv, 0x0c, v, sizeof(v), out, sizeof(out)), -EBUSY);
    /* Requests go on while the indication is out. */
    att_pdu_expect(f->srv, PDU(0x0a, 0x03, 0x00), PDU(0x0b, 'p', 'r', 'o', 'v', 'd'));
    att_pdu_expect(f->srv, PDU(0x1e), NO_ANSWER);
    assert_false(att_server_indication_pending(f->srv));
    assert_int_equal(att_server_indicate(f->srv, 0x0c, v, sizeof(v), out, sizeof(out)), 7);
    /* A malformed or unexpected confirmation is dropped without an answer. */
    att_pdu_expect(f->srv, PDU(0x1e, 0x00), NO_ANSWER);
    assert_true(att_server_indication_pending(f->srv));
    att_pdu_expect(f->srv, PDU(0x1e), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x1e), NO_ANSWER);
    assert_false(att_server_indication_pending(f->srv));
}

/* --- Everything else ---------------------------------------------------------------- */

/* Unsupported requests get Request Not Supported; commands and server-bound PDUs are dropped. */
static void unsupported_and_ignored(void **state)
{
    struct fixture *f = *state;
    uint8_t out[ATT_MTU_MAX];

    /* Read Multiple Variable (5.2) and unknown opcodes */
    att_pdu_expect(f->srv, PDU(0x20, 0x03, 0x00, 0x05, 0x00), PDU(0x01, 0x20, 0x00, 0x00, 0x06));
    att_pdu_expect(f->srv, PDU(0x30), PDU(0x01, 0x30, 0x00, 0x00, 0x06));
    att_pdu_expect(f->srv, PDU(0x1f, 0x01), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x80, 0x01), PDU(0x01, 0x80, 0x00, 0x00, 0x06));
    /* Signed Write Command and unknown commands */
    att_pdu_expect(f->srv, PDU(0xd2, 0x0a, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x7f), NO_ANSWER);
    assert_int_equal(f->writes, 0);
    /* Responses, notifications and indications travel the other way. */
    att_pdu_expect(f->srv, PDU(0x01, 0x0a, 0x03, 0x00, 0x01), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x0b, 0x01), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x1b, 0x03, 0x00, 0x01), NO_ANSWER);
    att_pdu_expect(f->srv, PDU(0x1d, 0x03, 0x00, 0x01), NO_ANSWER);
    att_pdu_expect(f->srv, NULL, 0, NO_ANSWER);
    /* An answer buffer smaller than the MTU gets nothing. */
    assert_int_equal(att_server_handle(f->srv, PDU(0x0a, 0x03, 0x00), out, 22), 0);
}

/* Handle 0xFFFF is a handle like any other: range walks must not wrap past it. */
static void last_possible_handle(void **state)
{
    struct gatt_db *db = gatt_db_new();
    struct bt_uuid svc = bt_uuid16(0x1800);
    struct att_server *srv;

    (void)state;
    for (int i = 0; i < 0xffff; i++)
        gatt_db_add_service(db, &svc);
    assert_int_equal(gatt_db_last_handle(db), 0xffff);
    srv = att_server_new(db, NULL, ATT_MTU_MIN);
    att_pdu_expect(srv, PDU(0x04, 0xff, 0xff, 0xff, 0xff), PDU(0x05, 0x01, 0xff, 0xff, 0x00, 0x28));
    att_pdu_expect(srv, PDU(0x10, 0xfe, 0xff, 0xff, 0xff, 0x00, 0x28),
                   PDU(0x11, 0x06, 0xfe, 0xff, 0xfe, 0xff, 0x00, 0x18, 0xff, 0xff, 0xff, 0xff, 0x00, 0x18));
    att_pdu_expect(srv, PDU(0x06, 0xff, 0xff, 0xff, 0xff, 0x00, 0x28, 0x00, 0x18),
                   PDU(0x07, 0xff, 0xff, 0xff, 0xff));
    att_server_free(srv);
    gatt_db_free(db);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(gac_sr_bv_01_c_exchange_mtu),
        T(exchange_mtu_edges),
        T(gad_sr_bv_01_c_discover_all_primary_services),
        T(read_by_group_type_errors),
        T(gad_sr_bv_02_c_discover_primary_service_by_uuid),
        T(gad_sr_bv_04_c_discover_all_characteristics),
        T(gad_sr_bv_06_c_discover_all_descriptors),
        T(gar_sr_bv_01_c_read),
        T(gar_sr_bv_03_c_read_using_uuid),
        T(gar_sr_bv_04_c_read_long),
        T(gar_sr_bv_05_c_read_multiple),
        T(gaw_sr_bv_03_c_write),
        T(gaw_sr_bv_01_c_write_without_response),
        T(request_longer_than_mtu),
        T(gaw_sr_bv_05_c_write_long),
        T(write_long_two_handles),
        T(write_long_cancel),
        T(write_long_errors),
        T(prepare_queue_full),
        T(cccd_per_connection),
        T(gan_sr_bv_01_c_notification),
        T(gai_sr_bv_01_c_indication),
        T(unsupported_and_ignored),
        cmocka_unit_test(last_possible_handle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
