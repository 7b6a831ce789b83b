/* The SQLite backend of store.h: opening a connection (schema migration, PRAGMAs, checkpoints),
 * the statement and transaction helpers the backend's files share (store_sqlite_internal.h), the
 * SQLite-only parts of store_sqlite.h, and the backend's table of operations. */
#include "store_sqlite_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "migrations.h"
#include "seen_blocks.h"
#include "sqlite_backup.h"

/* Long enough that a burst of writers queues instead of failing: callers never see "busy".
 * A writer holds the lock for tens of microseconds, so the wait is in short steps (50 us more
 * each time, at most 1 ms): sqlite3_busy_timeout()'s 1, 2, 5 ... 100 ms sleeps made the tails. */
#define BUSY_TIMEOUT_MS  10000
#define BUSY_STEP_US     50
#define BUSY_MAX_STEP_US 1000

#define SMALL_CACHE_KIB "128" /* see store_use_small_cache() */

/* The WAL is copied into the database and started over once it holds this many pages (SQLite's
 * own default); one that grew larger (a bulk load) is cut back to WAL_LIMIT_BYTES then. A
 * checkpoint waits for older readers at most CHECKPOINT_WAIT_STEPS of busy_wait (about 5 ms);
 * one that could not finish is tried again CHECKPOINT_RETRY_PAGES later, waiting twice as long
 * each time up to CHECKPOINT_WAIT_STEPS_MAX (about 19 ms). */
#define CHECKPOINT_PAGES          1000
#define CHECKPOINT_WAIT_STEPS     14
#define CHECKPOINT_RETRY_PAGES    250
#define CHECKPOINT_WAIT_STEPS_MAX 28
#define WAL_LIMIT_BYTES           "16777216"
/* A connection that leaves its checkpoints to the writer (store_leave_checkpoints) runs one all
 * the same when the WAL reaches CHECKPOINT_FALLBACK_PAGES (the writer stopped or fell behind). */
#define CHECKPOINT_FALLBACK_PAGES (4 * CHECKPOINT_PAGES)

static const struct store_ops sqlite_ops;

struct sqlite_store *sqlite_of(struct store *base)
{
    return (struct sqlite_store *)base;
}

/* what may be a statement's SQL: its start names it well enough, and leaves room for the why. */
enum store_status fail(struct sqlite_store *s, const char *what)
{
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.100s: %s", what, sqlite3_errmsg(s->db));
    return STORE_ERROR;
}

/* A statement ready for binding: the previous use was reset and its bindings cleared. It is
 * prepared at its first use: a connection needs few of the statements (the writer's a dozen) and each
 * prepared one holds kilobytes. Should preparing fail (out of memory), NULL goes on: SQLite answers every
 * call on it with SQLITE_MISUSE, so the operation fails with the preparation's error still in
 * sqlite3_errmsg(). */
sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt id)
{
    if (!s->stmt[id])
        sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
    return s->stmt[id];
}

void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows. */
enum store_status exec_stmt(struct sqlite_store *s, enum stmt id)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, stmt_sql[id]);
}

/* An operation's transaction; inside a batch, a savepoint of the batch's transaction (none
 * once an error made SQLite roll the batch back: the rest of it fails, nothing commits alone). */
enum store_status begin(struct sqlite_store *s)
{
    if (s->in_batch && sqlite3_get_autocommit(s->db)) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "the batch's transaction was rolled back");
        return STORE_ERROR;
    }
    return exec_stmt(s, s->in_batch ? STMT_SAVEPOINT : STMT_BEGIN);
}

static enum store_status commit(struct sqlite_store *s)
{
    return exec_stmt(s, s->in_batch ? STMT_RELEASE : STMT_COMMIT);
}

void roll_back(struct sqlite_store *s)
{
    sqlite3_stmt *rb = stmt(s, s->in_batch ? STMT_ROLLBACK_TO : STMT_ROLLBACK);
    sqlite3_step(rb);
    stmt_done(rb);
    if (s->in_batch)
        commit(s); /* ROLLBACK TO leaves the savepoint open */
}

/* Ends an operation: commits on success, rolls back otherwise, and passes the status on. An
 * operation refused inside a batch undoes itself alone. */
enum store_status finish(struct sqlite_store *s, enum store_status st)
{
    if (st == STORE_OK || st == STORE_CREATED)
        return commit(s) == STORE_OK ? st : STORE_ERROR;
    roll_back(s);
    return st;
}

static enum store_status sqlite_read_begin(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    return exec_stmt(s, STMT_BEGIN_READ);
}

static void sqlite_read_end(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (exec_stmt(s, STMT_COMMIT) != STORE_OK)
        roll_back(s);
}

