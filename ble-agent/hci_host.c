/* HCI host state machine: a queue of commands sent one at a time within the controller's
 * credits and timed out, ACL frames sent within its buffer count, one ATT server per link. */
#include "hci_host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv_data.h"
#include "att.h"
#include "att_proto.h"
#include "bt_bytes.h"
#include "hci.h"
#include "l2cap.h"
#include "le_sig.h"

enum {
    CMD_QUEUE_LEN = 16,
    MAX_UUIDS = 8,
    NAME_MAX_LEN = 248,   /* the longest HCI local name */
    ACL_DEFAULT_MTU = 27, /* LE minimum, until the controller says */
};

/* Event_Mask bits: Disconnection Complete, Hardware Error, Data Buffer Overflow, LE Meta.
 * LE_Event_Mask: LE Connection Complete. */
static const uint64_t EVENT_MASK = (1ull << 4) | (1ull << 15) | (1ull << 25) | (1ull << 61);
static const uint64_t LE_EVENT_MASK = 1ull << 0;

struct cmd {
    uint16_t opcode;
    bool may_fail; /* a failure is logged, not fatal */
    size_t len;
    uint8_t pkt[4 + HCI_CMD_MAX_PARAMS];
};

struct acl_frame {
    struct acl_frame *next;
    uint16_t handle;
    size_t len;
    size_t off;
    uint8_t data[];
};

struct hci_conn {
    bool used;
    uint16_t handle;
    struct att_server *att;
    struct l2cap_rx *rx;
    unsigned in_flight; /* ACL packets the controller has not completed yet */
    unsigned queued;    /* frames in the host's ACL queue */
    uint64_t idle_since; /* the link's start or its last ATT PDU, ms; 0 once disconnecting */
};

struct hci_host {
    char name[NAME_MAX_LEN + 1];
    struct bt_uuid uuids[MAX_UUIDS];
    size_t n_uuids;
    struct gatt_db *db;
    unsigned timeout_ms;
    unsigned idle_ms;
    const struct hci_host_ops *ops;
    void *user_data;

    enum hci_host_state state;
    char error[160];

    struct cmd queue[CMD_QUEUE_LEN];
    size_t q_head, q_len;
    bool outstanding;  /* queue[q_head] was sent and awaits its answer */
    uint8_t credits;   /* Num_HCI_Command_Packets */
    uint64_t deadline; /* for the outstanding command */

    uint8_t address[HCI_ADDR_LEN];
    uint16_t acl_mtu;
    uint16_t acl_max;
    uint16_t acl_credits;
    struct acl_frame *acl_head, *acl_tail;

    bool advertising;
    struct hci_conn conns[HCI_HOST_MAX_CONNS];
};

__attribute__((format(printf, 2, 3))) static void say(struct hci_host *h, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    h->ops->log(h->user_data, line);
}

__attribute__((format(printf, 3, 4))) static int fail(struct hci_host *h, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(h->error, sizeof(h->error), fmt, ap);
    va_end(ap);
    h->state = HCI_HOST_FAILED;
    return err;
}

struct hci_host *hci_host_new(const struct hci_host_config *cfg)
{
    if (!cfg->name || !cfg->db || !cfg->ops || !cfg->ops->send || !cfg->ops->log ||
        strlen(cfg->name) > NAME_MAX_LEN || cfg->n_uuids > MAX_UUIDS) {
        errno = EINVAL;
        return NULL;
    }
    struct hci_host *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    strcpy(h->name, cfg->name);
    if (cfg->n_uuids)
        memcpy(h->uuids, cfg->uuids, cfg->n_uuids * sizeof(*cfg->uuids));
    h->n_uuids = cfg->n_uuids;
    h->db = cfg->db;
    h->timeout_ms = cfg->cmd_timeout_ms ? cfg->cmd_timeout_ms : HCI_HOST_CMD_TIMEOUT_MS;
    h->idle_ms = cfg->idle_timeout_ms;
    h->ops = cfg->ops;
    h->user_data = cfg->user_data;
    h->state = HCI_HOST_STOPPED;
    return h;
}

/* ---- connections and the ACL queue ---- */

