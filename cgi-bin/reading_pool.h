/* One committer for every worker's telemetry readings. The worker holding the lock file
 * <db>-readings.lock runs a thread that receives readings on the socket
 * <db>-readings.sock and takes those that arrive together in one write transaction
 * (each in a savepoint), answering each after the commit. Four workers each committing their
 * own reading fought over SQLite's write lock and emptied each other's page caches: a reading
 * cost them ~36 system calls, a handed-over one costs the worker two. When the committer's
 * worker dies, the kernel frees the lock and the next worker with a reading takes over. */
#ifndef PROVD_READING_POOL_H
#define PROVD_READING_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "ingest.h"
#include "lastseen.h"
#include "turns.h"

/* How long a worker waits for the committer's answer before taking the reading itself
 * (as long as SQLite's busy timeout). */
#define READING_POOL_WAIT_MS 10000

struct reading_pool;

/* One request thread's way to the pool of config's database: the committer (when this thread
 * becomes it) takes readings with config's keys, on the connection seen lends it, and queues
 * their heartbeat times there. While the thread waits for an answer it steps aside in turns
 * (NULL: no other thread to let run). NULL when there can be no pool (path too long, lock file
 * not openable): then every worker takes its own readings. */
struct reading_pool *reading_pool_open(const struct config *config, struct lastseen *seen,
                                       struct turns *turns);
/* Stops the committer, if this worker had it, after it answered what it received. */
void reading_pool_free(struct reading_pool *pool);

/* Hands one reading to the committer (becoming it first if nobody is) and fills r with what
 * became of it; false when no committer answered: the caller takes it itself (should the
 * committer have stored it before it stopped, the SEQN check answers 409, never twice). */
bool reading_pool_submit(struct reading_pool *pool, const char *deviceid, const char *body, size_t len,
                         int64_t now, struct ingest_result *r);

/* Whether this worker runs the committer (for tests). */
bool reading_pool_leads(struct reading_pool *pool);

#endif
