/* ble-agent's HCI host: brings a controller up, advertises, and serves the GATT database on
 * every LE connection. Pure: packets in through hci_host_input(), out through ops->send. */
#ifndef HCI_HOST_H
#define HCI_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_uuid.h"
#include "gatt_db.h"

enum {
    HCI_HOST_MAX_CONNS = 4,
    HCI_HOST_CMD_TIMEOUT_MS = 3000,
    HCI_HOST_MAX_QUEUED_FRAMES = 32, /* per connection, awaiting ACL buffer space */
};

struct hci_host_ops {
    /* Hands one H4 packet to the transport: 0, or a negative errno that stops the host. */
    int (*send)(void *user_data, const uint8_t *pkt, size_t len);
    /* One line a person can read, for each state change. */
    void (*log)(void *user_data, const char *line);
    /* Optional: the link whose ATT server had this conn pointer is gone (disconnected, or
     * dropped by a reset); the pointer may name a new link later. */
    void (*disconnected)(void *user_data, void *conn);
};

struct hci_host_config {
    const char *name;            /* advertised in the scan response */
    const struct bt_uuid *uuids; /* advertised service UUIDs */
    size_t n_uuids;
    struct gatt_db *db;      /* borrowed; served on every connection */
    unsigned cmd_timeout_ms; /* 0: HCI_HOST_CMD_TIMEOUT_MS */
    /* A link that sent no ATT PDU for this long is disconnected, so that idle peers cannot
     * hold every slot; 0: never. */
    unsigned idle_timeout_ms;
    const struct hci_host_ops *ops;
    void *user_data;
};

enum hci_host_state {
    HCI_HOST_STARTING, /* start-up sequence running */
    HCI_HOST_READY,    /* controller up; advertising or connected */
    HCI_HOST_STOPPING, /* disconnecting peers, stopping advertising */
    HCI_HOST_STOPPED,
    HCI_HOST_FAILED, /* see hci_host_error() */
};

struct hci_host;

/* The strings and UUIDs are copied. NULL with errno EINVAL or ENOMEM. */
struct hci_host *hci_host_new(const struct hci_host_config *cfg);
void hci_host_free(struct hci_host *h);

/* All of these return 0 or a negative errno; after an error the host is FAILED and
 * hci_host_error() names the cause (e.g. the command that timed out). */
/* Starts (or restarts) the start-up sequence: Reset, event masks, local version, features,
 * address, buffer sizes, then advertising. */
int hci_host_start(struct hci_host *h, uint64_t now_ms);
/* One H4 packet from the controller (indicator byte included). Malformed packets are
 * dropped; only failures of the host itself are errors. */
int hci_host_input(struct hci_host *h, const uint8_t *pkt, size_t len, uint64_t now_ms);
/* Checks the command timeout (-ETIMEDOUT when it passed) and disconnects idle links. */
int hci_host_tick(struct hci_host *h, uint64_t now_ms);
/* Milliseconds until hci_host_tick() has work, or -1 when no timer runs (a poll() timeout). */
int hci_host_timeout_ms(const struct hci_host *h, uint64_t now_ms);
/* Stops advertising and disconnects every peer; STOPPED once all is done. */
int hci_host_shutdown(struct hci_host *h, uint64_t now_ms);

/* Sends a notification of value to every connection subscribed to value_handle. Returns
 * the number of peers notified, or a negative errno. */
int hci_host_notify(struct hci_host *h, uint16_t value_handle, const uint8_t *value, size_t len);
/* The same for one link, named by the conn pointer its value callbacks receive: 1 when
 * notified, 0 when not subscribed or not connected, or a negative errno. */
int hci_host_notify_conn(struct hci_host *h, void *conn, uint16_t value_handle, const uint8_t *value,
                         size_t len);

enum hci_host_state hci_host_state(const struct hci_host *h);
const char *hci_host_error(const struct hci_host *h);
size_t hci_host_connections(const struct hci_host *h);
/* The controller's address in wire order (valid once READY). */
const uint8_t *hci_host_address(const struct hci_host *h);

#endif