static struct hci_conn *conn_find(struct hci_host *h, uint16_t handle)
{
    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++)
        if (h->conns[i].used && h->conns[i].handle == handle)
            return &h->conns[i];
    return NULL;
}

/* Forgets a link: its queued frames go, and its packets in the controller count as done
 * (the controller flushes them on disconnection, Vol 4 Part E 4.3). */
static void conn_drop(struct hci_host *h, struct hci_conn *c)
{
    struct acl_frame **pp = &h->acl_head;

    h->acl_tail = NULL;
    while (*pp) {
        struct acl_frame *f = *pp;

        /* A half-sent frame stays gone with its link. */
        if (f->handle == c->handle) {
            *pp = f->next;
            free(f);
        } else {
            h->acl_tail = f;
            pp = &f->next;
        }
    }
    h->acl_credits =
        (uint16_t)(h->acl_credits + c->in_flight > h->acl_max ? h->acl_max : h->acl_credits + c->in_flight);
    att_server_free(c->att);
    l2cap_rx_free(c->rx);
    memset(c, 0, sizeof(*c));
    if (h->ops->disconnected)
        h->ops->disconnected(h->user_data, c);
}

static void conns_drop_all(struct hci_host *h)
{
    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++)
        if (h->conns[i].used)
            conn_drop(h, &h->conns[i]);
}

static int acl_flush(struct hci_host *h)
{
    uint8_t pkt[5 + HCI_ACL_MAX_DATA];

    while (h->acl_head && h->acl_credits > 0) {
        struct acl_frame *f = h->acl_head;
        struct hci_conn *c = conn_find(h, f->handle);
        size_t n = f->len - f->off < h->acl_mtu ? f->len - f->off : h->acl_mtu;
        size_t plen = hci_acl(f->handle, f->off == 0, f->data + f->off, n, pkt, sizeof(pkt));
        int err = h->ops->send(h->user_data, pkt, plen);

        if (err < 0)
            return fail(h, err, "sending ACL data failed: %s", strerror(-err));
        h->acl_credits--;
        c->in_flight++;
        f->off += n;
        if (f->off == f->len) {
            h->acl_head = f->next;
            if (!h->acl_head)
                h->acl_tail = NULL;
            c->queued--;
            free(f);
        }
    }
    return 0;
}

/* Queues payload as one L2CAP frame on cid and sends what the controller has room for. */
static int send_l2cap(struct hci_host *h, struct hci_conn *c, uint16_t cid, const uint8_t *payload,
                      size_t len)
{
    if (c->queued >= HCI_HOST_MAX_QUEUED_FRAMES)
        return -ENOBUFS;
    struct acl_frame *f = malloc(sizeof(*f) + L2CAP_HDR_LEN + len);

    if (!f)
        return -ENOMEM;
    f->next = NULL;
    f->handle = c->handle;
    f->off = 0;
    f->len = l2cap_frame(cid, payload, len, f->data, L2CAP_HDR_LEN + len);
    if (h->acl_tail)
        h->acl_tail->next = f;
    else
        h->acl_head = f;
    h->acl_tail = f;
    c->queued++;
    return acl_flush(h);
}

/* ---- commands ---- */

static int cmd_flush(struct hci_host *h, uint64_t now_ms)
{
    if (h->outstanding || h->q_len == 0 || h->credits == 0)
        return 0;
    struct cmd *c = &h->queue[h->q_head];
    int err = h->ops->send(h->user_data, c->pkt, c->len);

    if (err < 0)
        return fail(h, err, "sending HCI command %s failed: %s", hci_opcode_name(c->opcode), strerror(-err));
    h->outstanding = true;
    h->credits--;
    h->deadline = now_ms + h->timeout_ms;
    return 0;
}

