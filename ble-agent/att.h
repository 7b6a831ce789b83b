/* ATT server core for one connection: request PDU in, response PDU out, no I/O
 * (Core spec Vol 3 Part F). Also builds notifications and indications for subscribed values. */
#ifndef ATT_H
#define ATT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gatt_db.h"

/* Prepared writes a connection may queue before Execute Write (Prepare Queue Full past these). */
enum {
    ATT_PREP_MAX_ENTRIES = 64,
    ATT_PREP_MAX_BYTES = 2 * GATT_MAX_VALUE_LEN,
};

struct att_server;

/* db is borrowed and must outlive the server; conn is handed to every value callback.
 * max_mtu (ATT_MTU_MIN..ATT_MTU_MAX) is the MTU offered in Exchange MTU. NULL on bad
 * arguments (errno EINVAL) or out of memory. */
struct att_server *att_server_new(struct gatt_db *db, void *conn, uint16_t max_mtu);
void att_server_free(struct att_server *srv);

/* Handles one PDU from the peer and writes the answer (at most att_server_mtu() bytes) into
 * out. Returns the answer's length, 0 when there is nothing to send (commands, confirmations,
 * PDUs a server does not answer) or when out_cap is below att_server_mtu(). */
size_t att_server_handle(struct att_server *srv, const uint8_t *pdu, size_t len, uint8_t *out,
                         size_t out_cap);

/* Builds a Handle Value Notification / Indication of value for the characteristic value at
 * handle, cut to MTU-3, if this peer subscribed to it. Returns the PDU length, 0 when the
 * peer did not subscribe, -EINVAL for a handle without a CCCD or out_cap below the MTU,
 * and for indications -EBUSY while the previous one awaits its confirmation. */
ssize_t att_server_notify(struct att_server *srv, uint16_t handle, const uint8_t *value, size_t len,
                          uint8_t *out, size_t out_cap);
ssize_t att_server_indicate(struct att_server *srv, uint16_t handle, const uint8_t *value, size_t len,
                            uint8_t *out, size_t out_cap);

/* True from an indication until its Handle Value Confirmation (the caller times it out). */
bool att_server_indication_pending(const struct att_server *srv);
uint16_t att_server_mtu(const struct att_server *srv);
/* The peer's CCCD value for the characteristic value at handle (0 when none). */
uint16_t att_server_ccc(const struct att_server *srv, uint16_t handle);

#endif
