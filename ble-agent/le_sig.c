/* LE signalling and SMP refusals: a Connection Parameter Update Request is answered
 * "rejected" (only the central applies parameters), other requests get Command Reject. */
#include "le_sig.h"

#include <stdbool.h>

#include "bt_bytes.h"

enum { SIG_HDR_LEN = 4 }; /* code, identifier, length(2) */

static size_t command_reject(uint8_t id, uint8_t *out)
{
    out[0] = LE_SIG_COMMAND_REJECT;
    out[1] = id;
    put_le16(out + 2, 2);
    put_le16(out + 4, LE_SIG_REJECT_NOT_UNDERSTOOD);
    return 6;
}

/* Responses never get an answer, or two ends that both reject unknown codes would loop. */
static bool is_response(uint8_t code)
{
    return code == LE_SIG_COMMAND_REJECT || code == LE_SIG_CONN_PARAM_RSP ||
           code == 0x07 /* Disconnection Response */ ||
           code == 0x15 /* LE Credit Based Connection Response */ ||
           code == 0x18 /* Credit Based Connection Response */ ||
           code == 0x1a /* Credit Based Reconfigure Response */;
}

size_t le_sig_answer(const uint8_t *pdu, size_t len, uint8_t *out)
{
    if (len < SIG_HDR_LEN)
        return 0;
    uint8_t code = pdu[0], id = pdu[1];
    size_t data_len = get_le16(pdu + 2);

    /* Identifier 0 is never valid (Part A 4). */
    if (id == 0 || is_response(code))
        return 0;
    if (code != LE_SIG_CONN_PARAM_REQ || data_len != 8 || len != SIG_HDR_LEN + 8)
        return command_reject(id, out);
    out[0] = LE_SIG_CONN_PARAM_RSP;
    out[1] = id;
    put_le16(out + 2, 2);
    put_le16(out + 4, LE_SIG_PARAM_REJECTED);
    return 6;
}

size_t smp_answer(const uint8_t *pdu, size_t len, uint8_t *out)
{
    if (len == 0 || pdu[0] == SMP_PAIRING_FAILED)
        return 0;
    out[0] = SMP_PAIRING_FAILED;
    out[1] = pdu[0] == SMP_PAIRING_REQUEST ? SMP_REASON_PAIRING_NOT_SUPPORTED : SMP_REASON_CMD_NOT_SUPPORTED;
    return 2;
}
