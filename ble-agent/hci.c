/* HCI packet codec: every field is read at an offset checked against the packet's own length
 * fields first, so a short or lying packet is rejected, never read past. */
#include "hci.h"

#include <errno.h>
#include <string.h>

#include "bt_bytes.h"

static const struct {
    uint16_t opcode;
    const char *name;
} opcode_names[] = {
    {HCI_OP_DISCONNECT, "Disconnect"},
    {HCI_OP_SET_EVENT_MASK, "Set Event Mask"},
    {HCI_OP_RESET, "Reset"},
    {HCI_OP_READ_LOCAL_VERSION, "Read Local Version Information"},
    {HCI_OP_READ_LOCAL_FEATURES, "Read Local Supported Features"},
    {HCI_OP_READ_BUFFER_SIZE, "Read Buffer Size"},
    {HCI_OP_READ_BD_ADDR, "Read BD_ADDR"},
    {HCI_OP_LE_SET_EVENT_MASK, "LE Set Event Mask"},
    {HCI_OP_LE_READ_BUFFER_SIZE, "LE Read Buffer Size"},
    {HCI_OP_LE_SET_ADV_PARAMS, "LE Set Advertising Parameters"},
    {HCI_OP_LE_SET_ADV_DATA, "LE Set Advertising Data"},
    {HCI_OP_LE_SET_SCAN_RSP_DATA, "LE Set Scan Response Data"},
    {HCI_OP_LE_SET_ADV_ENABLE, "LE Set Advertising Enable"},
    {HCI_OP_LE_SET_SCAN_PARAMS, "LE Set Scan Parameters"},
    {HCI_OP_LE_SET_SCAN_ENABLE, "LE Set Scan Enable"},
    {HCI_OP_LE_CREATE_CONN, "LE Create Connection"},
};

const char *hci_opcode_name(uint16_t opcode)
{
    for (size_t i = 0; i < sizeof(opcode_names) / sizeof(opcode_names[0]); i++)
        if (opcode_names[i].opcode == opcode)
            return opcode_names[i].name;
    return "unknown";
}

ssize_t h4_packet_len(const uint8_t *buf, size_t len)
{
    size_t hdr, body;

    if (len < 1)
        return 0;
    switch (buf[0]) {
    case H4_CMD: /* opcode(2) length(1) */
    case H4_SCO: /* handle(2) length(1) */ hdr = 3; break;
    case H4_EVT: /* code(1) length(1) */ hdr = 2; break;
    case H4_ACL: /* handle+flags(2) length(2) */
    case H4_ISO: hdr = 4; break;
    default: return -EPROTO;
    }
    if (len < 1 + hdr)
        return 0;
    if (buf[0] == H4_ACL)
        body = get_le16(buf + 3);
    else if (buf[0] == H4_ISO)
        body = get_le16(buf + 3) & 0x3fff;
    else
        body = buf[hdr];
    if (1 + hdr + body > HCI_MAX_PACKET)
        return -EMSGSIZE;
    return (ssize_t)(1 + hdr + body);
}

size_t hci_cmd(uint16_t opcode, const uint8_t *params, size_t plen, uint8_t *out, size_t cap)
{
    if (plen > HCI_CMD_MAX_PARAMS || 4 + plen > cap)
        return 0;
    out[0] = H4_CMD;
    put_le16(out + 1, opcode);
    out[3] = (uint8_t)plen;
    if (plen)
        memcpy(out + 4, params, plen);
    return 4 + plen;
}

size_t hci_acl(uint16_t handle, bool first, const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    if (len > 0xffff || 5 + len > cap || handle > 0x0eff)
        return 0;
    out[0] = H4_ACL;
    put_le16(out + 1, (uint16_t)(handle | (first ? 0x0000 : 0x1000)));
    put_le16(out + 3, (uint16_t)len);
    if (len)
        memcpy(out + 5, data, len);
    return 5 + len;
}

int hci_acl_parse(const uint8_t *pkt, size_t len, uint16_t *handle, bool *start, const uint8_t **data,
                  size_t *dlen)
{
    if (len < 5 || pkt[0] != H4_ACL || (size_t)get_le16(pkt + 3) != len - 5)
        return -EPROTO;
    uint16_t hf = get_le16(pkt + 1);

    *handle = hf & 0x0fff;
    /* Packet boundary flag: 0b01 continues a frame; 0b00 and 0b10 start one. */
    *start = ((hf >> 12) & 0x3) != 0x1;
    *data = pkt + 5;
    *dlen = len - 5;
    return 0;
}

