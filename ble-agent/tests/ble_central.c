/* Test central for the emulator test: speaks HCI over a btvirt socket, scans for ble-agent,
 * connects and runs ATT against it, then prints what it saw as one JSON object for the test.
 * usage: ble-central SOCKET NAME BATTERY_FILE [--frame FILE]... [--hold] [--sensor [--peek]]
 * --frame: a Telemetry In value to write; the central waits for the Telemetry Result
 * notification and reads the result (in the order given).
 * --hold: after the ATT exchange, print the JSON line, keep the link and report the reason
 * the peripheral gives when it disconnects.
 * --sensor: behave as a battery-powered sensor instead: Exchange MTU, write the frames one after
 * the other (each a Write Request awaiting its answer) and disconnect at once; with --peek,
 * read Telemetry Result after each write. Prints {"mtu":N,"telemetry":[...]}; with --hold it
 * then stays connected, asking nothing, as --hold does. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adv_data.h"
#include "att_proto.h"
#include "bt_bytes.h"
#include "bt_uuid.h"
#include "hci.h"
#include "hci_transport.h"
#include "l2cap.h"
#include "services.h"

enum { WAIT_MS = 5000, MAX_SERVICES = 16, MAX_FRAMES = 8 };

struct central {
    struct hci_transport *t;
    struct l2cap_rx *rx;
    uint16_t acl_mtu;
    unsigned acl_credits;
    /* the command awaiting its answer, and that answer */
    uint16_t waiting_opcode;
    bool cmd_done;
    uint8_t ret[64];
    size_t ret_len;
    /* advertising seen from the peer named `name` */
    const char *name;
    bool found, adv_ind_seen;
    uint8_t peer[HCI_ADDR_LEN], peer_type;
    bool adv_has_gateway_uuid;
    bool adv_name_complete;
    /* link */
    uint16_t handle;
    bool connected, disconnected;
    uint8_t disconnect_reason;
    /* ATT: last response and last notification */
    uint8_t rsp[ATT_MTU_MAX];
    size_t rsp_len;
    bool have_rsp;
    uint8_t ntf[ATT_MTU_MAX];
    size_t ntf_len;
    bool have_ntf;
    /* Telemetry In values to write */
    const char *frames[MAX_FRAMES];
    size_t n_frames;
};

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("ble-central: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether a scan response names c->name: completely, or shortened to a prefix of it. */
static bool names_us(struct central *c, const struct hci_adv_report *r)
{
    size_t len;
    const uint8_t *name = adv_data_find(r->data, r->data_len, AD_NAME_COMPLETE, &len);

    if (name) {
        c->adv_name_complete = true;
        return len == strlen(c->name) && !memcmp(name, c->name, len);
    }
    name = adv_data_find(r->data, r->data_len, AD_NAME_SHORT, &len);
    c->adv_name_complete = false;
    return name && len < strlen(c->name) && !memcmp(name, c->name, len);
}

static void on_adv(struct central *c, const struct hci_adv_report *r)
{
    size_t len;
    const uint8_t *uuids = adv_data_find(r->data, r->data_len, AD_UUID128_ALL, &len);
    struct bt_uuid gw;

    bt_uuid_parse(&gw, SERVICES_GATEWAY_UUID);
    /* ADV_IND (0) carries flags and UUIDs; SCAN_RSP (4) the name. */
    if (r->type == 0x00 && uuids && len == 16 && !memcmp(uuids, gw.le, 16)) {
        c->adv_has_gateway_uuid = true;
        c->adv_ind_seen = true;
        memcpy(c->peer, r->addr, HCI_ADDR_LEN);
        c->peer_type = r->addr_type;
    }
    if (r->type == 0x04 && c->adv_ind_seen && !memcmp(r->addr, c->peer, HCI_ADDR_LEN) && names_us(c, r))
        c->found = true;
}

static void on_event(struct central *c, const uint8_t *pkt, size_t len)
{
    struct hci_event ev;

    if (hci_event_parse(pkt, len, &ev) < 0)
        die("malformed event 0x%02x", len > 1 ? pkt[1] : 0);
    switch (ev.code) {
    case HCI_EV_CMD_COMPLETE:
        if (ev.cmd_complete.opcode != c->waiting_opcode)
            break;
        c->cmd_done = true;
        c->ret_len = ev.cmd_complete.ret_len < sizeof(c->ret) ? ev.cmd_complete.ret_len : sizeof(c->ret);
        memcpy(c->ret, ev.cmd_complete.ret, c->ret_len);
        break;
    case HCI_EV_CMD_STATUS:
        if (ev.cmd_status.opcode != c->waiting_opcode)
            break;
        c->cmd_done = true;
        c->ret[0] = ev.cmd_status.status;
        c->ret_len = 1;
        break;
    case HCI_EV_NUM_COMPLETED_PACKETS:
        for (size_t i = 0; i < ev.completed.num_handles; i++) {
            uint16_t h, n;

            hci_event_completed(&ev, i, &h, &n);
            c->acl_credits += n;
        }
        break;
    case HCI_EV_DISCONN_COMPLETE:
        c->disconnected = true;
        c->disconnect_reason = ev.disconn.reason;
        c->connected = false;
        break;
    case HCI_EV_LE_META:
        if (ev.le_subevent == HCI_LE_ADV_REPORT)
            on_adv(c, &ev.adv_report);
        if (ev.le_subevent == HCI_LE_CONN_COMPLETE) {
            if (ev.le_conn.status)
                die("LE Create Connection failed: status 0x%02x", ev.le_conn.status);
            c->handle = ev.le_conn.handle;
            c->connected = true;
        }
        break;
    default: break;
    }
}

static void on_acl(struct central *c, const uint8_t *pkt, size_t len)
{
    uint16_t handle, cid;
    bool start;
    const uint8_t *data, *frame;
    size_t dlen, flen;

    if (hci_acl_parse(pkt, len, &handle, &start, &data, &dlen) < 0)
        die("malformed ACL packet");
    if (l2cap_rx_push(c->rx, start, data, dlen) != 1)
        return;
    frame = l2cap_rx_frame(c->rx, &flen, &cid);
    if (cid != L2CAP_CID_ATT || flen == 0)
        return;
    if (frame[0] == ATT_OP_NOTIFY) {
        memcpy(c->ntf, frame, flen);
        c->ntf_len = flen;
        c->have_ntf = true;
    } else {
        memcpy(c->rsp, frame, flen);
        c->rsp_len = flen;
        c->have_rsp = true;
    }
}

/* Waits for packets until deadline and handles all that arrived. */
static void pump(struct central *c, uint64_t deadline, const char *what)
{
    uint8_t pkt[HCI_MAX_PACKET];
    uint64_t now = now_ms();
    struct pollfd pfd = {.fd = hci_transport_fd(c->t), .events = POLLIN};
    ssize_t n;

    if (now >= deadline)
        die("timed out waiting for %s", what);
    poll(&pfd, 1, (int)(deadline - now));
    while ((n = hci_transport_recv(c->t, pkt, sizeof(pkt))) > 0) {
        if (pkt[0] == H4_EVT)
            on_event(c, pkt, (size_t)n);
        else if (pkt[0] == H4_ACL)
            on_acl(c, pkt, (size_t)n);
    }
    if (n < 0)
        die("controller socket: %s", strerror((int)-n));
}

/* Handles packets until *flag is set; dies after WAIT_MS naming what it waited for. */
static void wait_for(struct central *c, const bool *flag, const char *what)
{
    uint64_t deadline = now_ms() + WAIT_MS;

    while (!*flag)
        pump(c, deadline, what);
}

static void send_pkt(struct central *c, const uint8_t *pkt, size_t len)
{
    int err = hci_transport_send(c->t, pkt, len);

    if (err < 0)
        die("send: %s", strerror(-err));
}

/* Sends a command and waits for its Command Complete/Status; returns the status. */
static uint8_t cmd(struct central *c, uint16_t opcode, const uint8_t *params, size_t plen)
{
    uint8_t pkt[4 + HCI_CMD_MAX_PARAMS];

    c->waiting_opcode = opcode;
    c->cmd_done = false;
    send_pkt(c, pkt, hci_cmd(opcode, params, plen, pkt, sizeof(pkt)));
    wait_for(c, &c->cmd_done, hci_opcode_name(opcode));
    return c->ret_len ? c->ret[0] : 0xff;
}

static void cmd_ok(struct central *c, uint16_t opcode, const uint8_t *params, size_t plen)
{
    uint8_t status = cmd(c, opcode, params, plen);

    if (status)
        die("%s failed: status 0x%02x", hci_opcode_name(opcode), status);
}

/* Sends one ATT PDU as an L2CAP frame, one ACL packet per buffer credit. */
static void att_send(struct central *c, const uint8_t *pdu, size_t len)
{
    uint8_t frame[L2CAP_HDR_LEN + ATT_MTU_MAX], pkt[HCI_MAX_PACKET];
    size_t flen = l2cap_frame(L2CAP_CID_ATT, pdu, len, frame, sizeof(frame));
    struct l2cap_tx tx;
    const uint8_t *frag;
    size_t n;
    bool first;

    l2cap_tx_init(&tx, frame, flen, c->acl_mtu);
    while (l2cap_tx_next(&tx, &frag, &n, &first)) {
        uint64_t deadline = now_ms() + WAIT_MS;

        while (c->acl_credits == 0)
            pump(c, deadline, "Number Of Completed Packets");
        send_pkt(c, pkt, hci_acl(c->handle, first, frag, n, pkt, sizeof(pkt)));
        c->acl_credits--;
    }
}

static const uint8_t *att_request(struct central *c, const uint8_t *pdu, size_t len, size_t *rsp_len)
{
    c->have_rsp = false;
    att_send(c, pdu, len);
    wait_for(c, &c->have_rsp, "an ATT response");
    *rsp_len = c->rsp_len;
    return c->rsp;
}

/* A request over handles start..0xffff by 16-bit type: Read By Type or Read By Group Type. */
static const uint8_t *range_request(struct central *c, uint8_t opcode, uint16_t start, uint16_t type,
                                    size_t *len)
{
    uint8_t req[7] = {opcode};

    put_le16(req + 1, start);
    put_le16(req + 3, 0xffff);
    put_le16(req + 5, type);
    return att_request(c, req, sizeof(req), len);
}

/* Reads the first value of type uuid16 by Read By Type over the whole database. */
static size_t read_by_type(struct central *c, uint16_t uuid, uint16_t *handle, uint8_t *out)
{
    size_t len;
    const uint8_t *rsp = range_request(c, ATT_OP_READ_BY_TYPE_REQ, 1, uuid, &len);

    if (len < 4 || rsp[0] != ATT_OP_READ_BY_TYPE_RSP || rsp[1] < 2 || len < 2u + rsp[1])
        die("Read By Type 0x%04x: answer 0x%02x", uuid, rsp[0]);
    *handle = get_le16(rsp + 2);
    memcpy(out, rsp + 4, rsp[1] - 2u);
    return rsp[1] - 2u;
}

static void print_json_string(const uint8_t *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++)
        if (s[i] == '"' || s[i] == '\\')
            printf("\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] > 0x7e)
            printf("\\u%04x", s[i]);
        else
            putchar(s[i]);
    putchar('"');
}

static void print_uuid(const uint8_t *le, size_t len)
{
    putchar('"');
    for (size_t i = len; i-- > 0;)
        printf("%02x", le[i]);
    putchar('"');
}

static void bring_up(struct central *c)
{
    static const uint8_t event_mask[8] = {0x10, 0x80, 0x00, 0x02, 0, 0, 0, 0x20};
    static const uint8_t le_mask[8] = {0x03};

    cmd_ok(c, HCI_OP_RESET, NULL, 0);
    cmd_ok(c, HCI_OP_SET_EVENT_MASK, event_mask, 8);
    cmd_ok(c, HCI_OP_LE_SET_EVENT_MASK, le_mask, 8);
    cmd_ok(c, HCI_OP_LE_READ_BUFFER_SIZE, NULL, 0);
    if (c->ret_len < 4 || get_le16(c->ret + 1) == 0)
        die("no LE ACL buffers");
    c->acl_mtu = get_le16(c->ret + 1);
    c->acl_credits = c->ret[3];
}

/* Active scan until the peer's ADV_IND and SCAN_RSP (with our name) were both seen. */
static void scan(struct central *c)
{
    /* active, interval = window = 10 ms, public address, accept all */
    static const uint8_t params[7] = {0x01, 0x10, 0x00, 0x10, 0x00, 0x00, 0x00};
    static const uint8_t on[2] = {0x01, 0x00}, off[2] = {0x00, 0x00};

    c->found = c->adv_ind_seen = false;
    cmd_ok(c, HCI_OP_LE_SET_SCAN_PARAMS, params, sizeof(params));
    cmd_ok(c, HCI_OP_LE_SET_SCAN_ENABLE, on, sizeof(on));
    wait_for(c, &c->found, "advertising with our name");
    cmd_ok(c, HCI_OP_LE_SET_SCAN_ENABLE, off, sizeof(off));
}

static void connect_peer(struct central *c)
{
    uint8_t p[25] = {0};

    put_le16(p, 0x0060);     /* scan interval */
    put_le16(p + 2, 0x0030); /* scan window */
    p[4] = 0x00;             /* no filter accept list */
    p[5] = c->peer_type;
    memcpy(p + 6, c->peer, HCI_ADDR_LEN);
    p[12] = 0x00;             /* own address public */
    put_le16(p + 13, 0x0018); /* connection interval min, 1.25 ms units */
    put_le16(p + 15, 0x0028); /* max */
    put_le16(p + 17, 0x0000); /* latency */
    put_le16(p + 19, 0x00c8); /* supervision timeout, 10 ms units */
    c->connected = c->disconnected = false;
    cmd_ok(c, HCI_OP_LE_CREATE_CONN, p, sizeof(p));
    wait_for(c, &c->connected, "LE Connection Complete");
}

/* Read By Group Type over the database; prints the services as a JSON array. */
static void discover_services(struct central *c)
{
    uint16_t start = 1;
    bool first = true;

    printf("\"services\":[");
    for (;;) {
        size_t len;
        const uint8_t *rsp = range_request(c, ATT_OP_READ_BY_GROUP_REQ, start, 0x2800, &len);

        if (rsp[0] == ATT_OP_ERROR_RSP && len == 5 && rsp[4] == ATT_ECODE_ATTR_NOT_FOUND)
            break;
        if (rsp[0] != ATT_OP_READ_BY_GROUP_RSP || len < 2 || rsp[1] < 6)
            die("Read By Group Type: answer 0x%02x", rsp[0]);
        uint16_t end = 0;

        for (size_t off = 2; off + rsp[1] <= len; off += rsp[1]) {
            printf("%s{\"start\":%u,\"end\":%u,\"uuid\":", first ? "" : ",", get_le16(rsp + off),
                   get_le16(rsp + off + 2));
            print_uuid(rsp + off + 4, rsp[1] - 4u);
            putchar('}');
            first = false;
            end = get_le16(rsp + off + 2);
        }
        if (end == 0xffff)
            break;
        start = (uint16_t)(end + 1);
    }
    printf("],");
}

/* The value handle of the characteristic with 128-bit uuid, from Read By Type 0x2803. */
static uint16_t find_char128(struct central *c, const char *uuid_text)
{
    struct bt_uuid want;
    uint16_t start = 1;

    bt_uuid_parse(&want, uuid_text);
    for (;;) {
        size_t len;
        const uint8_t *rsp = range_request(c, ATT_OP_READ_BY_TYPE_REQ, start, 0x2803, &len);

        if (rsp[0] != ATT_OP_READ_BY_TYPE_RSP || len < 2 || rsp[1] < 7)
            die("characteristic %s not found", uuid_text);
        /* handle(2), properties(1), value handle(2), uuid */
        for (size_t off = 2; off + rsp[1] <= len; off += rsp[1]) {
            if (rsp[1] == 21 && !memcmp(rsp + off + 5, want.le, 16))
                return get_le16(rsp + off + 3);
            start = (uint16_t)(get_le16(rsp + off) + 1);
        }
    }
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (!f)
        die("cannot open %s", path);
    n = fread(buf, 1, cap, f);
    if (ferror(f) || !feof(f))
        die("%s: unreadable or longer than %zu bytes", path, cap);
    fclose(f);
    return n;
}

static void write_req(struct central *c, uint16_t handle, const uint8_t *value, size_t len, uint8_t *answer)
{
    uint8_t req[ATT_MTU_MAX];
    size_t rlen;

    req[0] = ATT_OP_WRITE_REQ;
    put_le16(req + 1, handle);
    memcpy(req + 3, value, len);
    *answer = att_request(c, req, 3 + len, &rlen)[0];
}

/* Notifications on: the CCCD right after the value (as in our database). */
static void subscribe(struct central *c, uint16_t value_handle, const char *what)
{
    uint8_t answer;

    write_req(c, (uint16_t)(value_handle + 1), (const uint8_t[]){0x01, 0x00}, 2, &answer);
    if (answer != ATT_OP_WRITE_RSP)
        die("%s CCCD write: answer 0x%02x", what, answer);
}

/* One Telemetry In write (Write Request; frames over one 192-byte ACL packet are reassembled
 * by the peripheral): prints its size, the answer's opcode and error code, and returns the
 * answer's opcode. */
static uint8_t write_frame(struct central *c, uint16_t in, const char *path, bool comma)
{
    uint8_t frame[GATT_MAX_VALUE_LEN], answer;
    size_t n = read_file(path, frame, sizeof(frame));

    write_req(c, in, frame, n, &answer);
    printf("%s{\"bytes\":%zu,\"write\":%u,\"errorCode\":%u", comma ? "," : "", n, answer,
           answer == ATT_OP_ERROR_RSP ? c->rsp[4] : 0);
    return answer;
}

/* Reads Telemetry Result (value handle result) and prints it as "result". */
static void read_result(struct central *c, uint16_t result)
{
    uint8_t req[3] = {ATT_OP_READ_REQ};
    size_t len;

    put_le16(req + 1, result);
    const uint8_t *rsp = att_request(c, req, 3, &len);

    if (rsp[0] != ATT_OP_READ_RSP)
        die("Telemetry Result read: answer 0x%02x", rsp[0]);
    printf(",\"result\":");
    print_json_string(rsp + 1, len - 1);
}

/* One Telemetry In write, then the Telemetry Result notification and a read of the result. */
static void write_telemetry(struct central *c, const char *path, bool comma)
{
    uint16_t in = find_char128(c, SERVICES_TELEMETRY_IN_UUID);
    uint16_t result = find_char128(c, SERVICES_TELEMETRY_RESULT_UUID);

    subscribe(c, result, "Telemetry Result");
    c->have_ntf = false;
    if (write_frame(c, in, path, comma) == ATT_OP_WRITE_RSP) {
        wait_for(c, &c->have_ntf, "a Telemetry Result notification");
        if (c->ntf_len < 3 || get_le16(c->ntf + 1) != result)
            die("notification for handle 0x%04x", c->ntf_len < 3 ? 0 : get_le16(c->ntf + 1));
        printf(",\"notified\":");
        print_json_string(c->ntf + 3, c->ntf_len - 3);
    }
    read_result(c, result);
    putchar('}');
}

/* A sensor's session: MTU, the frames, (their results when peek), nothing else. */
static void sensor_session(struct central *c, bool peek)
{
    size_t len;
    const uint8_t *rsp = att_request(c, (const uint8_t[]){ATT_OP_MTU_REQ, 0x05, 0x02}, 3, &len);

    if (len != 3 || rsp[0] != ATT_OP_MTU_RSP)
        die("Exchange MTU: answer 0x%02x", rsp[0]);
    printf("{\"mtu\":%u,\"telemetry\":[", get_le16(rsp + 1));
    uint16_t in = find_char128(c, SERVICES_TELEMETRY_IN_UUID);
    uint16_t result = peek ? find_char128(c, SERVICES_TELEMETRY_RESULT_UUID) : 0;

    for (size_t i = 0; i < c->n_frames; i++) {
        write_frame(c, in, c->frames[i], i > 0);
        if (peek)
            read_result(c, result);
        putchar('}');
    }
    printf("]}\n");
}

static void att_exchange(struct central *c, const char *battery_file)
{
    uint8_t value[ATT_MTU_MAX];
    uint16_t handle;
    size_t len;

    /* Exchange MTU: we offer 517 */
    const uint8_t *rsp = att_request(c, (const uint8_t[]){ATT_OP_MTU_REQ, 0x05, 0x02}, 3, &len);
    if (len != 3 || rsp[0] != ATT_OP_MTU_RSP)
        die("Exchange MTU: answer 0x%02x", rsp[0]);
    printf("{\"mtu\":%u,\"advNameComplete\":%s,", get_le16(rsp + 1), c->adv_name_complete ? "true" : "false");
    discover_services(c);

    len = read_by_type(c, 0x2a00, &handle, value);
    printf("\"deviceName\":");
    print_json_string(value, len);

    len = read_by_type(c, 0x2a19, &handle, value);
    printf(",\"battery\":%d", len == 1 ? value[0] : -1);
    int written = len == 1 && value[0] == 33 ? 34 : 33;

    /* Subscribe to Battery Level, change the file, await the notification. */
    subscribe(c, handle, "Battery Level");
    FILE *f = fopen(battery_file, "w");

    if (!f || fprintf(f, "%d\n", written) < 0 || fclose(f))
        die("cannot write %s", battery_file);
    c->have_ntf = false;
    wait_for(c, &c->have_ntf, "a Battery Level notification");
    printf(",\"batteryWritten\":%d,\"batteryNotified\":%d", written,
           c->ntf_len == 4 && get_le16(c->ntf + 1) == handle ? c->ntf[3] : -1);

    printf(",\"telemetry\":[");
    for (size_t i = 0; i < c->n_frames; i++)
        write_telemetry(c, c->frames[i], i > 0);
    putchar(']');
}

static void disconnect(struct central *c)
{
    uint8_t p[3];

    put_le16(p, c->handle);
    p[2] = HCI_REASON_REMOTE_USER;
    cmd_ok(c, HCI_OP_DISCONNECT, p, sizeof(p));
    wait_for(c, &c->disconnected, "Disconnection Complete");
}

int main(int argc, char **argv)
{
    struct central c = {0};
    bool hold = false, sensor = false, peek = false;
    int err;

    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--hold"))
            hold = true;
        else if (!strcmp(argv[i], "--sensor"))
            sensor = true;
        else if (!strcmp(argv[i], "--peek"))
            peek = true;
        else if (!strcmp(argv[i], "--frame") && i + 1 < argc && c.n_frames < MAX_FRAMES)
            c.frames[c.n_frames++] = argv[++i];
        else
            argc = 0;
    }
    if (argc < 4 || (peek && !sensor))
        die("usage: ble-central SOCKET NAME BATTERY_FILE [--frame FILE]... [--hold] [--sensor [--peek]]");
    c.name = argv[2];
    if ((err = hci_transport_socket_open(argv[1], &c.t)) < 0)
        die("%s: %s", argv[1], strerror(-err));
    if (!(c.rx = l2cap_rx_new(ATT_MTU_MAX)))
        die("out of memory");
    bring_up(&c);
    scan(&c);
    connect_peer(&c);
    if (sensor) {
        sensor_session(&c, peek);
    } else {
        att_exchange(&c, argv[3]);
        if (hold)
            printf("}\n");
    }
    if (hold) {
        fflush(stdout);
        wait_for(&c, &c.disconnected, "the peripheral to disconnect");
        printf("{\"disconnectReason\":%u}\n", c.disconnect_reason);
    } else if (sensor) {
        /* Leaves right after the last answer, as a sensor saving its battery does. */
        disconnect(&c);
    } else {
        /* Disconnect, then the peripheral must advertise again. */
        disconnect(&c);
        scan(&c);
        printf(",\"advertisedGateway\":%s,\"readvertised\":true}\n",
               c.adv_has_gateway_uuid ? "true" : "false");
    }
    l2cap_rx_free(c.rx);
    hci_transport_close(c.t);
    return 0;
}
