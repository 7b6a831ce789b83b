/* Metrics: the counters a host's provd workers share (requests, readings, registrations, polls),
 * kept in one small mapped file so that they outlive any worker, and GET /api/metrics, which
 * writes them and the fleet's gauges in Prometheus's text format. */
#ifndef PROVD_METRICS_H
#define PROVD_METRICS_H

#include <stdint.h>

#include "http.h"
#include "store.h"

enum metrics_reading {
    METRICS_READING_ACCEPTED,
    METRICS_READING_REPLAY,     /* 409: SEQN not above the last accepted one */
    METRICS_READING_UNREADABLE, /* 400 */
    METRICS_READING_REFUSED,    /* 403, 404: not accepted, no key, unknown device */
    METRICS_READING__COUNT
};

enum metrics_poll {
    METRICS_POLL_NOT_MODIFIED, /* 304: the device holds its configuration */
    METRICS_POLL_CONFIG,       /* 200: the configuration sent */
    METRICS_POLL__COUNT
};

/* Slots for the route table's entries (router.c) and one for requests no route matched. */
#define METRICS_ROUTES_MAX 32
#define METRICS_NO_ROUTE   (-1)

struct metrics;

/* Maps the counters in the file at path, shared by every process that maps it: made when
 * missing, and made anew when it holds another layout (another binary's route table or buckets;
 * processes still mapping the old one keep counting there, unseen). path NULL: counters of this
 * process alone. NULL with the reason in err. */
struct metrics *metrics_open(const char *path, char *err, size_t err_len);
/* Unmaps the counters; the file stays for the next worker. */
void metrics_close(struct metrics *m);

/* Counting: each an atomic add to the shared counters, no lock; m NULL counts nothing (programs
 * and tests without metrics). route: the index in the route table, or METRICS_NO_ROUTE. */
void metrics_request(struct metrics *m, int route, int status, int64_t micros);
void metrics_reading(struct metrics *m, enum metrics_reading r);
void metrics_registration(struct metrics *m);
void metrics_poll(struct metrics *m, enum metrics_poll p);

/* The fleet's gauges (store_fleet()) as the host last counted them. Counting a million devices
 * takes seconds, which a scrape must not: while a count takes under METRICS_FLEET_CHEAP_MICROS,
 * each caller counts afresh; past that, callers get the last count, and once it is
 * METRICS_FLEET_RECOUNT_FACTOR counts' time old, one of them (one at a time per host) counts again,
 * after its answer has gone. */
#define METRICS_FLEET_CHEAP_MICROS   10000
#define METRICS_FLEET_RECOUNT_FACTOR 20
enum metrics_fleet_answer {
    METRICS_FLEET_COUNT,        /* count now, then metrics_fleet_counted() (also when m is NULL) */
    METRICS_FLEET_KEPT,         /* *out and *counted_at: the last count */
    METRICS_FLEET_KEPT_RECOUNT, /* the same, and this caller counts again once it has answered */
};
enum metrics_fleet_answer metrics_fleet_kept(struct metrics *m, int64_t now, struct store_fleet *out,
                                             int64_t *counted_at);
/* Keeps a count made at counted_at (Unix s) that took micros. */
void metrics_fleet_counted(struct metrics *m, const struct store_fleet *fleet, int64_t counted_at, int64_t micros);

/* The exposition into res (200, text format 0.0.4): the counters (all 0 when m is NULL), then the
 * gauges of fleet counted at counted_at, or provd_database_up 0 in their place when fleet is NULL
 * (the database did not answer). */
void metrics_write(const struct metrics *m, const struct store_fleet *fleet, int64_t counted_at,
                   struct response *res);

#endif
