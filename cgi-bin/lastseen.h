/* Heartbeat times written in batches: a worker's heartbeats queue their lastseen, and a thread
 * with its own database connection hands the queue every LASTSEEN_GATHER_MS to the pool's
 * writer (cgi-bin/seen_pool.h), which writes all workers' batches in one transaction every
 * LASTSEEN_WRITE_MS; with no writer to take it, the thread writes its batch itself. */
#ifndef PROVD_LASTSEEN_H
#define PROVD_LASTSEEN_H

#include <stdbool.h>
#include <stddef.h>

#include "store_sqlite.h"

/* A heartbeat waits in its worker's queue up to LASTSEEN_GATHER_MS, in the writer's socket up
 * to as long again, then up to LASTSEEN_WRITE_MS, and takes one write (about 0.1 s at a
 * million devices): it shows in the list within 0.8 s. */
#define LASTSEEN_GATHER_MS 100
#define LASTSEEN_WRITE_MS  500
/* Devices a worker's batch holds (20k heartbeats/s per worker); beyond, a heartbeat writes its
 * own lastseen at once. */
#define LASTSEEN_QUEUE_MAX 2048

struct lastseen;

/* Opens the thread's connection to db_path and starts it; NULL with the reason in err. */
struct lastseen *lastseen_start(const char *db_path, char *err, size_t err_len);
/* Stops the thread after writing what it holds, and frees everything (the pool's writer part
 * passes to another worker). */
void lastseen_stop(struct lastseen *ls);

/* The store_seen_fn to give store_set_seen_sink(): false when the queue is full. */
bool lastseen_queue(int64_t row, int64_t at, void *lastseen);

/* The thread's connection, lent to this worker's readings committer (reading_pool.h) so that
 * the worker holds one connection less; nothing else uses it until it is given back. */
struct store *lastseen_lock_store(struct lastseen *ls);
void lastseen_unlock_store(struct lastseen *ls);

/* Whether this worker writes the pool's heartbeat times (for tests). */
bool lastseen_leads(struct lastseen *ls);

#endif
