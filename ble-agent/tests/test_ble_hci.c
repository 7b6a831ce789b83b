/* Tests of the HCI codec (H4 framing, command and ACL builders, event parsing) and of the
 * advertising payload builder, from byte-exact packets as a controller sends them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "adv_data.h"
#include "hci.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void h4_framing(void **state)
{
    (void)state;
    /* Command Complete for Reset: 04 0e 04 01 03 0c 00 */
    assert_int_equal(h4_packet_len(BYTES(0x04)), 0);
    assert_int_equal(h4_packet_len(BYTES(0x04, 0x0e)), 0);
    assert_int_equal(h4_packet_len(BYTES(0x04, 0x0e, 0x04)), 7);
    /* ACL: the length is 16 bits after the handle */
    assert_int_equal(h4_packet_len(BYTES(0x02, 0x40, 0x00, 0x07)), 0);
    assert_int_equal(h4_packet_len(BYTES(0x02, 0x40, 0x00, 0x07, 0x00)), 12);
    assert_int_equal(h4_packet_len(BYTES(0x01, 0x03, 0x0c, 0x00)), 4);
    assert_int_equal(h4_packet_len(BYTES(0x03, 0x01, 0x00, 0x30)), 52);
    /* ISO: 14-bit length, flags above it ignored */
    assert_int_equal(h4_packet_len(BYTES(0x05, 0x01, 0x00, 0x10, 0xc0)), 21);
    assert_int_equal(h4_packet_len(BYTES(0x00, 0x01)), -EPROTO);
    assert_int_equal(h4_packet_len(BYTES(0x07)), -EPROTO);
    /* An ACL packet past the bound is refused before any byte of it is buffered. */
    assert_int_equal(h4_packet_len(BYTES(0x02, 0x40, 0x00, 0x01, 0x04)), -EMSGSIZE);
    assert_int_equal(h4_packet_len(BYTES(0x02, 0x40, 0x00, 0x00, 0x04)), 5 + 1024);
}

static void command_builder(void **state)
{
    uint8_t out[8];

    (void)state;
    assert_int_equal(hci_cmd(HCI_OP_RESET, NULL, 0, out, sizeof(out)), 4);
    assert_memory_equal(out, ((uint8_t[]){0x01, 0x03, 0x0c, 0x00}), 4);
    assert_int_equal(hci_cmd(HCI_OP_LE_SET_ADV_ENABLE, BYTES(0x01), out, sizeof(out)), 5);
    assert_memory_equal(out, ((uint8_t[]){0x01, 0x0a, 0x20, 0x01, 0x01}), 5);
    /* Does not fit */
    assert_int_equal(hci_cmd(HCI_OP_LE_SET_ADV_ENABLE, BYTES(1, 2, 3, 4, 5), out, sizeof(out)), 0);
    assert_string_equal(hci_opcode_name(HCI_OP_LE_READ_BUFFER_SIZE), "LE Read Buffer Size");
    assert_string_equal(hci_opcode_name(0xfc01), "unknown");
}

static void acl_round_trip(void **state)
{
    uint8_t out[16];
    uint16_t handle;
    bool start;
    const uint8_t *data;
    size_t len;

    (void)state;
    assert_int_equal(hci_acl(0x0040, true, BYTES(0xaa, 0xbb), out, sizeof(out)), 7);
    assert_memory_equal(out, ((uint8_t[]){0x02, 0x40, 0x00, 0x02, 0x00, 0xaa, 0xbb}), 7);
    assert_int_equal(hci_acl(0x0040, false, BYTES(0xcc), out, sizeof(out)), 6);
    assert_memory_equal(out, ((uint8_t[]){0x02, 0x40, 0x10, 0x01, 0x00, 0xcc}), 6);
    assert_int_equal(hci_acl_parse(out, 6, &handle, &start, &data, &len), 0);
    assert_int_equal(handle, 0x40);
    assert_false(start);
    assert_int_equal(len, 1);
    assert_int_equal(data[0], 0xcc);
    /* Boundary flag 0b10 (flushable start, as controllers send) starts a frame. */
    assert_int_equal(hci_acl_parse(BYTES(0x02, 0x41, 0x20, 0x01, 0x00, 0x05), &handle, &start, &data, &len),
                     0);
    assert_int_equal(handle, 0x41);
    assert_true(start);
    /* Length field disagreeing with the packet */
    assert_int_equal(hci_acl_parse(BYTES(0x02, 0x41, 0x20, 0x02, 0x00, 0x05), &handle, &start, &data, &len),
                     -EPROTO);
    assert_int_equal(hci_acl_parse(BYTES(0x02, 0x41, 0x20, 0x00), &handle, &start, &data, &len), -EPROTO);
}

