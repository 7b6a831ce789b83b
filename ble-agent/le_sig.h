/* Answers a peripheral owes on the LE signalling channel (CID 5) and the Security Manager
 * channel (CID 6) when it supports neither parameter changes by the peer nor pairing. Pure. */
#ifndef LE_SIG_H
#define LE_SIG_H

#include <stddef.h>
#include <stdint.h>

/* Signalling codes (Core spec Vol 3 Part A 4) and SMP codes/reasons (Vol 3 Part H 3.3, 3.5.5) */
enum {
    LE_SIG_COMMAND_REJECT = 0x01,
    LE_SIG_CONN_PARAM_REQ = 0x12,
    LE_SIG_CONN_PARAM_RSP = 0x13,
    LE_SIG_REJECT_NOT_UNDERSTOOD = 0x0000,
    LE_SIG_PARAM_REJECTED = 0x0001,
    SMP_PAIRING_REQUEST = 0x01,
    SMP_PAIRING_FAILED = 0x05,
    SMP_REASON_PAIRING_NOT_SUPPORTED = 0x05,
    SMP_REASON_CMD_NOT_SUPPORTED = 0x07,
    LE_SIG_ANSWER_MAX = 6, /* longest answer either function writes */
};

/* One LE signalling C-frame payload in; the answer (at most LE_SIG_ANSWER_MAX bytes) in out.
 * Returns the answer's length, 0 when nothing is owed (responses, rejects, identifier 0,
 * frames too short to carry an identifier). */
size_t le_sig_answer(const uint8_t *pdu, size_t len, uint8_t *out);

/* One SMP PDU in; Pairing Failed out, or 0 for Pairing Failed itself and empty PDUs. */
size_t smp_answer(const uint8_t *pdu, size_t len, uint8_t *out);

#endif
