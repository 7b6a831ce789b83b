/* HCI wire format (Core spec Vol 4 Part A for H4, Part E for commands and events): H4 packet
 * framing, command and ACL builders, and an event parser. Pure: bytes in, bytes out. */
#ifndef HCI_H
#define HCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* H4 packet indicators (Vol 4 Part A 2) */
enum {
    H4_CMD = 0x01,
    H4_ACL = 0x02,
    H4_SCO = 0x03,
    H4_EVT = 0x04,
    H4_ISO = 0x05,
};

enum {
    HCI_ACL_MAX_DATA = 1024, /* longest ACL payload accepted from a controller */
    HCI_MAX_PACKET = 1 + 4 + HCI_ACL_MAX_DATA,
    HCI_CMD_MAX_PARAMS = 255,
    HCI_ADDR_LEN = 6,
};

/* Opcodes, OGF << 10 | OCF (Vol 4 Part E 7) */
enum hci_opcode {
    HCI_OP_DISCONNECT = 0x0406,
    HCI_OP_SET_EVENT_MASK = 0x0c01,
    HCI_OP_RESET = 0x0c03,
    HCI_OP_READ_LOCAL_VERSION = 0x1001,
    HCI_OP_READ_LOCAL_FEATURES = 0x1003,
    HCI_OP_READ_BUFFER_SIZE = 0x1005,
    HCI_OP_READ_BD_ADDR = 0x1009,
    HCI_OP_LE_SET_EVENT_MASK = 0x2001,
    HCI_OP_LE_READ_BUFFER_SIZE = 0x2002,
    HCI_OP_LE_SET_ADV_PARAMS = 0x2006,
    HCI_OP_LE_SET_ADV_DATA = 0x2008,
    HCI_OP_LE_SET_SCAN_RSP_DATA = 0x2009,
    HCI_OP_LE_SET_ADV_ENABLE = 0x200a,
    HCI_OP_LE_SET_SCAN_PARAMS = 0x200b,
    HCI_OP_LE_SET_SCAN_ENABLE = 0x200c,
    HCI_OP_LE_CREATE_CONN = 0x200d,
};

/* Event codes and LE subevents (Vol 4 Part E 7.7) */
enum {
    HCI_EV_DISCONN_COMPLETE = 0x05,
    HCI_EV_CMD_COMPLETE = 0x0e,
    HCI_EV_CMD_STATUS = 0x0f,
    HCI_EV_HW_ERROR = 0x10,
    HCI_EV_NUM_COMPLETED_PACKETS = 0x13,
    HCI_EV_LE_META = 0x3e,
    HCI_LE_CONN_COMPLETE = 0x01,
    HCI_LE_ADV_REPORT = 0x02,
    HCI_LE_ENH_CONN_COMPLETE = 0x0a,
};

enum {
    HCI_ROLE_CENTRAL = 0x00,
    HCI_ROLE_PERIPHERAL = 0x01,
    HCI_REASON_REMOTE_USER = 0x13,
    HCI_REASON_POWER_OFF = 0x15,
};

/* The name of a command for error messages ("LE Set Advertising Enable"), "unknown" else. */
const char *hci_opcode_name(uint16_t opcode);

/* Length of the whole H4 packet starting at buf (indicator included): > 0 when known, 0 when
 * more bytes are needed to know it, -EPROTO for an unknown indicator, -EMSGSIZE past
 * HCI_MAX_PACKET. */
ssize_t h4_packet_len(const uint8_t *buf, size_t len);

/* H4 command packet; returns its length, 0 if params exceed 255 bytes or cap. */
size_t hci_cmd(uint16_t opcode, const uint8_t *params, size_t plen, uint8_t *out, size_t cap);
/* H4 ACL packet for an LE link: first selects "start of a non-flushable frame" (0b00), else
 * "continuing fragment" (0b01). Returns its length, 0 if it does not fit in cap. */
size_t hci_acl(uint16_t handle, bool first, const uint8_t *data, size_t len, uint8_t *out, size_t cap);

/* One received H4 ACL packet: handle, whether it starts a frame, and its payload (borrowed).
 * 0, or -EPROTO when the length field disagrees with len. */
int hci_acl_parse(const uint8_t *pkt, size_t len, uint16_t *handle, bool *start, const uint8_t **data,
                  size_t *dlen);

struct hci_le_conn {
    uint8_t status;
    uint16_t handle;
    uint8_t role;
    uint8_t peer_type;
    uint8_t peer[HCI_ADDR_LEN]; /* wire order: least significant byte first */
    uint16_t interval;
    uint16_t latency;
    uint16_t supervision_timeout;
};

/* First report of an LE Advertising Report (enough for a test central). */
struct hci_adv_report {
    uint8_t type;
    uint8_t addr_type;
    uint8_t addr[HCI_ADDR_LEN];
    const uint8_t *data;
    size_t data_len;
};

/* A parsed event; pointers borrow from the packet. code is the event code, and for LE Meta
 * events le_subevent the subevent; unparsed events keep only those. */
struct hci_event {
    uint8_t code;
    uint8_t le_subevent;
    union {
        struct {
            uint8_t ncmd;
            uint16_t opcode;
            const uint8_t *ret; /* return parameters, status first */
            size_t ret_len;
        } cmd_complete;
        struct {
            uint8_t status;
            uint8_t ncmd;
            uint16_t opcode;
        } cmd_status;
        struct {
            uint8_t status;
            uint16_t handle;
            uint8_t reason;
        } disconn;
        struct {
            uint8_t num_handles;
            const uint8_t *pairs; /* read with hci_event_completed() */
        } completed;
        uint8_t hw_error;
        struct hci_le_conn le_conn;
        struct hci_adv_report adv_report;
    };
};

/* Parses an H4 event packet (indicator included). 0, or -EPROTO when a known event is too
 * short for its fields; unknown events parse to their code only. */
int hci_event_parse(const uint8_t *pkt, size_t len, struct hci_event *ev);
/* Entry i of a Number Of Completed Packets event (i < num_handles). */
void hci_event_completed(const struct hci_event *ev, size_t i, uint16_t *handle, uint16_t *count);

#endif