static int cmd_queue(struct hci_host *h, uint16_t opcode, const void *params, size_t plen, bool may_fail,
                     bool front)
{
    if (h->q_len == CMD_QUEUE_LEN)
        return fail(h, -ENOBUFS, "HCI command queue full at %s", hci_opcode_name(opcode));
    size_t slot;

    if (front) {
        /* Right behind the outstanding command, which keeps the head. */
        size_t at = h->outstanding ? 1 : 0;

        h->q_head = (h->q_head + CMD_QUEUE_LEN - 1) % CMD_QUEUE_LEN;
        if (at)
            h->queue[h->q_head] = h->queue[(h->q_head + 1) % CMD_QUEUE_LEN];
        slot = (h->q_head + at) % CMD_QUEUE_LEN;
    } else {
        slot = (h->q_head + h->q_len) % CMD_QUEUE_LEN;
    }
    h->q_len++;
    struct cmd *c = &h->queue[slot];

    c->opcode = opcode;
    c->may_fail = may_fail;
    c->len = hci_cmd(opcode, params, plen, c->pkt, sizeof(c->pkt));
    return 0;
}

static int queue_mask(struct hci_host *h, uint16_t opcode, uint64_t mask)
{
    uint8_t p[8];

    put_le16(p, (uint16_t)mask);
    put_le16(p + 2, (uint16_t)(mask >> 16));
    put_le16(p + 4, (uint16_t)(mask >> 32));
    put_le16(p + 6, (uint16_t)(mask >> 48));
    return cmd_queue(h, opcode, p, sizeof(p), false, false);
}

/* Only the first enable, in the start-up sequence, must succeed: later ones may meet a
 * controller that cannot advertise while connected. */
static int queue_adv_enable(struct hci_host *h, bool on, bool may_fail)
{
    uint8_t p = on;

    return cmd_queue(h, HCI_OP_LE_SET_ADV_ENABLE, &p, 1, may_fail, false);
}

static int queue_disconnect(struct hci_host *h, uint16_t handle, uint8_t reason)
{
    uint8_t p[3];

    put_le16(p, handle);
    p[2] = reason;
    return cmd_queue(h, HCI_OP_DISCONNECT, p, sizeof(p), true, false);
}

/* Connectable undirected advertising (ADV_IND) every 100 ms on all three channels. */
static int queue_advertising(struct hci_host *h)
{
    uint8_t params[15] = {0}, data[1 + ADV_DATA_MAX] = {0}, rsp[1 + ADV_DATA_MAX] = {0};
    struct adv_data adv;
    int err;

    put_le16(params, 0x00a0);     /* Advertising_Interval_Min, 0.625 ms units */
    put_le16(params + 2, 0x00a0); /* Advertising_Interval_Max */
    params[4] = 0x00;             /* ADV_IND */
    params[5] = 0x00;             /* public own address */
    params[13] = 0x07;            /* channels 37, 38, 39 */
    adv_data_build(&adv, h->name, h->uuids, h->n_uuids);
    data[0] = (uint8_t)adv.adv_len;
    memcpy(data + 1, adv.adv, adv.adv_len);
    rsp[0] = (uint8_t)adv.scan_rsp_len;
    memcpy(rsp + 1, adv.scan_rsp, adv.scan_rsp_len);
    if ((err = cmd_queue(h, HCI_OP_LE_SET_ADV_PARAMS, params, sizeof(params), false, false)) ||
        (err = cmd_queue(h, HCI_OP_LE_SET_ADV_DATA, data, sizeof(data), false, false)) ||
        (err = cmd_queue(h, HCI_OP_LE_SET_SCAN_RSP_DATA, rsp, sizeof(rsp), false, false)))
        return err;
    return queue_adv_enable(h, true, false);
}

int hci_host_start(struct hci_host *h, uint64_t now_ms)
{
    int err;

    conns_drop_all(h);
    h->q_len = 0;
    h->outstanding = false;
    h->credits = 1; /* the controller may take one command after power-on (Part E 4.4) */
    h->acl_mtu = ACL_DEFAULT_MTU;
    h->acl_max = 0;
    h->acl_credits = 0;
    h->advertising = false;
    h->state = HCI_HOST_STARTING;
    if ((err = cmd_queue(h, HCI_OP_RESET, NULL, 0, false, false)) ||
        (err = queue_mask(h, HCI_OP_SET_EVENT_MASK, EVENT_MASK)) ||
        (err = queue_mask(h, HCI_OP_LE_SET_EVENT_MASK, LE_EVENT_MASK)) ||
        (err = cmd_queue(h, HCI_OP_READ_LOCAL_VERSION, NULL, 0, false, false)) ||
        (err = cmd_queue(h, HCI_OP_READ_LOCAL_FEATURES, NULL, 0, false, false)) ||
        (err = cmd_queue(h, HCI_OP_READ_BD_ADDR, NULL, 0, false, false)) ||
        (err = cmd_queue(h, HCI_OP_LE_READ_BUFFER_SIZE, NULL, 0, false, false)) ||
        (err = queue_advertising(h)))
        return err;
    return cmd_flush(h, now_ms);
}

