/* The SQLite backend's side for administrators: API tokens, the audit trail, the overview's
 * reads, and the alert queue with its sweep. */
#include "store_sqlite_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

enum store_status sqlite_token_add(struct store *base, const char *name,
                                   const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                                   int64_t expires)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_ADD);
    bind_text(st, 1, name);
    sqlite3_bind_blob(st, 2, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, expires);
    int rc = sqlite3_step(st);
    int extended = sqlite3_extended_errcode(s->db);
    stmt_done(st);
    if (rc == SQLITE_DONE)
        return STORE_OK;
    if (extended == SQLITE_CONSTRAINT_PRIMARYKEY || extended == SQLITE_CONSTRAINT_UNIQUE)
        return STORE_EXISTS;
    return fail(s, "add token");
}

enum store_status sqlite_token_check(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                     int64_t *expires, int64_t *last_used,
                                     char name[STORE_TOKEN_NAME_MAX + 1])
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_CHECK);
    sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *expires = sqlite3_column_int64(st, 0);
        *last_used = sqlite3_column_int64(st, 1);
        snprintf(name, STORE_TOKEN_NAME_MAX + 1, "%s", column_text(st, 2));
    }
    stmt_done(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "check token");
}

/* A later use already recorded (another worker's) counts as this one. */
enum store_status sqlite_token_used(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                    int64_t now)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_USED);
    sqlite3_bind_blob(st, 1, hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return write_one_row(s, STMT_TOKEN_USED) == STORE_ERROR ? STORE_ERROR : STORE_OK;
}

enum store_status sqlite_token_list(struct store *base, store_token_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_TOKEN_LIST);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct token_info t = {column_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                               sqlite3_column_int64(st, 3)};
        fn(&t, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "list tokens");
}

enum store_status sqlite_token_revoke(struct store *base, const char *name)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_TOKEN_REVOKE), 1, name);
    return write_one_row(s, STMT_TOKEN_REVOKE);
}

/* ---- the audit trail and the overview ---- */

static const char *column_text_or_null(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : column_text(st, i);
}

enum store_status sqlite_audit_add(struct store *base, const struct audit_entry *e)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_AUDIT_ADD);
    sqlite3_bind_int64(st, 1, e->at);
    bind_text(st, 2, e->via);
    bind_text(st, 3, e->actor);
    bind_text(st, 4, e->action);
    bind_text(st, 5, e->target);
    bind_text(st, 6, e->before);
    bind_text(st, 7, e->after);
    return exec_stmt(s, STMT_AUDIT_ADD);
}

enum store_status sqlite_audit_list(struct store *base, const struct audit_filter *f, store_audit_fn fn,
                                    void *user_data, int *count)
{
    struct sqlite_store *s = sqlite_of(base);
    enum stmt id = f->device ? STMT_AUDIT_LIST_DEVICE : STMT_AUDIT_LIST;
    sqlite3_stmt *st = stmt(s, id);
    if (f->after >= 0)
        sqlite3_bind_int64(st, 1, f->after);
    sqlite3_bind_int64(st, 2, f->since);
    sqlite3_bind_int(st, 3, f->limit);
    if (f->device)
        bind_text(st, 4, f->device);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct audit_entry e = {
            .id = sqlite3_column_int64(st, 0),
            .at = sqlite3_column_int64(st, 1),
            .via = column_text(st, 2),
            .actor = column_text(st, 3),
            .action = column_text(st, 4),
            .target = column_text(st, 5),
            .before = column_text_or_null(st, 6),
            .after = column_text_or_null(st, 7),
        };
        fn(&e, user_data);
        n++;
    }
    stmt_done(st);
    *count = n;
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "list the audit trail");
}

enum store_status sqlite_audit_prune(struct store *base, int64_t before, int max, int *deleted)
{
    return delete_batch(sqlite_of(base), STMT_AUDIT_PRUNE, before, max, deleted, "prune the audit trail");
}

enum store_status sqlite_recently_offline(struct store *base, int64_t now, int64_t default_interval, int max,
                                          store_device_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_RECENTLY_OFFLINE);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    sqlite3_bind_int(st, 3, max);
    enum store_status result = device_rows(s, STMT_RECENTLY_OFFLINE, fn, user_data, NULL, NULL);
    return result == STORE_NOT_FOUND ? STORE_OK : result;
}