/* LE Connection Complete (p = status onwards, 18 bytes) and Enhanced (30 bytes, two
 * resolvable addresses before the interval). */
static int parse_le_conn(const uint8_t *p, size_t len, bool enhanced, struct hci_le_conn *c)
{
    size_t tail = enhanced ? 23 : 11; /* offset of Conn_Interval */

    if (len < tail + 7)
        return -EPROTO;
    c->status = p[0];
    c->handle = get_le16(p + 1) & 0x0fff;
    c->role = p[3];
    c->peer_type = p[4];
    memcpy(c->peer, p + 5, HCI_ADDR_LEN);
    c->interval = get_le16(p + tail);
    c->latency = get_le16(p + tail + 2);
    c->supervision_timeout = get_le16(p + tail + 4);
    return 0;
}

/* Num_Reports(1), then per report Event_Type, Address_Type, Address(6), Data_Length, Data, RSSI. */
static int parse_adv_report(const uint8_t *p, size_t len, struct hci_adv_report *r)
{
    if (len < 10 || p[0] == 0 || len < 10 + (size_t)p[9] + 1)
        return -EPROTO;
    r->type = p[1];
    r->addr_type = p[2];
    memcpy(r->addr, p + 3, HCI_ADDR_LEN);
    r->data_len = p[9];
    r->data = p + 10;
    return 0;
}

static int parse_le_meta(const uint8_t *p, size_t len, struct hci_event *ev)
{
    if (len < 1)
        return -EPROTO;
    ev->le_subevent = p[0];
    switch (p[0]) {
    case HCI_LE_CONN_COMPLETE: return parse_le_conn(p + 1, len - 1, false, &ev->le_conn);
    case HCI_LE_ENH_CONN_COMPLETE: return parse_le_conn(p + 1, len - 1, true, &ev->le_conn);
    case HCI_LE_ADV_REPORT: return parse_adv_report(p + 1, len - 1, &ev->adv_report);
    default: return 0;
    }
}

int hci_event_parse(const uint8_t *pkt, size_t len, struct hci_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (len < 3 || pkt[0] != H4_EVT || (size_t)pkt[2] != len - 3)
        return -EPROTO;
    const uint8_t *p = pkt + 3;
    size_t plen = len - 3;

    ev->code = pkt[1];
    switch (ev->code) {
    case HCI_EV_CMD_COMPLETE:
        if (plen < 3)
            return -EPROTO;
        ev->cmd_complete.ncmd = p[0];
        ev->cmd_complete.opcode = get_le16(p + 1);
        ev->cmd_complete.ret = p + 3;
        ev->cmd_complete.ret_len = plen - 3;
        return 0;
    case HCI_EV_CMD_STATUS:
        if (plen < 4)
            return -EPROTO;
        ev->cmd_status.status = p[0];
        ev->cmd_status.ncmd = p[1];
        ev->cmd_status.opcode = get_le16(p + 2);
        return 0;
    case HCI_EV_DISCONN_COMPLETE:
        if (plen < 4)
            return -EPROTO;
        ev->disconn.status = p[0];
        ev->disconn.handle = get_le16(p + 1) & 0x0fff;
        ev->disconn.reason = p[3];
        return 0;
    case HCI_EV_NUM_COMPLETED_PACKETS:
        /* Num_Handles, then (Connection_Handle, Num_Completed_Packets) pairs */
        if (plen < 1 || plen < 1 + 4 * (size_t)p[0])
            return -EPROTO;
        ev->completed.num_handles = p[0];
        ev->completed.pairs = p + 1;
        return 0;
    case HCI_EV_HW_ERROR:
        if (plen < 1)
            return -EPROTO;
        ev->hw_error = p[0];
        return 0;
    case HCI_EV_LE_META: return parse_le_meta(p, plen, ev);
    default: return 0;
    }
}

void hci_event_completed(const struct hci_event *ev, size_t i, uint16_t *handle, uint16_t *count)
{
    *handle = get_le16(ev->completed.pairs + 4 * i) & 0x0fff;
    *count = get_le16(ev->completed.pairs + 4 * i + 2);
}
