/* A worker's checkpoints, on a thread with a connection of its own. A checkpoint syncs the WAL
 * and then the database file: at a million devices, with 1000 scattered pages to copy, that was
 * ~18 ms, nearly all of it in fdatasync, and the connection whose commit filled the WAL waited
 * it out, which during an ingest was the readings committer, a fifth of its time. Told the WAL's
 * length by the worker's commits, this thread copies it in steps while they go on. */
#ifndef PROVD_CHECKPOINTER_H
#define PROVD_CHECKPOINTER_H

#include <stddef.h>

/* A checkpoint each time the WAL has grown by this many pages: each ends in two fdatasyncs,
 * and one after every commit cost registrations at a million devices 43 us of CPU each. */
#define CHECKPOINTER_STEP_PAGES 250

struct checkpointer;

/* Opens the thread's connection to db_path and starts it; NULL with the reason in err. */
struct checkpointer *checkpointer_start(const char *db_path, char *err, size_t err_len);
/* The store_checkpointer_fn to give store_set_checkpointer(): asks for a checkpoint once the
 * WAL holds CHECKPOINTER_STEP_PAGES more than when the last one began. */
void checkpointer_wake(int wal_pages, void *checkpointer);
/* Runs the checkpoint asked for, if any, then stops the thread and frees everything. */
void checkpointer_stop(struct checkpointer *c);

#endif