/* Return parameters of the start-up commands; ret[0] is the status, already checked zero. */
static int take_return(struct hci_host *h, uint16_t opcode, const uint8_t *ret, size_t len)
{
    switch (opcode) {
    case HCI_OP_READ_LOCAL_VERSION:
        if (len < 9)
            break;
        say(h, "controller: HCI version %u, manufacturer %u", ret[1], get_le16(ret + 5));
        return 0;
    case HCI_OP_READ_LOCAL_FEATURES:
        if (len < 9)
            break;
        /* LMP feature bit 38: LE Supported (Controller) */
        if (!(ret[1 + 4] & 0x40))
            return fail(h, -ENOTSUP, "the controller does not support Bluetooth LE");
        return 0;
    case HCI_OP_READ_BD_ADDR:
        if (len < 1 + HCI_ADDR_LEN)
            break;
        memcpy(h->address, ret + 1, HCI_ADDR_LEN);
        return 0;
    case HCI_OP_LE_READ_BUFFER_SIZE:
    case HCI_OP_READ_BUFFER_SIZE: {
        bool le = opcode == HCI_OP_LE_READ_BUFFER_SIZE;

        if (len < (le ? 4u : 8u))
            break;
        uint16_t mtu = get_le16(ret + 1);
        uint16_t count = le ? ret[3] : get_le16(ret + 4);

        /* LE size 0: LE shares the BR/EDR buffers (Part E 7.8.2). */
        if (le && mtu == 0)
            return cmd_queue(h, HCI_OP_READ_BUFFER_SIZE, NULL, 0, false, true);
        if (mtu == 0 || count == 0)
            return fail(h, -EPROTO, "the controller reports no ACL buffers");
        h->acl_mtu = mtu > HCI_ACL_MAX_DATA ? HCI_ACL_MAX_DATA : mtu;
        h->acl_max = count;
        h->acl_credits = count;
        say(h, "controller: ACL buffers %u x %u bytes", count, mtu);
        return 0;
    }
    case HCI_OP_LE_SET_ADV_ENABLE:
        h->advertising = h->queue[h->q_head].pkt[4] != 0;
        if (h->state == HCI_HOST_STARTING) {
            h->state = HCI_HOST_READY;
            say(h, "adapter ready: %02X:%02X:%02X:%02X:%02X:%02X", h->address[5], h->address[4],
                h->address[3], h->address[2], h->address[1], h->address[0]);
        }
        if (h->advertising)
            say(h, "advertising as \"%s\"", h->name);
        return 0;
    default: return 0;
    }
    return fail(h, -EPROTO, "HCI command %s: short answer", hci_opcode_name(opcode));
}

static bool all_stopped(const struct hci_host *h)
{
    return h->q_len == 0 && hci_host_connections(h) == 0;
}

/* Command Complete or Command Status for the outstanding command. */
static int cmd_done(struct hci_host *h, uint8_t ncmd, uint16_t opcode, uint8_t status, const uint8_t *ret,
                    size_t ret_len, uint64_t now_ms)
{
    int err = 0;

    h->credits = ncmd;
    /* opcode 0 only returns credits; answers to nothing we sent are ignored */
    if (opcode == 0 || !h->outstanding || h->queue[h->q_head].opcode != opcode)
        return cmd_flush(h, now_ms);
    struct cmd *c = &h->queue[h->q_head];

    if (status && !c->may_fail)
        return fail(h, -EIO, "HCI command %s (0x%04x) failed: status 0x%02x", hci_opcode_name(opcode), opcode,
                    status);
    if (status)
        say(h, "HCI command %s refused (status 0x%02x)", hci_opcode_name(opcode), status);
    else if (ret && (err = take_return(h, opcode, ret, ret_len)) < 0)
        return err;
    h->outstanding = false;
    h->q_head = (h->q_head + 1) % CMD_QUEUE_LEN;
    h->q_len--;
    if (h->state == HCI_HOST_STOPPING && all_stopped(h)) {
        h->state = HCI_HOST_STOPPED;
        say(h, "adapter released");
    }
    return cmd_flush(h, now_ms);
}