enum store_status store_batch_begin(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = exec_stmt(s, STMT_BEGIN);
    s->in_batch = st == STORE_OK;
    return st;
}

/* An admin's change is a batch of its own: its operations in savepoints of one transaction. */
static enum store_status sqlite_write_begin(struct store *base)
{
    return store_batch_begin(base);
}

static enum store_status sqlite_write_end(struct store *base, bool commit)
{
    struct sqlite_store *s = sqlite_of(base);
    if (commit)
        return store_batch_commit(base);
    s->in_batch = false;
    roll_back(s);
    return STORE_OK;
}

enum store_status store_batch_commit(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    s->in_batch = false;
    enum store_status st = exec_stmt(s, STMT_COMMIT);
    if (st != STORE_OK)
        roll_back(s);
    return st;
}

const char *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

int64_t column_int_or(sqlite3_stmt *st, int i, int64_t if_null)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? if_null : sqlite3_column_int64(st, i);
}

/* Runs a statement returning one row of integers into out[0..n). */
enum store_status read_counts(struct sqlite_store *s, enum stmt id, int64_t *out, int n)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        for (int i = 0; i < n; i++)
            out[i] = sqlite3_column_int64(st, i);
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : fail(s, stmt_sql[id]);
}

/* Runs a write of at most one row; STORE_NOT_FOUND when no row changed. */
enum store_status write_one_row(struct sqlite_store *s, enum stmt id)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return fail(s, stmt_sql[id]);
    return sqlite3_changes(s->db) > 0 ? STORE_OK : STORE_NOT_FOUND;
}

/* Runs a delete of up to ?2 rows older than ?1; *deleted says how many went. */
enum store_status delete_batch(struct sqlite_store *s, enum stmt id, int64_t before, int max, int *deleted,
                               const char *what)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int(st, 2, max);
    int rc = sqlite3_step(st);
    stmt_done(st);
    *deleted = rc == SQLITE_DONE ? sqlite3_changes(s->db) : 0;
    return rc == SQLITE_DONE ? STORE_OK : fail(s, what);
}

/* The migrations applied; -1 when it cannot be read. */
static int schema_version(struct sqlite_store *s)
{
    sqlite3_stmt *st;
    int version = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return version;
}

/* A database already migrated is only read: opening a connection then never waits for a
 * writer (the writer's connection is opened while another program may hold the write lock). */
static enum store_status migrate(struct sqlite_store *s)
{
    if (schema_version(s) == provd_migration_count)
        return STORE_OK;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "begin migration");
    int version = schema_version(s);
    enum store_status result = STORE_OK;
    if (version < 0) {
        result = fail(s, "read schema version");
    } else if (version > provd_migration_count) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "the database has schema version %d; this provd knows %d: upgrade provd", version,
                 provd_migration_count);
        result = STORE_ERROR;
    }
    /* Only the migrations that read or write heartbeat-time blocks call their functions. */
    if (result == STORE_OK && version < SEEN_BLOCKS_LAST_MIGRATION &&
        seen_blocks_register(s->db) != SQLITE_OK)
        result = fail(s, "register the heartbeat-time block functions");
    for (int i = version; result == STORE_OK && i < provd_migration_count; i++) {
        if (sqlite3_exec(s->db, provd_migrations[i].sql, NULL, NULL, NULL) != SQLITE_OK)
            result = fail(s, provd_migrations[i].name);
    }
    if (result == STORE_OK && version < provd_migration_count) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", provd_migration_count);
        if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
            result = fail(s, "set schema version");
    }
    sqlite3_exec(s->db, result == STORE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    if (version < SEEN_BLOCKS_LAST_MIGRATION)
        seen_blocks_unregister(s->db);
    return result;
}

/* After each commit. SQLite's own auto-checkpoint is PASSIVE: it copies only what no reader
 * still needs, so under steady load, with readers always overlapping, it never finishes and the
 * WAL grows without bound (hundreds of MB a minute of ingest). RESTART waits for the readers of
 * older snapshots (they take microseconds), so the WAL is copied in full and the next writer
 * starts it over. Writers wait meanwhile, so the wait is short: a reader that holds its
 * snapshot longer (a big CSV export) wins. So does, on a busy machine, a reader descheduled in
 * the middle of its read; hence the sooner, longer retries: with 1000 pages and 5 ms each time,
 * the WAL grew to 24-58 MB in test_store's bound test with the cores busy, with them 6-8 MB.
 * A PASSIVE pass goes first: it copies and syncs nearly everything while other writers go on,
 * so RESTART, which holds them off, has little left (at 1M devices, registrations' p99 32-49 ms
 * instead of 49-70: they no longer wait out a whole checkpoint). Under a writer, its connection
 * does both, between its batches (cgi-bin/writer.h). */
