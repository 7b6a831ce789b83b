/* Tests of the HCI host state machine driven by canned controller events: the start-up
 * sequence, command credits and timeouts, ACL flow control with a 1-packet buffer, links. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "att_proto.h"
#include "bt_bytes.h"
#include "hci.h"
#include "hci_host.h"
#include "l2cap.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})
/* ATT Read Request for handle 5 (Battery Level) in an L2CAP frame on CID 4 */
#define READ_BATTERY BYTES(0x03, 0x00, 0x04, 0x00, 0x0a, 0x05, 0x00)
#define LONG_LEN     100
#define MAX_SENT     64
#define IDLE_MS      5000

struct fixture {
    struct gatt_db *db;
    struct hci_host *host;
    uint8_t long_value[LONG_LEN];
    uint8_t sent[MAX_SENT][HCI_MAX_PACKET];
    size_t sent_len[MAX_SENT];
    size_t n_sent, n_read; /* packets sent by the host, and taken by the test */
    char last_log[256];
    int n_logs;
    void *written_conn;      /* the conn pointer of the last write to handle 8 */
    void *disconnected_conn; /* and of the last link the host reported gone */
};

static int fake_send(void *user_data, const uint8_t *pkt, size_t len)
{
    struct fixture *f = user_data;

    assert_true(f->n_sent < MAX_SENT);
    memcpy(f->sent[f->n_sent], pkt, len);
    f->sent_len[f->n_sent++] = len;
    return 0;
}

static void fake_log(void *user_data, const char *line)
{
    struct fixture *f = user_data;

    snprintf(f->last_log, sizeof(f->last_log), "%s", line);
    f->n_logs++;
}

static void fake_disconnected(void *user_data, void *conn)
{
    ((struct fixture *)user_data)->disconnected_conn = conn;
}

static int record_conn(void *user_data, void *conn, const uint8_t *value, size_t len)
{
    (void)value;
    (void)len;
    ((struct fixture *)user_data)->written_conn = conn;
    return 0;
}

static const struct hci_host_ops ops = {
    .send = fake_send, .log = fake_log, .disconnected = fake_disconnected};

/* Database: 1 service 0x1800, 2 decl, 3 Device Name (100 bytes, long enough to fragment),
 * 4 decl, 5 Battery Level 0x2A19 (read, notify), 6 CCCD, 7 decl, 8 a writable value that
 * tells the test which conn pointer a link has. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct bt_uuid gap = bt_uuid16(0x1800);

    for (size_t i = 0; i < LONG_LEN; i++)
        f->long_value[i] = (uint8_t)i;
    f->db = gatt_db_new();
    assert_int_equal(gatt_db_add_service(f->db, &gap), 1);
    struct gatt_char_def name = {
        .uuid = bt_uuid16(0x2a00), .props = GATT_PROP_READ, .value = f->long_value, .value_len = LONG_LEN};
    assert_int_equal(gatt_db_add_char(f->db, &name), 3);
    static const uint8_t level = 42;
    struct gatt_char_def battery = {.uuid = bt_uuid16(0x2a19),
                                    .props = GATT_PROP_READ | GATT_PROP_NOTIFY,
                                    .value = &level,
                                    .value_len = 1};
    assert_int_equal(gatt_db_add_char(f->db, &battery), 5);
    struct gatt_char_def probe = {
        .uuid = bt_uuid16(0x2a3d), .props = GATT_PROP_WRITE, .write = record_conn, .user_data = f};
    assert_int_equal(gatt_db_add_char(f->db, &probe), 8);
    struct hci_host_config cfg = {.name = "gw",
                                  .uuids = &gap,
                                  .n_uuids = 1,
                                  .db = f->db,
                                  .cmd_timeout_ms = 1000,
                                  .idle_timeout_ms = IDLE_MS,
                                  .ops = &ops,
                                  .user_data = f};
    f->host = hci_host_new(&cfg);
    assert_non_null(f->host);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    hci_host_free(f->host);
    gatt_db_free(f->db);
    free(f);
    return 0;
}

/* The next packet the host sent, which must exist. */
static const uint8_t *next_sent(struct fixture *f, size_t *len)
{
    assert_true(f->n_read < f->n_sent);
    *len = f->sent_len[f->n_read];
    return f->sent[f->n_read++];
}