static void parse_command_events(void **state)
{
    struct hci_event ev;

    (void)state;
    /* Command Complete, LE Read Buffer Size: 1 credit, status 0, 27 bytes x 3 */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x0e, 0x07, 0x01, 0x02, 0x20, 0x00, 0x1b, 0x00, 0x03), &ev),
                     0);
    assert_int_equal(ev.code, HCI_EV_CMD_COMPLETE);
    assert_int_equal(ev.cmd_complete.ncmd, 1);
    assert_int_equal(ev.cmd_complete.opcode, HCI_OP_LE_READ_BUFFER_SIZE);
    assert_int_equal(ev.cmd_complete.ret_len, 4);
    assert_memory_equal(ev.cmd_complete.ret, ((uint8_t[]){0x00, 0x1b, 0x00, 0x03}), 4);
    /* Command Status for Disconnect: status 0x0c, 1 credit */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x0f, 0x04, 0x0c, 0x01, 0x06, 0x04), &ev), 0);
    assert_int_equal(ev.cmd_status.status, 0x0c);
    assert_int_equal(ev.cmd_status.opcode, HCI_OP_DISCONNECT);
    /* Too short for its fields, or a length byte that lies */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x0e, 0x02, 0x01, 0x03), &ev), -EPROTO);
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x0f, 0x03, 0x00, 0x01, 0x06), &ev), -EPROTO);
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x0e, 0x05, 0x01, 0x03, 0x0c, 0x00), &ev), -EPROTO);
    assert_int_equal(hci_event_parse(BYTES(0x02, 0x0e, 0x00), &ev), -EPROTO);
    /* Unknown events parse to their code */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0xff, 0x01, 0x00), &ev), 0);
    assert_int_equal(ev.code, 0xff);
}

static void parse_link_events(void **state)
{
    struct hci_event ev;
    uint16_t handle, count;

    (void)state;
    /* Disconnection Complete: handle 0x0040, reason 0x13 */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x05, 0x04, 0x00, 0x40, 0x00, 0x13), &ev), 0);
    assert_int_equal(ev.disconn.handle, 0x40);
    assert_int_equal(ev.disconn.reason, 0x13);
    /* Number Of Completed Packets, two handles */
    assert_int_equal(
        hci_event_parse(BYTES(0x04, 0x13, 0x09, 0x02, 0x40, 0x00, 0x01, 0x00, 0x41, 0x00, 0x03, 0x00), &ev),
        0);
    assert_int_equal(ev.completed.num_handles, 2);
    hci_event_completed(&ev, 1, &handle, &count);
    assert_int_equal(handle, 0x41);
    assert_int_equal(count, 3);
    /* It claims two handles but carries one */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x13, 0x05, 0x02, 0x40, 0x00, 0x01, 0x00), &ev), -EPROTO);
    /* Hardware Error */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x10, 0x01, 0x2a), &ev), 0);
    assert_int_equal(ev.hw_error, 0x2a);
}

