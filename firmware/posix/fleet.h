/* fleet.h: many simulated devices in one process: each a firmware core context on the POSIX
 * platform, stepped from one event loop (a timer heap of deadlines + the HTTP pool). */
#ifndef FLEET_H
#define FLEET_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "fw_client.h"
#include "latency.h"

#define FLEET_MAX_DEVICES        100000u
#define FLEET_PREFIX_MAX         48 /* leaves room for the index within a 64-character id */
#define FLEET_REQUEST_TIMEOUT_MS 30000L

struct fleet_options {
    const char *server;         /* base URL, no trailing slash */
    unsigned devices;           /* 1..FLEET_MAX_DEVICES */
    const char *id_prefix;      /* ids are the prefix + a 4-digit (or longer) index */
    struct fw_envelope_key key; /* every device's telemetry key */
    bool sign;                  /* sign every call with it (device trust) */
    unsigned interval_s;        /* poll interval until the server says otherwise */
    unsigned telemetry_every_s; /* one reading per device this often; 0: none */
    unsigned ramp_ms;           /* boots spread evenly over this long */
    unsigned connections;       /* HTTP connections at most */
    const char *state_dir;      /* NULL: SEQN records in memory */
    const char *firmware_version; /* what every device runs at start; NULL: no updates */
    unsigned fail_update_pct;     /* share of devices whose updated boot comes back old (0-100) */
    bool verbose;
};

struct fleet_stats {
    unsigned devices;
    unsigned registered;   /* devices registered at least once */
    uint64_t reg_refused;  /* 403 to a registration */
    uint64_t polls;        /* answered 200 or 304 */
    uint64_t not_modified; /* 304 */
    uint64_t configs_applied;
    uint64_t accepted;       /* readings the server stored (201, or 409 to a retry) */
    uint64_t refused;        /* readings the server would not take */
    uint64_t skipped;        /* readings not taken because the last one was still pending */
    uint64_t updates_booted; /* verified images booted */
    uint64_t updates_failed; /* images that failed verification or boot */
    uint64_t updated;        /* boots into a new version */
    uint64_t rolled_back;    /* boots of an update that came back with the old version */
    uint64_t image_bytes;    /* firmware bytes received */
    uint64_t retries;        /* failed requests, tried again after a backoff */
    uint64_t requests;       /* answered requests */
    uint64_t network_errors; /* requests without an HTTP answer */
    size_t in_flight;        /* requests waiting or on the wire */
    struct latency latency;  /* every request since the start */
    struct latency window;   /* since the last progress tick */
};

struct fleet;

/* Called about once a second while the fleet runs; the window histogram restarts afterwards. */
typedef void (*fleet_tick_fn)(const struct fleet_stats *st, uint64_t elapsed_ms, void *user_data);

/* Creates every device (and its state file's record). NULL with a message in err on failure. */
struct fleet *fleet_new(const struct fleet_options *opt, char *err, size_t err_len);
void fleet_free(struct fleet *f);

/* Runs until duration_ms has passed (0: no limit) or *stop becomes true, then stops starting
 * requests and waits for the ones on the wire. Returns 0, or -1 if the HTTP layer failed. */
int fleet_run(struct fleet *f, uint64_t duration_ms, const volatile sig_atomic_t *stop, fleet_tick_fn tick,
              void *user_data);

const struct fleet_stats *fleet_stats(const struct fleet *f);
/* After fleet_run(): devices not registered at the end, and readings whose last attempt got
 * no clear answer (stored or not, the server knows; devsim cannot count them). */
unsigned fleet_unregistered(const struct fleet *f);
unsigned fleet_unconfirmed(const struct fleet *f);

#endif
