/* The writer of readings for all the workers of a stack: it group-commits them on one connection
 * of its own, so that many readings share one commit (one flush of the log). Where the database
 * has one writer at a time (SQLite: STORE_NEEDS_ONE_WRITER) it is the database's one writer: it
 * also writes heartbeat times in batches and runs the checkpoints. Elsewhere (PostgreSQL) it is
 * this host's, beside the other hosts' writers and every worker's own writes; what must hold
 * among them the statements hold.
 *
 * Election: the worker holding flock() on <at>-writer.lock runs the writer, a thread listening
 * on <at>-writer.sock (SOCK_SEQPACKET, mode 0600); <at> is the database's path (SQLite) or one
 * in this host's run directory. Nobody is elected until a worker needs the
 * writer; when the writer's worker dies the kernel frees the lock, and the next worker that
 * cannot reach the writer takes over. A worker that can neither reach the writer nor become it
 * writes itself: no heartbeat or reading is refused or lost because of the writer. A reading the
 * writer took but did not answer (its worker died, or WRITER_WAIT_MS passed) may be stored, or be
 * stored yet: it is answered 503, as a broken connection to PostgreSQL is, and sent again gets
 * 201, or 409 if it was stored; taking it again here could answer 409 to the reading's first send.
 *
 * Messages, both ways: an 8-byte head (a version byte, WRITER_VERSION; a kind byte; two zero
 * bytes; the length of the whole message, 32 bits in host order), then the kind's fields. The
 * writer copies each field out of the bytes it received, never casting them in place; a message
 * whose version, kind or length (which must equal what was received) is wrong is dropped, and
 * if it says it is a reading, answered INGEST_UNREADABLE.
 *   reading: received_at (int64), proved (one byte, 0 or 1: the worker checked the call's proof),
 *            the device id (DEVICE_ID_MAX + 1 bytes, NUL-padded), the body;
 *   times:   n heartbeat times, each a device row (int64) and a time (int64);
 *   answer:  outcome (int32), seqn (int64), state (16 bytes), reason (int32), to a reading.
 *
 * Durability: a reading is answered after the commit of its batch (ingest_batch(); on SQLite each
 * reading in a savepoint of the batch's transaction, synced when PROVD_SYNCHRONOUS=full; on
 * PostgreSQL the batch's statements, each its own transaction). Heartbeat times wait up to
 * WRITER_GATHER_MS in their worker and up to WRITER_SEEN_MS in the writer: a crash or kill -9
 * loses at most the last ~0.6 s of heartbeat times, nothing else.
 *
 * Checkpoints (PASSIVE, then RESTART: store_checkpoint()) run on the writer's connection, in its
 * thread: its commits run one once the WAL holds 1000 pages (before that batch is answered), and
 * its loop runs one every WRITER_CHECKPOINT_MS between batches, for the WAL the other workers'
 * commits grow; their connections leave checkpoints to it (store_leave_checkpoints) up to a
 * fallback length. Not on a thread of their own: that would need a third connection in the
 * writer's worker (why, measured: bench/README.md, History). */
#ifndef PROVD_WRITER_H
#define PROVD_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "ingest.h"
#include "turns.h"

#define WRITER_VERSION        3
#define WRITER_THREADS 4     /* request threads of a worker, at most */
#define WRITER_WAIT_MS        10000 /* for a reading's answer, then the worker takes it itself */
#define WRITER_GATHER_MS      100   /* a worker's heartbeat times wait this long to be sent */
#define WRITER_SEEN_MS        500   /* and the writer writes what it merged this often */
#define WRITER_QUEUE_MAX      2048  /* heartbeat times a worker holds; more are written at once */
#define WRITER_CHECKPOINT_MS  100

struct writer;

/* A worker's way to the writer of config's database whose lock and socket are named after at
 * (see above), for its request threads 0 .. WRITER_THREADS - 1, which step aside in turns while they wait for an answer (turns may
 * be NULL). NULL when there can be no writer (the socket's path too long, the lock file not
 * openable, no memory): then the worker writes everything itself. */
struct writer *writer_open(const struct config *config, const char *at, struct turns *turns);
/* Hands over the heartbeat times still queued (or writes them on own, which may be NULL), stops
 * the writer if this worker runs it (after it took every message already sent), frees all. No
 * request thread may use w any more. */
void writer_free(struct writer *w, struct store *own);

/* The store_seen_fn to give store_set_seen_sink(): queues a heartbeat time; false when full. */
bool writer_seen(int64_t row, int64_t at, void *writer);
/* Sends the queued heartbeat times to the writer once the oldest has waited WRITER_GATHER_MS
 * (or the queue is nearly full); if no writer takes them, writes them on own (a connection the
 * caller may use now), or with own NULL keeps them for a later call. Returns the ms until the
 * next call is due, -1 when nothing is queued. No system call unless something is sent. */
int writer_hand_over(struct writer *w, struct store *own);

enum writer_submit {
    WRITER_ANSWERED,  /* r holds what became of the reading */
    WRITER_NOT_TAKEN, /* no writer took it: the caller takes it itself */
    WRITER_IN_DOUBT,  /* a writer took it and gave no answer: it may be stored (answer 503) */
};

/* Request thread `thread` hands a reading to the writer (proved: as ingest_reading()), becoming it
 * first if nobody is; a connection whose writer has gone, which takes nothing, is tried once more,
 * anew. */
enum writer_submit writer_submit(struct writer *w, int thread, const char *deviceid, const char *body,
                                 size_t len, int64_t now, bool proved, struct ingest_result *r);

/* Whether this worker runs the writer (for tests). */
bool writer_leads(struct writer *w);

#endif