static void expect_cmd(struct fixture *f, uint16_t opcode)
{
    size_t len;
    const uint8_t *p = next_sent(f, &len);

    assert_true(len >= 4);
    assert_int_equal(p[0], H4_CMD);
    assert_int_equal(get_le16(p + 1), opcode);
}

static void expect_nothing(struct fixture *f)
{
    assert_int_equal(f->n_read, f->n_sent);
}

static void feed(struct fixture *f, const uint8_t *pkt, size_t len, uint64_t now)
{
    assert_int_equal(hci_host_input(f->host, pkt, len, now), 0);
}

/* Command Complete with ncmd credits and return parameters ret (status first). */
static void complete(struct fixture *f, uint8_t ncmd, uint16_t opcode, const uint8_t *ret, size_t ret_len)
{
    uint8_t ev[64] = {H4_EVT, HCI_EV_CMD_COMPLETE, (uint8_t)(3 + ret_len), ncmd};

    put_le16(ev + 4, opcode);
    if (ret_len)
        memcpy(ev + 6, ret, ret_len);
    feed(f, ev, 6 + ret_len, 0);
}

static void ok(struct fixture *f, uint16_t opcode)
{
    expect_cmd(f, opcode);
    complete(f, 1, opcode, BYTES(0x00));
}

/* Bluetooth 5.2 (HCI version 0x0b), manufacturer 63 */
static void read_version(struct fixture *f)
{
    expect_cmd(f, HCI_OP_READ_LOCAL_VERSION);
    complete(f, 1, HCI_OP_READ_LOCAL_VERSION, BYTES(0x00, 0x0b, 0x00, 0x00, 0x0b, 0x3f, 0x00, 0, 0));
    assert_string_equal(f->last_log, "controller: HCI version 11, manufacturer 63");
}

/* Starts the host and answers it up to Read Local Supported Features, which it has sent. */
static void start_to_features(struct fixture *f)
{
    assert_int_equal(hci_host_start(f->host, 0), 0);
    ok(f, HCI_OP_RESET);
    ok(f, HCI_OP_SET_EVENT_MASK);
    ok(f, HCI_OP_LE_SET_EVENT_MASK);
    read_version(f);
    expect_cmd(f, HCI_OP_READ_LOCAL_FEATURES);
}

/* Runs the start-up sequence to READY with an LE ACL buffer of acl_len x acl_count. */
static void bring_up(struct fixture *f, uint16_t acl_len, uint8_t acl_count)
{
    start_to_features(f);
    complete(f, 1, HCI_OP_READ_LOCAL_FEATURES, BYTES(0x00, 0, 0, 0, 0, 0x60, 0, 0, 0));
    expect_cmd(f, HCI_OP_READ_BD_ADDR);
    complete(f, 1, HCI_OP_READ_BD_ADDR, BYTES(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06));
    expect_cmd(f, HCI_OP_LE_READ_BUFFER_SIZE);
    complete(f, 1, HCI_OP_LE_READ_BUFFER_SIZE,
             BYTES(0x00, (uint8_t)acl_len, (uint8_t)(acl_len >> 8), acl_count));
    ok(f, HCI_OP_LE_SET_ADV_PARAMS);
    ok(f, HCI_OP_LE_SET_ADV_DATA);
    ok(f, HCI_OP_LE_SET_SCAN_RSP_DATA);
    assert_int_equal(hci_host_state(f->host), HCI_HOST_STARTING);
    ok(f, HCI_OP_LE_SET_ADV_ENABLE);
    assert_int_equal(hci_host_state(f->host), HCI_HOST_READY);
    assert_string_equal(f->last_log, "advertising as \"gw\"");
    expect_nothing(f);
}

/* LE Connection Complete as peripheral, peer 11:22:33:44:55:66 */
static void conn_complete(struct fixture *f, uint16_t handle)
{
    uint8_t ev[] = {H4_EVT,
                    HCI_EV_LE_META,
                    19,
                    HCI_LE_CONN_COMPLETE,
                    0x00,
                    (uint8_t)handle,
                    (uint8_t)(handle >> 8),
                    HCI_ROLE_PERIPHERAL,
                    0x00,
                    0x66,
                    0x55,
                    0x44,
                    0x33,
                    0x22,
                    0x11,
                    0x28,
                    0,
                    0,
                    0,
                    0x2a,
                    0,
                    0};

    feed(f, ev, sizeof(ev), 0);
}

