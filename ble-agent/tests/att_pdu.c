/* Test helpers for byte-exact ATT exchanges; a mismatch prints both PDUs in hex so the
 * failing byte is visible in the TAP log. */
#include "att_pdu.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "att_proto.h"

size_t att_pdu_send(struct att_server *srv, const uint8_t *req, size_t req_len, uint8_t *out)
{
    return att_server_handle(srv, req, req_len, out, ATT_MTU_MAX);
}

static void hex(char *buf, size_t cap, const uint8_t *p, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < len && n + 4 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%02x ", p[i]);
}

void att_pdu_expect(struct att_server *srv, const uint8_t *req, size_t req_len, const uint8_t *rsp,
                    size_t rsp_len)
{
    uint8_t out[ATT_MTU_MAX];
    size_t n = att_pdu_send(srv, req, req_len, out);

    if (n == rsp_len && (n == 0 || memcmp(out, rsp, n) == 0))
        return;
    char got[3 * ATT_MTU_MAX + 1], want[3 * ATT_MTU_MAX + 1], sent[3 * ATT_MTU_MAX + 1];
    hex(sent, sizeof(sent), req, req_len);
    hex(got, sizeof(got), out, n);
    hex(want, sizeof(want), rsp, rsp_len);
    fail_msg("sent  %s\ngot   %s\nwant  %s", sent, got, want);
}
