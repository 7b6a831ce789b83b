/* devsim_opts.h: devsim's command line, every value checked against its bounds before a device
 * is created. Kept apart from main() so the bounds are unit-tested. */
#ifndef DEVSIM_OPTS_H
#define DEVSIM_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "http_pool.h"

#define DEVSIM_MAX_DURATION_S      (30u * 86400u)
#define DEVSIM_MAX_INTERVAL_S      86400u
#define DEVSIM_MAX_RAMP_S          3600u
#define DEVSIM_DEFAULT_CONNECTIONS 64u
#define DEVSIM_STATE_DIR_MAX       1024

struct devsim_opts {
    struct fleet_options fleet; /* its strings point into this struct or argv */
    uint64_t duration_ms;       /* 0: until SIGINT/SIGTERM */
    bool help;
    char server[HTTP_POOL_BASE_MAX + 1];
};

extern const char devsim_usage[];

/* Parses argv (getopt_long: resets optind). Returns 0, or -1 with a message naming the option. */
int devsim_opts_parse(struct devsim_opts *o, int argc, char **argv, char *err, size_t err_len);

#endif