static void connect(struct fixture *f, uint16_t handle)
{
    conn_complete(f, handle);
    /* It advertises again for a second central. */
    ok(f, HCI_OP_LE_SET_ADV_ENABLE);
}

/* Up with an LE ACL buffer of 27 x acl_count bytes, and one central on handle 0x0040. */
static void connected(struct fixture *f, uint8_t acl_count)
{
    bring_up(f, 27, acl_count);
    connect(f, 0x0040);
}

static void send_acl(struct fixture *f, uint16_t handle, const uint8_t *frame, size_t len)
{
    uint8_t pkt[HCI_MAX_PACKET];
    size_t n = hci_acl(handle, true, frame, len, pkt, sizeof(pkt));

    feed(f, pkt, n, 0);
}

/* READ_BATTERY from the peer on handle at now_ms, and the host's answer taken. */
static void read_battery_at(struct fixture *f, uint16_t handle, uint64_t now_ms)
{
    uint8_t pkt[HCI_MAX_PACKET];
    size_t len, n = hci_acl(handle, true, READ_BATTERY, pkt, sizeof(pkt));
    const uint8_t *rsp;

    feed(f, pkt, n, now_ms);
    rsp = next_sent(f, &len);
    assert_int_equal(rsp[0], H4_ACL);
    assert_int_equal(get_le16(rsp + 1) & 0x0fff, handle);
}

static void completed(struct fixture *f, uint16_t handle, uint16_t count)
{
    uint8_t ev[] = {
        H4_EVT,         HCI_EV_NUM_COMPLETED_PACKETS, 5, 1, (uint8_t)handle, (uint8_t)(handle >> 8),
        (uint8_t)count, (uint8_t)(count >> 8)};

    feed(f, ev, sizeof(ev), 0);
}

static void start_up_sequence(void **state)
{
    struct fixture *f = *state;
    size_t len;

    bring_up(f, 27, 3);
    assert_memory_equal(hci_host_address(f->host), ((uint8_t[]){1, 2, 3, 4, 5, 6}), 6);
    /* Set Event Mask: Disconnection Complete, Hardware Error, Data Buffer Overflow, LE Meta */
    const uint8_t *p = f->sent[1];

    assert_int_equal(f->sent_len[1], 12);
    assert_memory_equal(p + 4, ((uint8_t[]){0x10, 0x80, 0x00, 0x02, 0, 0, 0, 0x20}), 8);
    /* Advertising parameters: ADV_IND every 100 ms on all channels */
    p = f->sent[7];
    assert_int_equal(get_le16(p + 4), 0x00a0);
    assert_int_equal(p[8], 0x00);
    assert_int_equal(p[17], 0x07);
    /* Advertising data: the 32-byte parameter, flags then the 16-bit UUID list */
    p = f->sent[8];
    len = f->sent_len[8];
    assert_int_equal(len, 4 + 32);
    assert_memory_equal(p + 4, ((uint8_t[]){7, 0x02, 0x01, 0x06, 0x03, 0x03, 0x00, 0x18}), 8);
    /* Scan response: the complete name */
    assert_memory_equal(f->sent[9] + 4, ((uint8_t[]){4, 0x03, 0x09, 'g', 'w'}), 5);
}

/* An LE buffer size of 0 means "use the shared ACL buffers": Read Buffer Size follows. */
static void buffer_size_fallback(void **state)
{
    struct fixture *f = *state;

    start_to_features(f);
    complete(f, 1, HCI_OP_READ_LOCAL_FEATURES, BYTES(0x00, 0, 0, 0, 0, 0x40, 0, 0, 0));
    expect_cmd(f, HCI_OP_READ_BD_ADDR);
    /* An answer too short for its fields is an error, not a read past the end. */
    assert_int_equal(hci_host_input(f->host, BYTES(0x04, 0x0e, 0x06, 0x01, 0x09, 0x10, 0x00, 0x01, 0x02), 0),
                     -EPROTO);
    assert_string_equal(hci_host_error(f->host), "HCI command Read BD_ADDR: short answer");
    /* and the same with a whole address */
    start_to_features(f);
    complete(f, 1, HCI_OP_READ_LOCAL_FEATURES, BYTES(0x00, 0, 0, 0, 0, 0x40, 0, 0, 0));
    expect_cmd(f, HCI_OP_READ_BD_ADDR);
    complete(f, 1, HCI_OP_READ_BD_ADDR, BYTES(0x00, 1, 2, 3, 4, 5, 6));
    expect_cmd(f, HCI_OP_LE_READ_BUFFER_SIZE);
    complete(f, 1, HCI_OP_LE_READ_BUFFER_SIZE, BYTES(0x00, 0x00, 0x00, 0x00));
    expect_cmd(f, HCI_OP_READ_BUFFER_SIZE);
    complete(f, 1, HCI_OP_READ_BUFFER_SIZE, BYTES(0x00, 0xfd, 0x03, 0x40, 0x08, 0x00, 0, 0));
    assert_string_equal(f->last_log, "controller: ACL buffers 8 x 1021 bytes");
    expect_cmd(f, HCI_OP_LE_SET_ADV_PARAMS);
}

