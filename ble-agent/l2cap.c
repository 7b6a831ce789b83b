/* LE L2CAP basic frames: reassembly into one bounded buffer per connection (the length field
 * of the first fragment says how much follows) and fragmentation by offset. */
#include "l2cap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bt_bytes.h"

struct l2cap_rx {
    size_t max_frame;
    size_t want; /* header + payload length of the frame being collected; 0 when idle */
    size_t have;
    bool complete;
    uint8_t buf[]; /* L2CAP_HDR_LEN + max_frame */
};

struct l2cap_rx *l2cap_rx_new(size_t max_frame)
{
    struct l2cap_rx *rx = calloc(1, sizeof(*rx) + L2CAP_HDR_LEN + max_frame);

    if (rx)
        rx->max_frame = max_frame;
    return rx;
}

void l2cap_rx_free(struct l2cap_rx *rx)
{
    free(rx);
}

static int drop(struct l2cap_rx *rx, int err)
{
    rx->want = 0;
    rx->have = 0;
    return err;
}

int l2cap_rx_push(struct l2cap_rx *rx, bool start, const uint8_t *data, size_t len)
{
    rx->complete = false;
    if (start) {
        /* A new start abandons any unfinished frame, as the spec has receivers do. */
        rx->have = 0;
        if (len < L2CAP_HDR_LEN)
            return drop(rx, -EPROTO);
        if (get_le16(data) > rx->max_frame)
            return drop(rx, -EMSGSIZE);
        rx->want = L2CAP_HDR_LEN + (size_t)get_le16(data);
    } else if (rx->want == 0) {
        return -EPROTO;
    }
    if (len > rx->want - rx->have)
        return drop(rx, -EPROTO);
    if (len)
        memcpy(rx->buf + rx->have, data, len);
    rx->have += len;
    if (rx->have < rx->want)
        return 0;
    rx->complete = true;
    rx->want = 0;
    return 1;
}

const uint8_t *l2cap_rx_frame(const struct l2cap_rx *rx, size_t *len, uint16_t *cid)
{
    if (!rx->complete)
        return NULL;
    *len = rx->have - L2CAP_HDR_LEN;
    *cid = get_le16(rx->buf + 2);
    return rx->buf + L2CAP_HDR_LEN;
}

size_t l2cap_frame(uint16_t cid, const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    if (len > 0xffff || len + L2CAP_HDR_LEN > cap)
        return 0;
    put_le16(out, (uint16_t)len);
    put_le16(out + 2, cid);
    if (len)
        memcpy(out + L2CAP_HDR_LEN, payload, len);
    return L2CAP_HDR_LEN + len;
}

void l2cap_tx_init(struct l2cap_tx *tx, const uint8_t *frame, size_t len, size_t acl_mtu)
{
    tx->frame = frame;
    tx->len = len;
    tx->off = 0;
    tx->acl_mtu = acl_mtu;
}

bool l2cap_tx_next(struct l2cap_tx *tx, const uint8_t **frag, size_t *len, bool *first)
{
    if (tx->off >= tx->len || tx->acl_mtu == 0)
        return false;
    *first = tx->off == 0;
    *frag = tx->frame + tx->off;
    *len = tx->len - tx->off < tx->acl_mtu ? tx->len - tx->off : tx->acl_mtu;
    tx->off += *len;
    return true;
}
