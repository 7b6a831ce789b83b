/* The Telemetry In -> provd bridge: frames go into the spool first, then to
 * POST {server}/api/devices/{id}/telemetry (libcurl's multi interface, driven from the daemon's
 * poll() loop), in order per device, retried with backoff until provd answers definitively. */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

enum {
    BRIDGE_SERVER_MAX = 256,      /* --server URL length */
    BRIDGE_TIMEOUT_MS = 10000,    /* a whole forward, connecting included */
    BRIDGE_ANSWER_MAX = 512,      /* bytes of the server's answer kept; the rest is dropped */
    BRIDGE_MAX_SOCKETS = 16,      /* sockets libcurl may ask us to watch at once */
    BRIDGE_MAX_IN_FLIGHT = 4,     /* forwards at once, never two of one device */
    BRIDGE_RETRY_MIN_MS = 1000,   /* first wait after a failed attempt, doubled each time */
    BRIDGE_RETRY_MAX_MS = 30000,  /* longest wait between two attempts of one device */
};

struct bridge_config {
    const char *server;     /* http:// or https:// base URL (bridge_server_ok) */
    unsigned timeout_ms;    /* 0: BRIDGE_TIMEOUT_MS */
    unsigned retry_min_ms;  /* 0: BRIDGE_RETRY_MIN_MS */
    size_t max_conns;       /* connections whose Telemetry Result is kept at once */
    struct spool *spool;    /* borrowed; frames already in it are forwarded too */
    /* The latest frame written on conn ended: its Telemetry Result changed. */
    void (*done)(void *user_data, void *conn);
    void (*log)(void *user_data, const char *line);
    void *user_data;
};

struct bridge;

/* A base URL the bridge accepts: http:// or https://, at most BRIDGE_SERVER_MAX bytes of
 * printable ASCII without spaces and without the characters URLs never hold raw ("<>\^`{|}). */
bool bridge_server_ok(const char *url);

/* Which answers end a frame's life: 2xx, and 400, 403, 404, 409 (409: already stored). Any
 * other status (5xx, 429, and anything unexpected) is retried, as is no answer at all. */
bool bridge_status_final(long status);

/* NULL with errno EINVAL (bad server, no spool, no callbacks) or ENOMEM. */
struct bridge *bridge_new(const struct bridge_config *cfg);
void bridge_free(struct bridge *b);

/* Takes a Telemetry In value ("id\nenvelope") written on conn: once this returns 0 the frame
 * is in the spool, on disk, and will be forwarded whatever becomes of conn. -EINVAL (not a
 * frame, or a bad id), -ENOSPC (the spool is full), -EIO (the spool could not store it). */
int bridge_submit(struct bridge *b, void *conn, const uint8_t *value, size_t len);

/* Telemetry Result for conn into buf: {"status":N,"body":"..."} of provd's answer to the latest
 * frame written on conn, cut to cap; status 0 with "queued" while that frame waits, "no forward
 * yet" before any. Length, or -ENOSPC. */
int bridge_result(const struct bridge *b, const void *conn, uint8_t *buf, size_t cap);

/* conn is gone: its result is forgotten; its frames stay queued. */
void bridge_drop(struct bridge *b, const void *conn);

/* poll() integration: the sockets libcurl waits on (at most cap entries), the milliseconds
 * until the bridge has timed work (libcurl's timer, a retry; -1: none), and the work after
 * poll() returned (fds as filled in by bridge_pollfds, with revents). */
size_t bridge_pollfds(const struct bridge *b, struct pollfd *fds, size_t cap);
int bridge_timeout_ms(const struct bridge *b);
void bridge_process(struct bridge *b, const struct pollfd *fds, size_t n);

#endif