/* ---- events and data ---- */

static void conn_open(struct hci_host *h, const struct hci_le_conn *lc, uint64_t now_ms)
{
    struct hci_conn *c = NULL;

    for (size_t i = 0; i < HCI_HOST_MAX_CONNS && !c; i++)
        if (!h->conns[i].used)
            c = &h->conns[i];
    if (!c || conn_find(h, lc->handle)) {
        /* No room, or a handle already in use (a controller bug): refuse, never guess. */
        say(h, "refused a connection: %s (handle 0x%03x)",
            c ? "handle already in use" : "no room for another peer", lc->handle);
        queue_disconnect(h, lc->handle, HCI_REASON_REMOTE_USER);
        return;
    }
    c->att = att_server_new(h->db, c, ATT_MTU_MAX);
    c->rx = l2cap_rx_new(ATT_MTU_MAX);
    if (!c->att || !c->rx) {
        att_server_free(c->att);
        l2cap_rx_free(c->rx);
        c->att = NULL;
        c->rx = NULL;
        return;
    }
    c->used = true;
    c->handle = lc->handle;
    c->idle_since = now_ms ? now_ms : 1;
    say(h, "connected: %02X:%02X:%02X:%02X:%02X:%02X (handle 0x%03x)", lc->peer[5], lc->peer[4], lc->peer[3],
        lc->peer[2], lc->peer[1], lc->peer[0], lc->handle);
}

static int on_le_meta(struct hci_host *h, const struct hci_event *ev, uint64_t now_ms)
{
    if (ev->le_subevent != HCI_LE_CONN_COMPLETE && ev->le_subevent != HCI_LE_ENH_CONN_COMPLETE)
        return 0;
    if (ev->le_conn.status == 0 && ev->le_conn.role == HCI_ROLE_PERIPHERAL) {
        h->advertising = false; /* a legacy advertiser stops on connection */
        conn_open(h, &ev->le_conn, now_ms);
        if (h->state == HCI_HOST_STOPPING)
            return queue_disconnect(h, ev->le_conn.handle, HCI_REASON_POWER_OFF);
    }
    /* Keep advertising for the next central while there is room. */
    if (h->state == HCI_HOST_READY && hci_host_connections(h) < HCI_HOST_MAX_CONNS && !h->advertising)
        return queue_adv_enable(h, true, true);
    return 0;
}

static int on_disconnect(struct hci_host *h, const struct hci_event *ev)
{
    struct hci_conn *c = conn_find(h, ev->disconn.handle);

    if (ev->disconn.status || !c)
        return 0;
    conn_drop(h, c);
    say(h, "disconnected: handle 0x%03x, reason 0x%02x", ev->disconn.handle, ev->disconn.reason);
    /* The buffers it held may let other links' frames go. */
    int err = acl_flush(h);

    if (err < 0)
        return err;
    if (h->state == HCI_HOST_READY && !h->advertising)
        return queue_adv_enable(h, true, true);
    return 0;
}

static void on_completed(struct hci_host *h, const struct hci_event *ev)
{
    for (size_t i = 0; i < ev->completed.num_handles; i++) {
        uint16_t handle, count;

        hci_event_completed(ev, i, &handle, &count);
        struct hci_conn *c = conn_find(h, handle);

        /* Counts for links already dropped were reclaimed then. */
        if (!c)
            continue;
        if (count > c->in_flight)
            count = (uint16_t)c->in_flight;
        c->in_flight -= count;
        h->acl_credits = (uint16_t)(h->acl_credits + count);
    }
}

