/* fw_posix.h: the firmware platform (fw_platform.h) on a POSIX host: HTTP through a shared
 * http_pool, OpenSSL AES and RNG, the SEQN record in memory or a state file, logs on stderr. */
#ifndef FW_POSIX_H
#define FW_POSIX_H

#include <stdbool.h>

#include "fw_client.h"
#include "fw_openssl.h"
#include "fw_update.h"
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

/* A simulated device's firmware: the version it runs, and the image it "stores": only hashed as
 * it arrives, never kept (10,000 devices downloading must not hold 10,000 images). */
struct fw_posix_firmware {
    char running[FW_VERSION_MAX + 1]; /* "": the device takes no updates */
    char booting[FW_VERSION_MAX + 1]; /* set by image_boot(): the host reboots the device */
    struct fw_openssl_sha256_stream *sha; /* over the bytes stored so far; NULL: none */
    uint32_t hashed;                      /* how many */
    uint8_t stored_sha[32];               /* the digest of the last complete image ... */
    uint32_t stored_size;                 /* ... and its size (0: none): what a flash would keep */
    uint8_t record[FW_UPDATE_RECORD_LEN]; /* the update's progress record, in memory */
    int record_len;                       /* -1: none */
};

/* One simulated device's platform state. */
struct fw_posix_device {
    struct fw_posix_host *host;
    const char *id; /* borrowed: the device id, also the state file's name */
    void *owner;    /* handed to the pool with each request: whose answer it is */
    struct record record;
    struct fw_posix_firmware fw;
};

/* Loads the device's record (from the state dir, if any); running: the firmware version it
 * runs (NULL: it takes no updates). Returns 0, or -1 with errno. */
int fw_posix_device_init(struct fw_posix_device *d, struct fw_posix_host *host, const char *id, void *owner,
                         const char *running);
/* Frees what a download in progress holds. */
void fw_posix_device_free(struct fw_posix_device *d);
/* With the image functions when the device runs a firmware version. */
struct fw_platform fw_posix_platform(struct fw_posix_device *d);

#endif