/* With Num_HCI_Command_Packets 0 the host waits for a credit before the next command. */
static void command_credits(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(hci_host_start(f->host, 0), 0);
    expect_cmd(f, HCI_OP_RESET);
    complete(f, 0, HCI_OP_RESET, BYTES(0x00));
    expect_nothing(f);
    /* A credit-only Command Complete (opcode 0x0000) */
    complete(f, 1, 0x0000, NULL, 0);
    expect_cmd(f, HCI_OP_SET_EVENT_MASK);
    /* An answer to a command not outstanding changes nothing else. */
    complete(f, 1, HCI_OP_RESET, BYTES(0x00));
    expect_nothing(f);
    complete(f, 1, HCI_OP_SET_EVENT_MASK, BYTES(0x00));
    expect_cmd(f, HCI_OP_LE_SET_EVENT_MASK);
}

static void command_timeout(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(hci_host_start(f->host, 5000), 0);
    expect_cmd(f, HCI_OP_RESET);
    assert_int_equal(hci_host_timeout_ms(f->host, 5400), 600);
    assert_int_equal(hci_host_tick(f->host, 5999), 0);
    assert_int_equal(hci_host_tick(f->host, 6000), -ETIMEDOUT);
    assert_int_equal(hci_host_state(f->host), HCI_HOST_FAILED);
    assert_string_equal(hci_host_error(f->host), "HCI command Reset (0x0c03) timed out after 1000 ms");
    assert_int_equal(hci_host_input(f->host, BYTES(0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00), 0), -EIO);
}

static void command_failure_named(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(hci_host_start(f->host, 0), 0);
    ok(f, HCI_OP_RESET);
    expect_cmd(f, HCI_OP_SET_EVENT_MASK);
    assert_int_equal(hci_host_input(f->host, BYTES(0x04, 0x0e, 0x04, 0x01, 0x01, 0x0c, 0x12), 0), -EIO);
    assert_string_equal(hci_host_error(f->host), "HCI command Set Event Mask (0x0c01) failed: status 0x12");
}

static void no_le_support(void **state)
{
    struct fixture *f = *state;

    start_to_features(f);
    assert_int_equal(
        hci_host_input(f->host,
                       BYTES(0x04, 0x0e, 0x0c, 0x01, 0x03, 0x10, 0x00, 0xff, 0xff, 0xff, 0xff, 0xbf, 0, 0, 0),
                       0),
        -ENOTSUP);
    assert_string_equal(hci_host_error(f->host), "the controller does not support Bluetooth LE");
}