static int on_event(struct hci_host *h, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
    struct hci_event ev;
    int err = 0;

    if (hci_event_parse(pkt, len, &ev) < 0)
        return 0;
    switch (ev.code) {
    case HCI_EV_CMD_COMPLETE:
        return cmd_done(h, ev.cmd_complete.ncmd, ev.cmd_complete.opcode,
                        ev.cmd_complete.ret_len ? ev.cmd_complete.ret[0] : 0, ev.cmd_complete.ret,
                        ev.cmd_complete.ret_len, now_ms);
    case HCI_EV_CMD_STATUS:
        return cmd_done(h, ev.cmd_status.ncmd, ev.cmd_status.opcode, ev.cmd_status.status, NULL, 0, now_ms);
    case HCI_EV_HW_ERROR:
        say(h, "controller hardware error 0x%02x: resetting", ev.hw_error);
        return hci_host_start(h, now_ms);
    case HCI_EV_NUM_COMPLETED_PACKETS: on_completed(h, &ev); return acl_flush(h);
    case HCI_EV_DISCONN_COMPLETE: err = on_disconnect(h, &ev); break;
    case HCI_EV_LE_META: err = on_le_meta(h, &ev, now_ms); break;
    default: return 0;
    }
    if (err < 0)
        return err;
    if (h->state == HCI_HOST_STOPPING && all_stopped(h) && !h->outstanding) {
        h->state = HCI_HOST_STOPPED;
        say(h, "adapter released");
    }
    return cmd_flush(h, now_ms);
}

/* One reassembled L2CAP frame: ATT requests, signalling and SMP each get their answer. */
static int on_frame(struct hci_host *h, struct hci_conn *c, uint16_t cid, const uint8_t *p, size_t len)
{
    uint8_t out[ATT_MTU_MAX];
    size_t n = 0;

    switch (cid) {
    case L2CAP_CID_ATT: n = att_server_handle(c->att, p, len, out, sizeof(out)); break;
    case L2CAP_CID_LE_SIGNALING: n = le_sig_answer(p, len, out); break;
    case L2CAP_CID_SMP: n = smp_answer(p, len, out); break;
    default: break;
    }
    if (n == 0)
        return 0;
    int err = send_l2cap(h, c, cid, out, n);

    /* A peer that keeps asking without reading answers loses them, not the daemon. */
    return err == -ENOBUFS ? 0 : err;
}

static int on_acl(struct hci_host *h, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
    uint16_t handle, cid;
    bool start;
    const uint8_t *data, *frame;
    size_t dlen, flen;
    struct hci_conn *c;

    if (hci_acl_parse(pkt, len, &handle, &start, &data, &dlen) < 0 || !(c = conn_find(h, handle)))
        return 0;
    if (l2cap_rx_push(c->rx, start, data, dlen) != 1)
        return 0;
    frame = l2cap_rx_frame(c->rx, &flen, &cid);
    if (cid == L2CAP_CID_ATT && c->idle_since)
        c->idle_since = now_ms ? now_ms : 1;
    return on_frame(h, c, cid, frame, flen);
}

int hci_host_input(struct hci_host *h, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
    if (h->state == HCI_HOST_FAILED)
        return -EIO;
    if (len < 1)
        return 0;
    switch (pkt[0]) {
    case H4_EVT: return on_event(h, pkt, len, now_ms);
    case H4_ACL: return on_acl(h, pkt, len, now_ms);
    default: return 0;
    }
}

/* When link c counts as idle (ms), or UINT64_MAX when it never will. */
static uint64_t idle_deadline(const struct hci_host *h, const struct hci_conn *c)
{
    if (!h->idle_ms || !c->used || !c->idle_since || h->state != HCI_HOST_READY)
        return UINT64_MAX;
    return c->idle_since + h->idle_ms;
}

