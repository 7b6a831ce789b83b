/* ble-agent's spool: Telemetry In frames kept on disk from the moment a write is acknowledged
 * until provd gave a definitive answer; bounded in bytes and frames; ordered by arrival. */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry_frame.h"

enum {
    SPOOL_BYTES_MIN = 512,                  /* one frame always fits */
    SPOOL_BYTES_MAX = 1024 * 1024 * 1024,   /* 1 GiB */
    SPOOL_FRAMES_MAX = 1000000,
    SPOOL_DEFAULT_BYTES = 16 * 1024 * 1024, /* --spool-max default: 16 MiB */
    SPOOL_DEFAULT_FRAMES = 65536,           /* and 65536 frames */
    SPOOL_BODY_MAX = 512,                   /* a frame never exceeds an attribute value */
};

/* What a spool may hold: the bytes of its frames ("id\nenvelope", as written) and their number. */
struct spool_limits {
    size_t max_bytes;
    size_t max_frames;
};

/* One stored frame; id and body are borrowed for the duration of a callback (copies: the
 * callback may change the spool). */
struct spool_frame {
    int64_t seq; /* > 0, increasing with arrival, never reused */
    const char *id;
    const uint8_t *body;
    size_t body_len;
};

struct spool;

/* "BYTES,FRAMES" (BYTES may end in K or M, powers of 1024) within the SPOOL_* bounds: 0, or
 * -EINVAL. */
int spool_limits_parse(const char *text, struct spool_limits *out);

/* Opens (creating it) the spool file at path and holds it exclusively: a second process gets
 * -EBUSY. 0, or a negative errno (-EIO: not a spool, or unreadable) with the reason in why. */
int spool_open(const char *path, const struct spool_limits *limits, struct spool **out, char *why,
               size_t why_cap);
void spool_close(struct spool *sp);
/* The last failure of spool_put/heads/remove, for a log line. */
const char *spool_error(const struct spool *sp);

/* Appends a frame and returns only once it is on disk (fsync'd): 0 with its seq in *seq,
 * -ENOSPC when it would pass a limit (nothing stored), -EINVAL for an id of more than
 * TELEMETRY_ID_MAX bytes or a body of more than SPOOL_BODY_MAX, or -EIO. */
int spool_put(struct spool *sp, const char *id, const uint8_t *body, size_t body_len, int64_t *seq);
/* Calls fn with the oldest frame of each device, devices in id order (bytewise) starting with
 * the first after `after` and wrapping around ("": from the first), each once, until fn returns
 * false: a caller that passes the last device it served goes round them all in turn. Each step
 * is an index lookup, so a long queue of one device costs nothing to skip. 0 or -EIO. */
int spool_heads(struct spool *sp, const char *after, bool (*fn)(void *user_data, const struct spool_frame *f),
                void *user_data);
/* The frame's life has ended: 0 (also when it was not there) or -EIO. */
int spool_remove(struct spool *sp, int64_t seq);

size_t spool_frames(const struct spool *sp);
size_t spool_bytes(const struct spool *sp);

#endif