/* A 101-byte Read Response (105-byte frame) leaves in 27-byte ACL packets, one at a time. */
static void flow_control_one_packet(void **state)
{
    struct fixture *f = *state;
    struct l2cap_rx *rx = l2cap_rx_new(ATT_MTU_MAX);
    uint16_t handle, cid;
    bool start;
    const uint8_t *data;
    size_t len, dlen;
    int pushed = 0;

    connected(f, 1);
    /* Exchange MTU 517, then Read Request for handle 3 */
    send_acl(f, 0x0040, BYTES(0x03, 0x00, 0x04, 0x00, 0x02, 0x05, 0x02));
    const uint8_t *p = next_sent(f, &len);
    assert_memory_equal(
        p, ((uint8_t[]){0x02, 0x40, 0x00, 0x07, 0x00, 0x03, 0x00, 0x04, 0x00, 0x03, 0x05, 0x02}), 12);
    send_acl(f, 0x0040, BYTES(0x03, 0x00, 0x04, 0x00, 0x0a, 0x03, 0x00));
    /* Nothing until the MTU response is completed */
    expect_nothing(f);
    completed(f, 0x0040, 1);
    for (int i = 0; i < 4; i++) {
        p = next_sent(f, &len);
        expect_nothing(f);
        assert_int_equal(hci_acl_parse(p, len, &handle, &start, &data, &dlen), 0);
        assert_int_equal(handle, 0x40);
        assert_int_equal(start, i == 0);
        assert_int_equal(dlen, i < 3 ? 27 : 105 - 81);
        pushed = l2cap_rx_push(rx, start, data, dlen);
        completed(f, 0x0040, 1);
    }
    expect_nothing(f);
    assert_int_equal(pushed, 1);
    data = l2cap_rx_frame(rx, &dlen, &cid);
    assert_int_equal(cid, L2CAP_CID_ATT);
    assert_int_equal(dlen, 1 + LONG_LEN);
    assert_int_equal(data[0], ATT_OP_READ_RSP);
    assert_memory_equal(data + 1, f->long_value, LONG_LEN);
    /* Counts for a handle never used are ignored, and grant nothing. */
    send_acl(f, 0x0040, READ_BATTERY);
    next_sent(f, &len);
    send_acl(f, 0x0040, READ_BATTERY);
    completed(f, 0x0099, 1);
    expect_nothing(f);
    l2cap_rx_free(rx);
}

/* A disconnection frees the buffer its packet held and restarts advertising. */
static void disconnect_reclaims_and_readvertises(void **state)
{
    struct fixture *f = *state;
    size_t len;

    connected(f, 1);
    /* The second link: this controller cannot advertise while connected twice. */
    conn_complete(f, 0x0041);
    expect_cmd(f, HCI_OP_LE_SET_ADV_ENABLE);
    complete(f, 1, HCI_OP_LE_SET_ADV_ENABLE, BYTES(0x0c));
    assert_string_equal(f->last_log, "HCI command LE Set Advertising Enable refused (status 0x0c)");
    assert_int_equal(hci_host_connections(f->host), 2);
    /* 0x0040 takes the only buffer; 0x0041's answer waits. */
    send_acl(f, 0x0040, READ_BATTERY);
    next_sent(f, &len);
    send_acl(f, 0x0041, READ_BATTERY);
    expect_nothing(f);
    feed(f, BYTES(0x04, 0x05, 0x04, 0x00, 0x40, 0x00, 0x13), 0);
    assert_string_equal(f->last_log, "disconnected: handle 0x040, reason 0x13");
    assert_int_equal(hci_host_connections(f->host), 1);
    /* 0x0041's Read Response (Battery Level 42) goes out at once, then advertising resumes. */
    const uint8_t *p = next_sent(f, &len);
    assert_memory_equal(p, ((uint8_t[]){0x02, 0x41, 0x00, 0x06, 0x00, 0x02, 0x00, 0x04, 0x00, 0x0b, 42}), 11);
    ok(f, HCI_OP_LE_SET_ADV_ENABLE);
    expect_nothing(f);
}

/* Every slot taken: advertising stays off. A link without an ATT request for IDLE_MS is
 * disconnected (once), and advertising resumes as soon as its slot is free. */
