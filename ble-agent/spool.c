/* The spool as one small SQLite database: a table of frames in arrival order, each insert one
 * fsync'd transaction, each definitive answer one delete. The one file here that uses SQLite.
 *
 * Why SQLite rather than an append-only file with a CRC per record: frames leave the spool out of
 * order across devices (one device may wait for provd while others are delivered), so a log file
 * would need tombstones and compaction, that is a second file format and a rename protocol to get
 * right. SQLite, already a dependency of provd, gives that for free: a commit is atomic and, with
 * synchronous=FULL in WAL mode, on disk when sqlite3_step() returns; a torn last transaction (a
 * crash in the middle of a write) fails the WAL's checksums and is rolled back when the file is
 * opened again, leaving every earlier frame intact (test_ble_spool checks both). */
#include "spool.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum stmt {
    STMT_PUT,
    STMT_NEXT_DEVICE,
    STMT_HEAD_OF,
    STMT_SIZE_OF,
    STMT_REMOVE,
    STMT_TOTALS,
    STMT_COUNT,
};

static const char *const stmts[STMT_COUNT] = {
    [STMT_PUT] = "INSERT INTO frames (device, body) VALUES (?, ?)",
    /* Both walk the (device, seq) index: a skip to the next device, its oldest frame. */
    [STMT_NEXT_DEVICE] = "SELECT device FROM frames WHERE device > ? ORDER BY device LIMIT 1",
    [STMT_HEAD_OF] = "SELECT seq, body FROM frames WHERE device = ? ORDER BY seq LIMIT 1",
    [STMT_SIZE_OF] = "SELECT length(device) + 1 + length(body) FROM frames WHERE seq = ?",
    [STMT_REMOVE] = "DELETE FROM frames WHERE seq = ?",
    [STMT_TOTALS] = "SELECT count(*), coalesce(sum(length(device) + 1 + length(body)), 0) FROM frames",
};

/* AUTOINCREMENT: a seq is never reused, even after the newest frame was removed. BEGIN
 * EXCLUSIVE takes the lock that locking_mode=EXCLUSIVE then keeps until the spool is closed. */
static const char SCHEMA[] =
    "BEGIN EXCLUSIVE;"
    "CREATE TABLE IF NOT EXISTS frames (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "device TEXT NOT NULL, body BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS frames_device ON frames (device, seq);"
    "COMMIT;";

struct spool {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
    struct spool_limits limits;
    size_t frames, bytes;
    char error[160];
};

int spool_limits_parse(const char *text, struct spool_limits *out)
{
    char *end;
    unsigned long long bytes, frames;

    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    errno = 0;
    bytes = strtoull(text, &end, 10);
    if (*end == 'K' || *end == 'M') {
        unsigned long long unit = *end == 'K' ? 1024ull : 1024ull * 1024;

        bytes = bytes > ULLONG_MAX / unit ? ULLONG_MAX : bytes * unit;
        end++;
    }
    if (errno || *end != ',' || end[1] < '0' || end[1] > '9')
        return -EINVAL;
    frames = strtoull(end + 1, &end, 10);
    if (errno || *end || bytes < SPOOL_BYTES_MIN || bytes > SPOOL_BYTES_MAX || frames < 1 ||
        frames > SPOOL_FRAMES_MAX)
        return -EINVAL;
    out->max_bytes = (size_t)bytes;
    out->max_frames = (size_t)frames;
    return 0;
}

static int fail(struct spool *sp, const char *what)
{
    snprintf(sp->error, sizeof(sp->error), "%s: %s", what, sqlite3_errmsg(sp->db));
    return -EIO;
}

/* Runs a statement that returns no rows (or whose rows are not wanted). */
static int step_done(struct spool *sp, enum stmt which, const char *what)
{
    sqlite3_stmt *st = sp->stmt[which];
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : fail(sp, what);
}

