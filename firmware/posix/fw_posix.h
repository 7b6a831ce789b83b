/* fw_posix.h: the firmware platform (fw_platform.h) on a POSIX host: HTTP through a shared
 * http_pool, OpenSSL AES and RNG, the SEQN record in memory or a state file, logs on stderr. */
#ifndef FW_POSIX_H
#define FW_POSIX_H

#include <stdbool.h>

#include "fw_client.h"
#include "http_pool.h"
#include "record_store.h"

/* ERROR lines printed before the rest are only counted (a fleet failing together would
 * otherwise bury the progress line). */
#define FW_POSIX_ERROR_LINES 20

/* What every device of one process shares. */
struct fw_posix_host {
    struct http_pool *pool;
    const char *state_dir; /* NULL: records live in memory only */
    bool offline;          /* refuse new requests: the host is shutting down */
    bool verbose;          /* also WARN and INFO lines */
    bool tty;              /* stderr is a terminal: clear the progress line first */
    unsigned error_lines;  /* ERROR lines so far */
};

/* One simulated device's platform state. */
struct fw_posix_device {
    struct fw_posix_host *host;
    const char *id; /* borrowed: the device id, also the state file's name */
    void *owner;    /* handed to the pool with each request: whose answer it is */
    struct record record;
};

/* Loads the device's record (from the state dir, if any). Returns 0, or -1 with errno. */
int fw_posix_device_init(struct fw_posix_device *d, struct fw_posix_host *host, const char *id, void *owner);
struct fw_platform fw_posix_platform(struct fw_posix_device *d);

#endif
