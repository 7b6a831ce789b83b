/* What only the SQLite backend has, for the single writer that serves it (STORE_NEEDS_ONE_WRITER,
 * STORE_NEEDS_CHECKPOINTS, cgi-bin/writer.h): heartbeat times written in batches,
 * checkpoints on the writer's connection, a smaller page cache, and batches of operations in one
 * transaction. Each call takes a store opened on a SQLite file (store_needs() has those needs). */
#ifndef PROVD_STORE_SQLITE_H
#define PROVD_STORE_SQLITE_H

#include "store.h"

/* Halves the connection's page cache: for the writer's connection, whose heartbeat-time batches
 * at a million devices read most of those pages once each, so its cache keeps little from one
 * batch to the next. */
enum store_status store_use_small_cache(struct store *s);
/* A heartbeat whose lastseen write waits for a batch (see cgi-bin/writer.h). The device
 * is named by its row, a 16-byte entry and no index lookup to write it. Should the device be
 * deleted and its row reused by a new one meanwhile, the new device gets this time, which is
 * within a batch of its own registration. */
struct store_seen {
    int64_t row;
    int64_t at;
};
/* Takes a lastseen write for later; false when it cannot (the heartbeat then writes it). */
typedef bool (*store_seen_fn)(int64_t row, int64_t at, void *user_data);
/* From now on the lastseen writes of heartbeats, re-registrations and readings go to fn (NULL:
 * the store writes them itself). */
void store_set_seen_sink(struct store *s, store_seen_fn fn, void *user_data);
/* From now on this connection's commits leave checkpoints to another connection's
 * store_checkpoint() (the writer's), unless the WAL grows four times as long as a checkpoint
 * lets it: then the commit checkpoints all the same, so the WAL stays bounded. Without this
 * call, commits checkpoint themselves. */
void store_leave_checkpoints(struct store *s);
/* A checkpoint: copies what it can of the WAL into the database while writers go on (PASSIVE),
 * and starts the WAL over (RESTART) when it is as long as a commit's checkpoint would. What it
 * cannot do now, the next one does. */
void store_checkpoint(struct store *s);
/* Moves lastseen forward (never back) for each of the n devices, in one transaction. */
enum store_status store_device_seen(struct store *s, const struct store_seen *seen, size_t n);
/* A batch: the operations until store_batch_commit() share one write transaction, each in a
 * savepoint of it (one that fails undoes itself alone); nothing is durable before the commit,
 * and when it fails, none of them happened. */
enum store_status store_batch_begin(struct store *s);
enum store_status store_batch_commit(struct store *s);

#endif
