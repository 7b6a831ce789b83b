/* A bounded set of heartbeat times with one entry per device row, keeping the newest time: a
 * worker's queue of heartbeats, and the pool writer's merge of every worker's batches. */
#ifndef PROVD_SEEN_SET_H
#define PROVD_SEEN_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "store_sqlite.h"

struct seen_set;

/* A set that holds up to capacity devices; NULL when out of memory. */
struct seen_set *seen_set_new(size_t capacity);
void seen_set_free(struct seen_set *set);

/* Adds row seen at at, or moves its time forward; false when the set is full and row not in it. */
bool seen_set_put(struct seen_set *set, int64_t row, int64_t at);
size_t seen_set_count(const struct seen_set *set);

/* The entries, in no particular order. */
const struct store_seen *seen_set_entries(const struct seen_set *set);
/* The entries, sorted by row (rows that share a page are then written together). The set must
 * be cleared before the next put. */
const struct store_seen *seen_set_sorted(struct seen_set *set);
void seen_set_clear(struct seen_set *set);

#endif