static int load_totals(struct spool *sp)
{
    sqlite3_stmt *st = sp->stmt[STMT_TOTALS];
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        sp->frames = (size_t)sqlite3_column_int64(st, 0);
        sp->bytes = (size_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : fail(sp, "reading the spool");
}

int spool_open(const char *path, const struct spool_limits *limits, struct spool **out, char *why,
               size_t why_cap)
{
    struct spool *sp = calloc(1, sizeof(*sp));
    int err = -EIO;

    *out = NULL;
    if (!sp) {
        snprintf(why, why_cap, "out of memory");
        return -ENOMEM;
    }
    sp->limits = *limits;
    if (sqlite3_open_v2(path, &sp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        fail(sp, "open");
        goto fail;
    }
    /* Exclusive locking: one ble-agent per spool (two would send every frame twice), taken at
     * once by the write below and held until close; in WAL mode it also means no -shm file.
     * synchronous=FULL: the WAL is fsync'd at every commit, before sqlite3_step() returns. */
    if (sqlite3_exec(sp->db,
                     "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; "
                     "PRAGMA synchronous = FULL;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(sp->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        err = sqlite3_errcode(sp->db) == SQLITE_BUSY ? -EBUSY : -EIO;
        fail(sp, "preparing the spool");
        goto fail;
    }
    for (size_t i = 0; i < STMT_COUNT; i++)
        if (sqlite3_prepare_v3(sp->db, stmts[i], -1, SQLITE_PREPARE_PERSISTENT, &sp->stmt[i], NULL) != SQLITE_OK) {
            fail(sp, "preparing a statement");
            goto fail;
        }
    if (load_totals(sp) < 0)
        goto fail;
    *out = sp;
    return 0;
fail:
    snprintf(why, why_cap, "%s", sp->error);
    spool_close(sp);
    return err;
}

void spool_close(struct spool *sp)
{
    if (!sp)
        return;
    for (size_t i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(sp->stmt[i]);
    sqlite3_close(sp->db);
    free(sp);
}

const char *spool_error(const struct spool *sp)
{
    return sp->error;
}

int spool_put(struct spool *sp, const char *id, const uint8_t *body, size_t body_len, int64_t *seq)
{
    size_t size = strlen(id) + 1 + body_len;
    sqlite3_stmt *st = sp->stmt[STMT_PUT];
    int err;

    if (strlen(id) > TELEMETRY_ID_MAX || body_len > SPOOL_BODY_MAX)
        return -EINVAL;
    if (sp->frames + 1 > sp->limits.max_frames || sp->bytes + size > sp->limits.max_bytes)
        return -ENOSPC;
    if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, body, (int)body_len, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return fail(sp, "storing a frame");
    }
    if ((err = step_done(sp, STMT_PUT, "storing a frame")) < 0)
        return err;
    *seq = sqlite3_last_insert_rowid(sp->db);
    sp->frames++;
    sp->bytes += size;
    return 0;
}

/* The first device after `after` into dev: 1, 0 when there is none, or -EIO. */
static int next_device(struct spool *sp, const char *after, char dev[TELEMETRY_ID_MAX + 1])
{
    sqlite3_stmt *st = sp->stmt[STMT_NEXT_DEVICE];
    int rc;

    sqlite3_bind_text(st, 1, after, -1, SQLITE_TRANSIENT);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);

        if (text)
            snprintf(dev, TELEMETRY_ID_MAX + 1, "%s", text);
        else
            rc = SQLITE_NOMEM;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(sp, "reading the spool");
    return rc == SQLITE_ROW;
}

/* fn with a copy of the oldest frame of dev, the statement already reset (so that fn may
 * change the spool): fn's answer, or -EIO (as a negative int). A row that is no frame of ours
 * (a body past SPOOL_BODY_MAX) is passed over. */
static int head_of(struct spool *sp, const char *dev, bool (*fn)(void *user_data, const struct spool_frame *f),
                   void *user_data)
{
    sqlite3_stmt *st = sp->stmt[STMT_HEAD_OF];
    uint8_t body[SPOOL_BODY_MAX];
    struct spool_frame f = {.id = dev, .body = body};
    int rc;

    sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 1);

        f.seq = sqlite3_column_int64(st, 0);
        f.body_len = (size_t)sqlite3_column_bytes(st, 1);
        if (blob && f.body_len <= sizeof(body))
            memcpy(body, blob, f.body_len);
        else
            f.seq = 0;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(sp, "reading the spool");
    return rc == SQLITE_ROW && f.seq ? fn(user_data, &f) : 1;
}

int spool_heads(struct spool *sp, const char *after, bool (*fn)(void *user_data, const struct spool_frame *f),
                void *user_data)
{
    char dev[TELEMETRY_ID_MAX + 1], at[TELEMETRY_ID_MAX + 1];
    bool wrapped = false;
    int got;

    snprintf(at, sizeof(at), "%s", after);
    for (;;) {
        if ((got = next_device(sp, at, dev)) < 0)
            return got;
        /* Past the end: once round from the first device up to `after` itself. */
        if (!got && !wrapped && after[0]) {
            wrapped = true;
            at[0] = '\0';
            continue;
        }
        if (!got || (wrapped && strcmp(dev, after) > 0))
            return 0;
        if ((got = head_of(sp, dev, fn, user_data)) <= 0)
            return got;
        memcpy(at, dev, sizeof(at));
    }
}

int spool_remove(struct spool *sp, int64_t seq)
{
    sqlite3_stmt *size_of = sp->stmt[STMT_SIZE_OF];
    size_t size = 0;
    int rc, err;

    sqlite3_bind_int64(size_of, 1, seq);
    if ((rc = sqlite3_step(size_of)) == SQLITE_ROW)
        size = (size_t)sqlite3_column_int64(size_of, 0);
    sqlite3_reset(size_of);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : fail(sp, "reading the spool");
    sqlite3_bind_int64(sp->stmt[STMT_REMOVE], 1, seq);
    if ((err = step_done(sp, STMT_REMOVE, "removing a frame")) < 0)
        return err;
    sp->frames--;
    sp->bytes -= size;
    return 0;
}

size_t spool_frames(const struct spool *sp)
{
    return sp->frames;
}

size_t spool_bytes(const struct spool *sp)
{
    return sp->bytes;
}
