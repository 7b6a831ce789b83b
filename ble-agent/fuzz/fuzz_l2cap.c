/* libFuzzer target for L2CAP reassembly and the signalling/SMP answers: each input is a run of
 * ACL payloads (flags byte: bit 0 = first fragment; length byte; bytes) on one connection. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "l2cap.h"
#include "le_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct l2cap_rx *rx = l2cap_rx_new(64);
    uint8_t out[LE_SIG_ANSWER_MAX];

    if (!rx)
        abort();
    for (size_t i = 0; i + 2 <= size;) {
        bool first = data[i] & 1;
        size_t len = data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        if (l2cap_rx_push(rx, first, data + i, len) == 1) {
            size_t frame_len;
            uint16_t cid;
            const uint8_t *frame = l2cap_rx_frame(rx, &frame_len, &cid);
            if (frame_len > 64)
                abort();
            if (cid == L2CAP_CID_LE_SIGNALING)
                le_sig_answer(frame, frame_len, out);
            else if (cid == L2CAP_CID_SMP)
                smp_answer(frame, frame_len, out);
        }
        i += len;
    }
    l2cap_rx_free(rx);
    return 0;
}
