/* Heartbeat times written in batches: a worker's heartbeats queue their lastseen, and a thread
 * with its own database connection writes the queue in one transaction every LASTSEEN_FLUSH_MS. */
#ifndef PROVD_LASTSEEN_H
#define PROVD_LASTSEEN_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

#define LASTSEEN_FLUSH_MS 250 /* a heartbeat shows in the list within this (and one write) */

struct lastseen;

/* Opens the thread's connection to db_path and starts it; NULL with the reason in err. */
struct lastseen *lastseen_start(const char *db_path, char *err, size_t err_len);

/* The store_seen_fn to give store_set_seen_sink(): false when the queue is full. */
bool lastseen_queue(int64_t row, int64_t at, void *lastseen);

#endif
