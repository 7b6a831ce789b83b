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

/* The exposition into res (200, text format 0.0.4): the counters (all 0 when m is NULL), then the
 * gauges of fleet, or provd_database_up 0 in their place when fleet is NULL (the database did not
 * answer). */
void metrics_write(const struct metrics *m, const struct store_fleet *fleet, struct response *res);

#endif