static void idle_link_disconnected(void **state)
{
    struct fixture *f = *state;
    size_t len;

    connected(f, HCI_HOST_MAX_CONNS);
    connect(f, 0x0041);
    connect(f, 0x0042);
    conn_complete(f, 0x0043);
    assert_int_equal(hci_host_connections(f->host), HCI_HOST_MAX_CONNS);
    expect_nothing(f);
    /* The links came up at time 0; the first may idle until IDLE_MS. */
    assert_int_equal(hci_host_timeout_ms(f->host, 0), IDLE_MS + 1);
    for (uint16_t handle = 0x0041; handle <= 0x0043; handle++)
        read_battery_at(f, handle, 4000);
    assert_int_equal(hci_host_tick(f->host, IDLE_MS), 0);
    expect_nothing(f);
    assert_int_equal(hci_host_tick(f->host, IDLE_MS + 1), 0);
    assert_string_equal(f->last_log, "idle: handle 0x040 sent no ATT request for 5000 ms: disconnecting");
    const uint8_t *p = next_sent(f, &len);
    assert_memory_equal(p, ((uint8_t[]){0x01, 0x06, 0x04, 0x03, 0x40, 0x00, 0x13}), 7);
    /* Asked once; the others' ATT requests moved their deadline to 4000 + IDLE_MS. */
    feed(f, BYTES(0x04, 0x0f, 0x04, 0x00, 0x01, 0x06, 0x04), IDLE_MS + 2);
    assert_int_equal(hci_host_tick(f->host, IDLE_MS + 1000), 0);
    expect_nothing(f);
    assert_int_equal(hci_host_timeout_ms(f->host, IDLE_MS + 1000), 4000 + IDLE_MS - (IDLE_MS + 1000));
    feed(f, BYTES(0x04, 0x05, 0x04, 0x00, 0x40, 0x00, 0x16), IDLE_MS + 1000);
    assert_string_equal(f->last_log, "disconnected: handle 0x040, reason 0x16");
    ok(f, HCI_OP_LE_SET_ADV_ENABLE);
    expect_nothing(f);
}

static void signalling_and_smp(void **state)
{
    struct fixture *f = *state;
    size_t len;

    connected(f, 4);
    /* Connection Parameter Update Request, identifier 7: answered "rejected" */
    send_acl(f, 0x0040,
             BYTES(0x0c, 0x00, 0x05, 0x00, 0x12, 0x07, 0x08, 0x00, 0x06, 0x00, 0x0c, 0x00, 0x00, 0x00, 0xc8,
                   0x00));
    const uint8_t *p = next_sent(f, &len);
    assert_int_equal(len, 5 + 4 + 6);
    assert_memory_equal(p + 5, ((uint8_t[]){0x06, 0x00, 0x05, 0x00, 0x13, 0x07, 0x02, 0x00, 0x01, 0x00}), 10);
    /* SMP Pairing Request: Pairing Failed, Pairing Not Supported */
    send_acl(f, 0x0040, BYTES(0x07, 0x00, 0x06, 0x00, 0x01, 0x03, 0x00, 0x01, 0x10, 0x07, 0x07));
    p = next_sent(f, &len);
    assert_memory_equal(p + 5, ((uint8_t[]){0x02, 0x00, 0x06, 0x00, 0x05, 0x05}), 6);
    /* ACL for an unknown handle and malformed packets are dropped. */
    send_acl(f, 0x0077, READ_BATTERY);
    feed(f, BYTES(0x02, 0x40, 0x00, 0x09, 0x00, 0x01), 0);
    feed(f, BYTES(0x04, 0x3e, 0x01), 0);
    expect_nothing(f);
}

static void notify_subscribers(void **state)
{
    struct fixture *f = *state;
    size_t len;

    connected(f, 4);
    assert_int_equal(hci_host_notify(f->host, 5, BYTES(55)), 0);
    /* Write Request: CCCD (handle 6) = notify */
    send_acl(f, 0x0040, BYTES(0x05, 0x00, 0x04, 0x00, 0x12, 0x06, 0x00, 0x01, 0x00));
    const uint8_t *p = next_sent(f, &len);
    assert_int_equal(p[9], ATT_OP_WRITE_RSP);
    assert_int_equal(hci_host_notify(f->host, 5, BYTES(55)), 1);
    p = next_sent(f, &len);
    assert_memory_equal(p + 5, ((uint8_t[]){0x04, 0x00, 0x04, 0x00, 0x1b, 0x05, 0x00, 55}), 8);
}

/* Subscribes the link to Battery Level and returns its conn pointer (from a write to 8). */
static void *subscribed_link(struct fixture *f, uint16_t handle)
{
    size_t len;

    send_acl(f, handle, BYTES(0x05, 0x00, 0x04, 0x00, 0x12, 0x06, 0x00, 0x01, 0x00));
    assert_int_equal(next_sent(f, &len)[9], ATT_OP_WRITE_RSP);
    send_acl(f, handle, BYTES(0x04, 0x00, 0x04, 0x00, 0x12, 0x08, 0x00, 0x01));
    assert_int_equal(next_sent(f, &len)[9], ATT_OP_WRITE_RSP);
    return f->written_conn;
}

