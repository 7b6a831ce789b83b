/* The Telemetry In -> provd bridge: forwards frames to POST {server}/api/devices/{id}/telemetry
 * with libcurl's multi interface, driven from the daemon's poll() loop; results per connection. */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BRIDGE_SERVER_MAX = 256,   /* --server URL length */
    BRIDGE_TIMEOUT_MS = 10000, /* a whole forward, connecting included */
    BRIDGE_ANSWER_MAX = 512,   /* bytes of the server's answer kept; the rest is dropped */
    BRIDGE_MAX_SOCKETS = 16,   /* sockets libcurl may ask us to watch at once */
};

struct bridge_config {
    const char *server;  /* http:// or https:// base URL (bridge_server_ok) */
    unsigned timeout_ms; /* 0: BRIDGE_TIMEOUT_MS */
    size_t max_conns;    /* connections with a forward or a result at once */
    /* A forward on conn finished: its Telemetry Result changed. */
    void (*done)(void *user_data, void *conn);
    void (*log)(void *user_data, const char *line);
    void *user_data;
};

struct bridge;

/* A base URL the bridge accepts: http:// or https://, at most BRIDGE_SERVER_MAX bytes of
 * printable ASCII without spaces and without the characters URLs never hold raw ("<>\^`{|}). */
bool bridge_server_ok(const char *url);

/* NULL with errno EINVAL (bad server, no callbacks) or ENOMEM. */
struct bridge *bridge_new(const struct bridge_config *cfg);
void bridge_free(struct bridge *b);

/* Starts forwarding a Telemetry In value ("id\nenvelope") for conn; returns at once.
 * 0, -EINVAL (not a frame, or a bad id), -EBUSY (conn has a forward in flight),
 * -ENOSPC (max_conns connections busy), -ENOMEM or -EIO (libcurl refused). */
int bridge_forward(struct bridge *b, void *conn, const uint8_t *value, size_t len);

/* Telemetry Result for conn into buf: {"status":N,"body":"..."} of its last forward, cut to cap;
 * status 0 while none finished ("no forward yet", "forwarding"). Length, or -ENOSPC. */
int bridge_result(const struct bridge *b, const void *conn, uint8_t *buf, size_t cap);

/* conn is gone: its forward is abandoned and its result forgotten. */
void bridge_drop(struct bridge *b, const void *conn);

/* poll() integration: the sockets libcurl waits on (at most cap entries), the milliseconds
 * until its timer fires (-1: none), and the work after poll() returned (fds as filled in by
 * bridge_pollfds, with revents). */
size_t bridge_pollfds(const struct bridge *b, struct pollfd *fds, size_t cap);
int bridge_timeout_ms(const struct bridge *b);
void bridge_process(struct bridge *b, const struct pollfd *fds, size_t n);

#endif