static void checkpoint_schedule_first(struct sqlite_store *s)
{
    s->checkpoint_at = CHECKPOINT_PAGES;
    s->checkpoint_steps = CHECKPOINT_WAIT_STEPS;
}

/* The RESTART part, once the WAL holds pages, its PASSIVE pass done. */
static void restart_when_full(struct sqlite_store *s, const char *schema, int pages)
{
    if (pages < CHECKPOINT_PAGES)
        checkpoint_schedule_first(s); /* someone started the WAL over */
    if (pages < s->checkpoint_at)
        return;
    s->checkpointing = true;
    int rc = sqlite3_wal_checkpoint_v2(s->db, schema, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    s->checkpointing = false;
    if (rc == SQLITE_OK) {
        checkpoint_schedule_first(s);
    } else {
        s->checkpoint_at = pages + CHECKPOINT_RETRY_PAGES;
        s->checkpoint_steps *= 2;
        if (s->checkpoint_steps > CHECKPOINT_WAIT_STEPS_MAX)
            s->checkpoint_steps = CHECKPOINT_WAIT_STEPS_MAX;
    }
}

static int checkpoint_when_full(void *data, sqlite3 *db, const char *schema, int pages)
{
    struct sqlite_store *s = data;
    if (s->checkpoints_elsewhere && pages < CHECKPOINT_FALLBACK_PAGES) {
        if (pages < CHECKPOINT_PAGES)
            checkpoint_schedule_first(s); /* started over: a fallback's retries start afresh */
        return SQLITE_OK;
    }
    if (pages >= s->checkpoint_at)
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    restart_when_full(s, schema, pages);
    return SQLITE_OK;
}

void store_leave_checkpoints(struct store *base)
{
    sqlite_of(base)->checkpoints_elsewhere = true;
}

void store_checkpoint(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    int pages = -1;
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &pages, NULL) == SQLITE_OK)
        restart_when_full(s, NULL, pages);
}

/* Waits count steps in all; each is at most 1 ms, so the whole wait stays under BUSY_TIMEOUT_MS. */
static int busy_wait(void *data, int count)
{
    const struct sqlite_store *s = data;
    if (count >= (s->checkpointing ? s->checkpoint_steps : BUSY_TIMEOUT_MS))
        return 0;
    long us = BUSY_STEP_US * (long)(count + 1);
    struct timespec pause = {0, (us < BUSY_MAX_STEP_US ? us : BUSY_MAX_STEP_US) * 1000};
    nanosleep(&pause, NULL);
    return 1;
}

/* SQLite sets 20 pages (~90 KB) aside for each connection's cache at its first read. A
 * connection that reads little would keep them for nothing, and the others
 * fill their cache page by page all the same. Process-wide: once, before the first connection. */
static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

static enum store_status sqlite_backup(struct store *base, const char *path, store_progress_fn fn,
                                      void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    if (sqlite_backup_to(s->db, path, fn, user_data, s->base.errmsg, sizeof s->base.errmsg))
        return STORE_OK;
    return STORE_ERROR;
}

static enum store_status sqlite_restore(struct store *base, const char *path, store_progress_fn fn,
                                       void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    if (!sqlite_backup_restore(s->db, path, provd_migration_count, fn, user_data, s->base.errmsg,
                               sizeof s->base.errmsg))
        return STORE_ERROR;
    return migrate(s);
}

static void sqlite_free(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (!s)
        return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    if (s->alert_lock >= 0)
        close(s->alert_lock);
    free(s);
}

struct store *store_sqlite_open(const char *path, char *err, size_t err_len)
{
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->base.ops = &sqlite_ops;
    s->alert_lock = -1;
    pthread_once(&sqlite_configured, configure_sqlite);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_handler(s->db, busy_wait, s);
    /* WAL: readers never block the writer. synchronous=NORMAL: a commit is in the WAL (the OS's
     * page cache) before the answer, so it survives the death of any process; only a power cut
     * can lose the last commits before a checkpoint. The page cache is small (CACHE_KIB): any
     * other worker's commit empties it, so a bigger one only adds to the worker's memory.
     * secure_delete: what is deleted (a key replaced, a device, old readings) is overwritten with
     * zeros, not left in free pages for whoever copies the file. */
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                     "PRAGMA secure_delete = ON; "
                     "PRAGMA cache_size = -" CACHE_KIB "; PRAGMA journal_size_limit = " WAL_LIMIT_BYTES ";",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    s->synchronous = "NORMAL";
    checkpoint_schedule_first(s);
    sqlite3_wal_hook(s->db, checkpoint_when_full, s);
    if (migrate(s) != STORE_OK) {
        snprintf(err, err_len, "%s: %s", path, s->base.errmsg);
        goto fail;
    }
    return &s->base;
fail:
    sqlite_free(&s->base);
    return NULL;
}