/* A notification for one link only (a Telemetry Result), and the link's end reported. */
static void notify_one_link(void **state)
{
    struct fixture *f = *state;
    size_t len;
    int other;

    connected(f, 8);
    connect(f, 0x0041);
    void *first = subscribed_link(f, 0x0040), *second = subscribed_link(f, 0x0041);

    assert_ptr_not_equal(first, second);
    assert_int_equal(hci_host_notify_conn(f->host, second, 5, BYTES(56)), 1);
    const uint8_t *p = next_sent(f, &len);
    assert_memory_equal(
        p, ((uint8_t[]){0x02, 0x41, 0x00, 0x08, 0x00, 0x04, 0x00, 0x04, 0x00, 0x1b, 0x05, 0x00, 56}), 13);
    expect_nothing(f);
    assert_int_equal(hci_host_notify_conn(f->host, &other, 5, BYTES(56)), 0);
    expect_nothing(f);
    /* 0x0041 goes: the host says so, and nothing is sent to it any more */
    feed(f, BYTES(0x04, 0x05, 0x04, 0x00, 0x41, 0x00, 0x13), 0);
    assert_ptr_equal(f->disconnected_conn, second);
    assert_int_equal(hci_host_notify_conn(f->host, second, 5, BYTES(57)), 0);
    expect_nothing(f);
}

/* A second link reported with a handle in use is refused, and the first one kept. */
static void duplicate_handle_refused(void **state)
{
    struct fixture *f = *state;

    connected(f, 1);
    conn_complete(f, 0x0040);
    assert_string_equal(f->last_log, "refused a connection: handle already in use (handle 0x040)");
    size_t len;
    const uint8_t *p = next_sent(f, &len);

    assert_memory_equal(p, ((uint8_t[]){0x01, 0x06, 0x04, 0x03, 0x40, 0x00, 0x13}), 7);
    assert_int_equal(hci_host_connections(f->host), 1);
}

static void hardware_error_restarts(void **state)
{
    struct fixture *f = *state;

    connected(f, 1);
    feed(f, BYTES(0x04, 0x10, 0x01, 0x03), 0);
    assert_int_equal(hci_host_state(f->host), HCI_HOST_STARTING);
    assert_int_equal(hci_host_connections(f->host), 0);
    expect_cmd(f, HCI_OP_RESET);
    f->n_read = f->n_sent = 0;
    complete(f, 1, HCI_OP_RESET, BYTES(0x00));
    expect_cmd(f, HCI_OP_SET_EVENT_MASK);
}

static void shutdown_disconnects(void **state)
{
    struct fixture *f = *state;

    connected(f, 1);
    assert_int_equal(hci_host_shutdown(f->host, 0), 0);
    assert_int_equal(hci_host_state(f->host), HCI_HOST_STOPPING);
    ok(f, HCI_OP_LE_SET_ADV_ENABLE);
    size_t len;
    const uint8_t *p = next_sent(f, &len);
    assert_memory_equal(p, ((uint8_t[]){0x01, 0x06, 0x04, 0x03, 0x40, 0x00, 0x15}), 7);
    feed(f, BYTES(0x04, 0x0f, 0x04, 0x00, 0x01, 0x06, 0x04), 0);
    assert_int_equal(hci_host_state(f->host), HCI_HOST_STOPPING);
    feed(f, BYTES(0x04, 0x05, 0x04, 0x00, 0x40, 0x00, 0x16), 0);
    assert_int_equal(hci_host_state(f->host), HCI_HOST_STOPPED);
    assert_string_equal(f->last_log, "adapter released");
    /* No advertising restarts after the last peer leaves. */
    expect_nothing(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(start_up_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(buffer_size_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(command_credits, setup, teardown),
        cmocka_unit_test_setup_teardown(command_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(command_failure_named, setup, teardown),
        cmocka_unit_test_setup_teardown(no_le_support, setup, teardown),
        cmocka_unit_test_setup_teardown(flow_control_one_packet, setup, teardown),
        cmocka_unit_test_setup_teardown(disconnect_reclaims_and_readvertises, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_link_disconnected, setup, teardown),
        cmocka_unit_test_setup_teardown(signalling_and_smp, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_subscribers, setup, teardown),
        cmocka_unit_test_setup_teardown(notify_one_link, setup, teardown),
        cmocka_unit_test_setup_teardown(duplicate_handle_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(hardware_error_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(shutdown_disconnects, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
