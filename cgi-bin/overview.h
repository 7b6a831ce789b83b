/* The devices gone offline most recently as a worker last read them, for GET /api/overview
 * (overview.c): reading them reads every device, seconds on a large fleet, which a page polling
 * every few seconds must not cost each time. */
#ifndef PROVD_OVERVIEW_H
#define PROVD_OVERVIEW_H

#include <stdint.h>

#include "validate.h"

#define RECENTLY_OFFLINE_MAX 10

struct offline_device {
    char deviceid[DEVICE_ID_MAX + 1];
    char name[4 * NAME_MAX_CHARS + 1];
    char state[16];
    int64_t lastseen, offline_since;
};

/* Read afresh while a read takes under METRICS_FLEET_CHEAP_MICROS; past that, kept until it is
 * METRICS_FLEET_RECOUNT_FACTOR reads' time old (metrics.h's rule for the fleet's counts). */
struct recently_offline {
    int count;
    int64_t read_at; /* Unix s */
    int64_t micros;  /* how long the read took; 0: never read */
    struct offline_device devices[RECENTLY_OFFLINE_MAX];
};

/* The versions devices run (store_firmware_running()), most devices first, kept as
 * struct recently_offline is. */
#define FIRMWARE_COUNTS_MAX 12
struct firmware_counts {
    int count;
    int64_t read_at, micros;
    struct {
        char version[FIRMWARE_VERSION_MAX + 1];
        int64_t devices;
    } running[FIRMWARE_COUNTS_MAX];
};

#endif
