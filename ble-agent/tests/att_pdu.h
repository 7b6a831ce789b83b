/* Test helpers for byte-exact ATT exchanges: PDU(...) spells a PDU inline as (bytes, length),
 * att_pdu_expect() sends one to a server and checks the exact answer. */
#ifndef ATT_PDU_H
#define ATT_PDU_H

#include <stddef.h>
#include <stdint.h>

#include "att.h"

#define PDU(...)  ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})
#define NO_ANSWER NULL, 0

/* Sends req and fails the test unless the answer is exactly rsp (NO_ANSWER: nothing). */
void att_pdu_expect(struct att_server *srv, const uint8_t *req, size_t req_len, const uint8_t *rsp,
                    size_t rsp_len);
/* Sends req; the answer lands in out (ATT_MTU_MAX bytes) and its length is returned. */
size_t att_pdu_send(struct att_server *srv, const uint8_t *req, size_t req_len, uint8_t *out);

#endif