enum store_status sqlite_reading_last_id(struct store *base, int64_t *id)
{
    return read_counts(sqlite_of(base), STMT_READING_LAST_ID, id, 1);
}

/* ---- alerts ---- */

/* The stack's sweeper holds the flock() of <db>-alerts.lock for its connection's life (the kernel
 * frees it when the process dies), as the writer's election does with <db>-writer.lock. */
enum store_status sqlite_alert_lead(struct store *base)
{
    struct sqlite_store *s = sqlite_of(base);
    if (s->alert_lock >= 0)
        return STORE_OK;
    const char *db = sqlite3_db_filename(s->db, "main");
    char path[4096];
    if (!db || (size_t)snprintf(path, sizeof path, "%s-alerts.lock", db) >= sizeof path) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "the database's path is too long for its alerts lock");
        return STORE_ERROR;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.200s: cannot open", path);
        return STORE_ERROR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return STORE_STALE;
    }
    s->alert_lock = fd;
    return STORE_OK;
}

static void bind_sweep(struct sqlite_store *s, enum stmt id, int64_t now, int64_t default_interval, int max)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    sqlite3_bind_int(st, 3, max);
}

/* One write transaction: nothing else writes between the two statements, so both pick the
 * same devices. */
enum store_status sqlite_alert_sweep(struct store *base, int64_t now, int64_t default_interval, int max,
                                     int *judged)
{
    struct sqlite_store *s = sqlite_of(base);
    *judged = 0;
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    bind_sweep(s, STMT_ALERT_WRITE, now, default_interval, max);
    st = exec_stmt(s, STMT_ALERT_WRITE);
    if (st == STORE_OK) {
        bind_sweep(s, STMT_ALERT_JUDGE, now, default_interval, max);
        st = exec_stmt(s, STMT_ALERT_JUDGE);
        *judged = sqlite3_changes(s->db);
    }
    return finish(s, st);
}

enum store_status sqlite_alert_enqueue(struct store *base, const char *kind, const char *subject, int64_t at,
                                       const char *detail)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ALERT_ENQUEUE);
    bind_text(st, 1, subject);
    bind_text(st, 2, kind);
    sqlite3_bind_int64(st, 3, at);
    bind_text(st, 4, detail);
    return exec_stmt(s, STMT_ALERT_ENQUEUE);
}

enum store_status sqlite_alert_due(struct store *base, int64_t now, int max, store_alert_fn fn,
                                   void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ALERT_DUE);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct alert a = {.id = sqlite3_column_int64(st, 0), .kind = column_text(st, 1),
                          .subject = column_text(st, 2), .at = sqlite3_column_int64(st, 3),
                          .name = column_text_or_null(st, 4), .liveness_from = column_text_or_null(st, 5),
                          .liveness_to = column_text_or_null(st, 6), .lastseen = sqlite3_column_int64(st, 7),
                          .detail = column_text_or_null(st, 8), .attempts = sqlite3_column_int64(st, 9)};
        fn(&a, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "alerts due");
}

enum store_status sqlite_alert_done(struct store *base, int64_t id, bool delivered)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_bind_int64(stmt(s, STMT_ALERT_DELETE), 1, id);
    st = write_one_row(s, STMT_ALERT_DELETE);
    if (st == STORE_OK) {
        sqlite3_stmt *count = stmt(s, STMT_ALERT_COUNT);
        sqlite3_bind_int(count, 1, delivered);
        sqlite3_bind_int(count, 2, !delivered);
        st = exec_stmt(s, STMT_ALERT_COUNT);
    }
    return finish(s, st);
}

enum store_status sqlite_alert_retry(struct store *base, int64_t id, int64_t next_at)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ALERT_RETRY);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, next_at);
    return write_one_row(s, STMT_ALERT_RETRY);
}

enum store_status sqlite_alert_counts(struct store *base, struct alert_counts *out)
{
    struct sqlite_store *s = sqlite_of(base);
    int64_t c[3] = {0};
    enum store_status st = read_counts(s, STMT_ALERT_COUNTS, c, 3);
    *out = (struct alert_counts){.pending = c[0], .sent = c[1], .failed = c[2]};
    return st;
}