static enum store_status sqlite_prepare_all(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    for (int i = 0; i < STMT__COUNT; i++) {
        if (!stmt(s, i)) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "prepare %s: %s", stmt_sql[i],
                     sqlite3_errmsg(s->db));
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

static enum store_status sqlite_sync_every_commit(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "PRAGMA synchronous");
    s->synchronous = "FULL";
    return STORE_OK;
}

enum store_status store_use_small_cache(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (sqlite3_exec(s->db, "PRAGMA cache_size = -" SMALL_CACHE_KIB, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, "PRAGMA cache_size");
    return STORE_OK;
}

static enum store_status sqlite_ping(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_PING);
    int rc = sqlite3_step(st);
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : fail(s, "ping");
}

void store_set_seen_sink(struct store *base, store_seen_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    s->seen_sink = fn;
    s->seen_data = user_data;
}

static const struct store_ops sqlite_ops = {
    .needs = STORE_NEEDS_GROUP_COMMIT | STORE_NEEDS_ONE_WRITER | STORE_NEEDS_CHECKPOINTS | STORE_NEEDS_PRUNE_BY_WRITERS,
    .free = sqlite_free,
    .ping = sqlite_ping,
    .sync_every_commit = sqlite_sync_every_commit,
    .prepare_all = sqlite_prepare_all,
    .read_begin = sqlite_read_begin,
    .read_end = sqlite_read_end,
    .backup = sqlite_backup,
    .restore = sqlite_restore,
    .device_register = sqlite_device_register,
    .device_heartbeat = sqlite_device_heartbeat,
    .heartbeat_seen = sqlite_heartbeat_seen,
    .device_poll = sqlite_device_poll,
    .device_get = sqlite_device_get,
    .device_update = sqlite_device_update,
    .device_delete = sqlite_device_delete,
    .device_set_key = sqlite_device_set_key,
    .device_keys_plain = sqlite_device_keys_plain,
    .device_key_replace = sqlite_device_key_replace,
    .device_list = sqlite_device_list,
    .device_count = sqlite_device_count,
    .device_bulk = sqlite_device_bulk,
    .reading_count = sqlite_reading_count,
    .fleet = sqlite_fleet,
    .device_trust = sqlite_device_trust,
    .device_signed = sqlite_device_signed,
    .readings_add = sqlite_readings_add,
    .reading_list = sqlite_reading_list,
    .reading_buckets = sqlite_reading_buckets,
    .reading_prune = sqlite_reading_prune,
    .device_expire_pending = sqlite_device_expire_pending,
    .firmware_add = sqlite_firmware_add,
    .firmware_get = sqlite_firmware_get,
    .firmware_list = sqlite_firmware_list,
    .firmware_running = sqlite_firmware_running,
    .firmware_delete = sqlite_firmware_delete,
    .firmware_image = sqlite_firmware_image,
    .device_firmware = sqlite_device_firmware,
    .device_by_mac = sqlite_device_by_mac,
    .device_image = sqlite_device_image,
    .rollout_add = sqlite_rollout_add,
    .rollout_list = sqlite_rollout_list,
    .rollout_stages = sqlite_rollout_stages,
    .rollout_state = sqlite_rollout_state,
    .rollout_start = sqlite_rollout_start,
    .rollout_timeouts = sqlite_rollout_timeouts,
    .token_add = sqlite_token_add,
    .token_check = sqlite_token_check,
    .token_used = sqlite_token_used,
    .alert_lead = sqlite_alert_lead,
    .alert_sweep = sqlite_alert_sweep,
    .alert_enqueue = sqlite_alert_enqueue,
    .alert_due = sqlite_alert_due,
    .alert_done = sqlite_alert_done,
    .alert_retry = sqlite_alert_retry,
    .alert_counts = sqlite_alert_counts,
    .token_list = sqlite_token_list,
    .token_revoke = sqlite_token_revoke,
    .write_begin = sqlite_write_begin,
    .write_end = sqlite_write_end,
    .device_lock = sqlite_device_lock,
    .audit_add = sqlite_audit_add,
    .audit_list = sqlite_audit_list,
    .audit_prune = sqlite_audit_prune,
    .recently_offline = sqlite_recently_offline,
    .reading_last_id = sqlite_reading_last_id,
    .device_bulk_add = sqlite_device_bulk_add,
    .reading_bulk_add = sqlite_reading_bulk_add,
};
