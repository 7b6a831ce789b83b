/* SQLite's online backup API (sqlite3_backup_*) driven step by step, with progress; see
 * sqlite_backup.h. */
#include "sqlite_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGES_PER_STEP 1024 /* pages copied between two progress reports */
#define BUSY_PAUSE_MS  10
#define BUSY_PAUSES    3000 /* 30 s of a database locked by others, then the copy gives up */

static void pause_ms(int ms)
{
    struct timespec pause = {0, ms * 1000000L};
    nanosleep(&pause, NULL);
}

/* Runs b to its end, reporting progress after each step: SQLITE_DONE when the copy is whole. */
static int run(sqlite3_backup *b, store_progress_fn progress, void *user_data)
{
    int rc, busy = 0;
    do {
        rc = sqlite3_backup_step(b, PAGES_PER_STEP);
        if (progress) {
            int total = sqlite3_backup_pagecount(b);
            progress(total - sqlite3_backup_remaining(b), total, user_data);
        }
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            if (++busy > BUSY_PAUSES)
                break;
            pause_ms(BUSY_PAUSE_MS);
        }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    return rc;
}

bool sqlite_backup_to(sqlite3 *db, const char *path, store_progress_fn progress, void *user_data, char *err,
                      size_t err_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path,
                 errno == EEXIST ? "already exists (a backup never overwrites a file)" : strerror(errno));
        return false;
    }
    close(fd);
    sqlite3 *copy = NULL;
    bool ok = sqlite3_open_v2(path, &copy, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK;
    /* One snapshot: a read transaction of db's held over every step (in WAL mode writers go on). */
    bool reading = ok && sqlite3_exec(db, "BEGIN; SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_backup *b = reading ? sqlite3_backup_init(copy, "main", db, "main") : NULL;
    ok = b && run(b, progress, user_data) == SQLITE_DONE;
    if (b)
        sqlite3_backup_finish(b);
    if (!ok)
        snprintf(err, err_len, "backup to %s: %s", path, sqlite3_errmsg(reading ? copy : db));
    if (reading)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    /* The copy as one self-contained file (no -wal beside it), synced. */
    if (ok && sqlite3_exec(copy, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "backup to %s: %s", path, sqlite3_errmsg(copy));
        ok = false;
    }
    sqlite3_close(copy);
    if (!ok)
        unlink(path);
    return ok;
}

/* The text of the first row of sql on db, into out; false (err filled) when it gives none. */
static bool first_text(sqlite3 *db, const char *sql, char *out, size_t len, char *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
    if (ok)
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    else
        snprintf(err, err_len, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ok;
}

bool sqlite_backup_restore(sqlite3 *db, const char *path, int max_version, store_progress_fn progress,
                           void *user_data, char *err, size_t err_len)
{
    sqlite3 *copy = NULL;
    char text[128], why[200] = "";
    bool ok = sqlite3_open_v2(path, &copy, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
              first_text(copy, "PRAGMA integrity_check", text, sizeof text, why, sizeof why);
    if (!ok) {
        snprintf(err, err_len, "%s: %s", path, why[0] ? why : sqlite3_errmsg(copy));
    } else if (strcmp(text, "ok") != 0) {
        snprintf(err, err_len, "%s fails SQLite's integrity check: %s", path, text);
        ok = false;
    } else if (first_text(copy, "PRAGMA user_version", text, sizeof text, why, sizeof why) &&
               atoi(text) > max_version) {
        snprintf(err, err_len, "%s has schema version %s; this provd knows %d: upgrade provd", path, text,
                 max_version);
        ok = false;
    }
    sqlite3_backup *b = ok ? sqlite3_backup_init(db, "main", copy, "main") : NULL;
    if (ok && !(b && run(b, progress, user_data) == SQLITE_DONE)) {
        snprintf(err, err_len, "restore from %s: %s", path, sqlite3_errmsg(db));
        ok = false;
    }
    if (b)
        sqlite3_backup_finish(b);
    sqlite3_close(copy);
    return ok;
}
