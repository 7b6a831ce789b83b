/* record_store.h: a simulated device's small persistent record (the core's SEQN reservation),
 * kept in memory, or also in one file per device under a state directory to survive a restart. */
#ifndef RECORD_STORE_H
#define RECORD_STORE_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_MAX 32

struct record {
    int len; /* -1: nothing stored */
    uint8_t bytes[RECORD_MAX];
};

/* All return 0 (or a length) on success and -1 on failure, with errno set. */

/* Fills r from dir/<id>.seqn (dir NULL, or no such file: an empty record). A file that is not a
 * record (too long) counts as none, as a blank flash sector would. */
int record_load(struct record *r, const char *dir, const char *id);
/* Copies the record into buf; its length, or -1 when there is none or it does not fit. */
int record_read(const struct record *r, uint8_t *buf, size_t cap);
/* Replaces the record, first in dir/<id>.seqn (written aside, then renamed over, so a killed
 * process leaves the old or the new record, never half of one) when dir is not NULL. */
int record_write(struct record *r, const char *dir, const char *id, const uint8_t *buf, size_t len);

#endif
