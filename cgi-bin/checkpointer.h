/* A worker's checkpoints, on a thread with a connection of its own. A checkpoint syncs the WAL
 * and then the database file: at a million devices, with 1000 scattered pages to copy, that was
 * ~18 ms, nearly all of it in fdatasync, and the connection whose commit filled the WAL waited
 * it out, which during an ingest was the readings committer, a fifth of its time. Woken by the
 * worker's commits, this thread copies the WAL while they go on. */
#ifndef PROVD_CHECKPOINTER_H
#define PROVD_CHECKPOINTER_H

#include <stddef.h>

struct checkpointer;

/* Opens the thread's connection to db_path and starts it; NULL with the reason in err. */
struct checkpointer *checkpointer_start(const char *db_path, char *err, size_t err_len);
/* The store_checkpointer_fn to give store_set_checkpointer(): asks for a checkpoint soon. */
void checkpointer_wake(void *checkpointer);
/* Runs the checkpoint asked for, if any, then stops the thread and frees everything. */
void checkpointer_stop(struct checkpointer *c);

#endif
