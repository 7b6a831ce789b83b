/* LE L2CAP basic frames over ACL: bounded reassembly of received ACL payloads into frames and
 * splitting of frames into ACL payloads that fit the controller's buffer. Pure: no I/O. */
#ifndef L2CAP_H
#define L2CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    L2CAP_HDR_LEN = 4, /* length(2) + channel id(2), Core spec Vol 3 Part A 3.1 */
    L2CAP_CID_ATT = 0x0004,
    L2CAP_CID_LE_SIGNALING = 0x0005,
    L2CAP_CID_SMP = 0x0006,
};

struct l2cap_rx;

/* max_frame bounds a reassembled frame's payload (e.g. the ATT MTU). NULL on ENOMEM. */
struct l2cap_rx *l2cap_rx_new(size_t max_frame);
void l2cap_rx_free(struct l2cap_rx *rx);

/* Feeds one received ACL payload; start is true for a first fragment (packet boundary flag
 * 0b10 or 0b00), false for a continuation (0b01). Returns 1 when a whole frame is ready (read
 * it with l2cap_rx_frame() before the next push), 0 when more fragments are due, -EPROTO for
 * a fragment out of sequence or a frame overrun, -EMSGSIZE for a frame over max_frame; on
 * errors the partial frame is dropped. */
int l2cap_rx_push(struct l2cap_rx *rx, bool start, const uint8_t *data, size_t len);
/* The last complete frame: its payload (borrowed), length and channel id. */
const uint8_t *l2cap_rx_frame(const struct l2cap_rx *rx, size_t *len, uint16_t *cid);

/* Writes a basic frame header + payload into out; returns its length, or 0 if it does not fit
 * in cap or the payload exceeds 65535 bytes. */
size_t l2cap_frame(uint16_t cid, const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/* Walks a frame in ACL payloads of at most acl_mtu bytes. */
struct l2cap_tx {
    const uint8_t *frame;
    size_t len;
    size_t off;
    size_t acl_mtu;
};

void l2cap_tx_init(struct l2cap_tx *tx, const uint8_t *frame, size_t len, size_t acl_mtu);
/* The next fragment, and whether it starts the frame; false when the frame is all sent. */
bool l2cap_tx_next(struct l2cap_tx *tx, const uint8_t **frag, size_t *len, bool *first);

#endif