static void parse_le_events(void **state)
{
    struct hci_event ev;

    (void)state;
    /* LE Connection Complete: handle 0x0042 peripheral, peer public 11:22:33:44:55:66,
     * interval 0x0028, latency 0, timeout 0x002a */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x3e, 0x13, 0x01, 0x00, 0x42, 0x00, 0x01, 0x00, 0x66, 0x55,
                                           0x44, 0x33, 0x22, 0x11, 0x28, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00),
                                     &ev),
                     0);
    assert_int_equal(ev.le_subevent, HCI_LE_CONN_COMPLETE);
    assert_int_equal(ev.le_conn.handle, 0x42);
    assert_int_equal(ev.le_conn.role, HCI_ROLE_PERIPHERAL);
    assert_memory_equal(ev.le_conn.peer, ((uint8_t[]){0x66, 0x55, 0x44, 0x33, 0x22, 0x11}), 6);
    assert_int_equal(ev.le_conn.interval, 0x28);
    assert_int_equal(ev.le_conn.supervision_timeout, 0x2a);
    /* Enhanced: the interval comes after two resolvable addresses */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x3e, 0x1f, 0x0a, 0x00, 0x43, 0x00, 0x01, 0x00, 0x66, 0x55,
                                           0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x18,
                                           0x00, 0x00, 0x00, 0x48, 0x00, 0x00),
                                     &ev),
                     0);
    assert_int_equal(ev.le_conn.handle, 0x43);
    assert_int_equal(ev.le_conn.interval, 0x18);
    assert_int_equal(ev.le_conn.supervision_timeout, 0x48);
    /* Truncated connection complete */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x3e, 0x05, 0x01, 0x00, 0x42, 0x00, 0x01), &ev), -EPROTO);
    /* Advertising report: one ADV_IND with flags */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x3e, 0x0f, 0x02, 0x01, 0x00, 0x00, 0x06, 0x05, 0x04, 0x03,
                                           0x02, 0x01, 0x03, 0x02, 0x01, 0x06, 0xc8),
                                     &ev),
                     0);
    assert_int_equal(ev.adv_report.type, 0x00);
    assert_int_equal(ev.adv_report.data_len, 3);
    assert_memory_equal(ev.adv_report.data, ((uint8_t[]){0x02, 0x01, 0x06}), 3);
    /* Data length past the event */
    assert_int_equal(hci_event_parse(BYTES(0x04, 0x3e, 0x0d, 0x02, 0x01, 0x00, 0x00, 0x06, 0x05, 0x04, 0x03,
                                           0x02, 0x01, 0x09, 0x02, 0x01),
                                     &ev),
                     -EPROTO);
}

static void adv_payloads(void **state)
{
    struct bt_uuid uuids[3];
    struct adv_data adv;
    size_t len;

    (void)state;
    assert_int_equal(bt_uuid_parse(&uuids[0], "2c8e0001-d233-4303-b2c5-87adc4ee163f"), 0);
    uuids[1] = bt_uuid16(0x180f);
    uuids[2] = bt_uuid16(0x180a);
    adv_data_build(&adv, "gw", uuids, 3);
    assert_int_equal(adv.adv_len, 3 + 18 + 6);
    assert_memory_equal(adv.adv, ((uint8_t[]){0x02, 0x01, 0x06, 0x11, 0x07}), 5);
    assert_memory_equal(adv.adv + 5, uuids[0].le, 16);
    assert_memory_equal(adv.adv + 21, ((uint8_t[]){0x05, 0x03, 0x0f, 0x18, 0x0a, 0x18}), 6);
    assert_int_equal(adv.scan_rsp_len, 4);
    assert_memory_equal(adv.scan_rsp, ((uint8_t[]){0x03, 0x09, 'g', 'w'}), 4);
    const uint8_t *name = adv_data_find(adv.scan_rsp, adv.scan_rsp_len, AD_NAME_COMPLETE, &len);
    assert_non_null(name);
    assert_int_equal(len, 2);
    assert_null(adv_data_find(adv.adv, adv.adv_len, AD_NAME_COMPLETE, &len));
    /* Two 128-bit UUIDs do not fit with the flags: the list is marked incomplete. */
    uuids[1] = uuids[0];
    adv_data_build(&adv, "gw", uuids, 2);
    assert_int_equal(adv.adv[4], AD_UUID128_SOME);
    assert_int_equal(adv.adv_len, 21);
    /* A long name is shortened without cutting the 2-byte "é" at bytes 28..29. */
    adv_data_build(&adv, "abcdefghijklmnopqrstuvwxyz01\xc3\xa9xyz", NULL, 0);
    assert_int_equal(adv.scan_rsp[1], AD_NAME_SHORT);
    assert_int_equal(adv.scan_rsp_len, 2 + 28);
    /* A field running past the payload ends the search. */
    assert_null(adv_data_find(BYTES(0x05, 0x09, 'a'), AD_NAME_COMPLETE, &len));
    assert_null(adv_data_find(BYTES(0x00, 0x09), AD_NAME_COMPLETE, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(h4_framing),        cmocka_unit_test(command_builder),
        cmocka_unit_test(acl_round_trip),    cmocka_unit_test(parse_command_events),
        cmocka_unit_test(parse_link_events), cmocka_unit_test(parse_le_events),
        cmocka_unit_test(adv_payloads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