int hci_host_tick(struct hci_host *h, uint64_t now_ms)
{
    int err;

    if (h->state == HCI_HOST_FAILED)
        return -EIO;
    if (h->outstanding && now_ms >= h->deadline) {
        uint16_t op = h->queue[h->q_head].opcode;

        return fail(h, -ETIMEDOUT, "HCI command %s (0x%04x) timed out after %u ms", hci_opcode_name(op), op,
                    h->timeout_ms);
    }
    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++) {
        struct hci_conn *c = &h->conns[i];

        if (now_ms < idle_deadline(h, c))
            continue;
        say(h, "idle: handle 0x%03x sent no ATT request for %u ms: disconnecting", c->handle, h->idle_ms);
        c->idle_since = 0;
        if ((err = queue_disconnect(h, c->handle, HCI_REASON_REMOTE_USER)) < 0)
            return err;
    }
    return cmd_flush(h, now_ms);
}

int hci_host_timeout_ms(const struct hci_host *h, uint64_t now_ms)
{
    uint64_t next = h->outstanding ? h->deadline : UINT64_MAX;

    if (h->state == HCI_HOST_FAILED)
        return -1;
    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++)
        if (idle_deadline(h, &h->conns[i]) < next)
            next = idle_deadline(h, &h->conns[i]);
    if (next == UINT64_MAX)
        return -1;
    return next <= now_ms ? 0 : (int)(next - now_ms);
}

int hci_host_shutdown(struct hci_host *h, uint64_t now_ms)
{
    int err;

    if (h->state != HCI_HOST_READY && h->state != HCI_HOST_STARTING) {
        h->state = HCI_HOST_STOPPED;
        return 0;
    }
    /* Drop what has not been sent yet: nothing new starts while stopping. */
    h->q_len = h->outstanding ? 1 : 0;
    h->state = HCI_HOST_STOPPING;
    if (h->advertising && (err = queue_adv_enable(h, false, true)) < 0)
        return err;
    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++)
        if (h->conns[i].used && (err = queue_disconnect(h, h->conns[i].handle, HCI_REASON_POWER_OFF)) < 0)
            return err;
    if (all_stopped(h)) {
        h->state = HCI_HOST_STOPPED;
        say(h, "adapter released");
        return 0;
    }
    say(h, "stopping: advertising off, disconnecting %zu peer(s)", hci_host_connections(h));
    return cmd_flush(h, now_ms);
}

/* A notification on one link: 1 sent, 0 not subscribed (or no room to queue it), or an error. */
static int notify_one(struct hci_host *h, struct hci_conn *c, uint16_t value_handle, const uint8_t *value,
                      size_t len)
{
    uint8_t out[ATT_MTU_MAX];
    ssize_t n = att_server_notify(c->att, value_handle, value, len, out, sizeof(out));

    if (n <= 0)
        return (int)n;
    int err = send_l2cap(h, c, L2CAP_CID_ATT, out, (size_t)n);

    if (err < 0 && err != -ENOBUFS)
        return err;
    return err == 0;
}

int hci_host_notify(struct hci_host *h, uint16_t value_handle, const uint8_t *value, size_t len)
{
    int sent = 0;

    if (h->state != HCI_HOST_READY)
        return 0;
    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++) {
        if (!h->conns[i].used)
            continue;
        int n = notify_one(h, &h->conns[i], value_handle, value, len);

        if (n < 0)
            return n;
        sent += n;
    }
    return sent;
}

int hci_host_notify_conn(struct hci_host *h, void *conn, uint16_t value_handle, const uint8_t *value,
                         size_t len)
{
    if (h->state != HCI_HOST_READY)
        return 0;
    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++)
        if (h->conns[i].used && conn == &h->conns[i])
            return notify_one(h, &h->conns[i], value_handle, value, len);
    return 0;
}

enum hci_host_state hci_host_state(const struct hci_host *h)
{
    return h->state;
}

const char *hci_host_error(const struct hci_host *h)
{
    return h->error;
}

size_t hci_host_connections(const struct hci_host *h)
{
    size_t n = 0;

    for (size_t i = 0; i < HCI_HOST_MAX_CONNS; i++)
        n += h->conns[i].used;
    return n;
}

const uint8_t *hci_host_address(const struct hci_host *h)
{
    return h->address;
}

void hci_host_free(struct hci_host *h)
{
    if (!h)
        return;
    conns_drop_all(h);
    free(h);
}
