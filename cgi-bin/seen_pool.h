/* One heartbeat-time writer for all the workers of a database. The worker that holds the lock
 * file <db>-seen.lock receives every other worker's batches on the datagram socket
 * <db>-seen.sock and writes them together: a million devices then cost far fewer pages per
 * heartbeat than four workers each writing their own few hundred rows. When the writer dies,
 * the kernel frees its lock and the next worker to try takes over. */
#ifndef PROVD_SEEN_POOL_H
#define PROVD_SEEN_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "store_sqlite.h"

struct seen_pool;

/* The pool of the database at db_path; NULL when there can be none here (the socket's path
 * would be too long, or the lock file cannot be opened): each worker then writes its own. */
struct seen_pool *seen_pool_open(const char *db_path);
/* Gives up the writer's part, if this worker had it. */
void seen_pool_free(struct seen_pool *pool);

/* True when this worker is the writer, becoming it first if nobody is. */
bool seen_pool_lead(struct seen_pool *pool);
/* Hands n heartbeat times to the writer; false when no writer takes them now (then write them). */
bool seen_pool_send(struct seen_pool *pool, const struct store_seen *seen, size_t n);
/* The writer stops taking batches before it stops: later ones are written by their workers
 * (their sends fail), while those already sent are still received. */
void seen_pool_resign(struct seen_pool *pool);
/* The writer's next received batch, at most max entries, without waiting; 0 when none waits. */
size_t seen_pool_receive(struct seen_pool *pool, struct store_seen *seen, size_t max);

#endif
