/* The PostgreSQL backend's admin side: API tokens, admin changes (store_write_begin() to
 * store_write_end()), the audit trail and the overview's reads. */
#include "store_pg_internal.h"

enum store_status pg_token_add(struct store *base, const char *name,
                               const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                               int64_t expires)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, name);
    param_bytes(&p, hash, STORE_TOKEN_HASH_LEN);
    param_int(&p, now);
    param_int(&p, expires);
    enum store_status st = exec_stmt(s, PG_TOKEN_ADD, &p, "add token", NULL);
    return st == STORE_ERROR && strcmp(s->sqlstate, "23505") == 0 ? STORE_EXISTS : st; /* the name or hash */
}

enum store_status pg_token_check(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                 int64_t *expires, int64_t *last_used, char name[STORE_TOKEN_NAME_MAX + 1])
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_bytes(&p, hash, STORE_TOKEN_HASH_LEN);
    PGresult *res = run(s, PG_TOKEN_CHECK, &p, "check token", &st);
    if (!res)
        return st;
    st = PQntuples(res) > 0 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK) {
        *expires = col_int(res, 0, 0, 0);
        *last_used = col_int(res, 0, 1, 0);
        snprintf(name, STORE_TOKEN_NAME_MAX + 1, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return st;
}

/* A later use already recorded (another host's) counts as this one. */
enum store_status pg_token_used(struct store *base, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                int64_t now)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_bytes(&p, hash, STORE_TOKEN_HASH_LEN);
    param_int(&p, now);
    return exec_stmt(s, PG_TOKEN_USED, &p, "record token use", NULL);
}

enum store_status pg_token_list(struct store *base, store_token_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    PGresult *res = run(s, PG_TOKEN_LIST, NULL, "list tokens", &st);
    for (int i = 0, n = res ? PQntuples(res) : 0; i < n; i++)
        fn(&(struct token_info){PQgetvalue(res, i, 0), col_int(res, i, 1, 0), col_int(res, i, 2, 0),
                                col_int(res, i, 3, 0)},
           user_data);
    PQclear(res);
    return st;
}

enum store_status pg_token_revoke(struct store *base, const char *name)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, name);
    return write_one_row(s, PG_TOKEN_REVOKE, &p, "revoke token");
}

/* ---- admin changes, the audit trail and the overview ---- */

enum store_status pg_write_begin(struct store *base)
{
    struct pg_store *s = pg_of(base);
    enum store_status st = begin_transaction(s, PG_BEGIN, "begin an admin's change");
    s->in_write = st == STORE_OK;
    return st;
}

/* A transaction that failed is rolled back whichever end was asked for (PostgreSQL answers such a
 * COMMIT with a ROLLBACK): the commit fails then. */
enum store_status pg_write_end(struct store *base, bool commit)
{
    struct pg_store *s = pg_of(base);
    s->in_write = false;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        finish_transaction(s, false, "roll back an admin's change"); /* nothing to send: ends it */
        return commit ? fail(s, "commit an admin's change", NULL) : STORE_OK;
    }
    bool failed = PQtransactionStatus(s->conn) == PQTRANS_INERROR;
    if (!commit || failed) {
        finish_transaction(s, false, "roll back an admin's change");
        if (commit)
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "commit an admin's change: it had failed");
        return commit ? STORE_ERROR : STORE_OK;
    }
    return finish_transaction(s, true, "commit an admin's change");
}

enum store_status pg_device_lock(struct store *base, const char *deviceid, store_device_fn fn,
                                 void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    return device_rows(s, PG_DEVICE_LOCK, &p, "lock device", fn, user_data, NULL, NULL);
}

enum store_status pg_audit_add(struct store *base, const struct audit_entry *e)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, e->at);
    param_text(&p, e->via);
    param_text(&p, e->actor);
    param_text(&p, e->action);
    param_text(&p, e->target);
    param_text(&p, e->before);
    param_text(&p, e->after);
    return exec_stmt(s, PG_AUDIT_ADD, &p, "add an audit entry", NULL);
}

static const char *value_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

enum store_status pg_audit_list(struct store *base, const struct audit_filter *f, store_audit_fn fn,
                                void *user_data, int *count)
{
    struct pg_store *s = pg_of(base);
    *count = 0;
    enum store_status st;
    struct params p = {0};
    param_int_or_null(&p, f->after >= 0, f->after);
    param_int(&p, f->since);
    param_int(&p, f->limit);
    if (f->device)
        param_text(&p, f->device);
    PGresult *res = run(s, f->device ? PG_AUDIT_LIST_DEVICE : PG_AUDIT_LIST, &p, "list the audit trail", &st);
    for (int i = 0, n = res ? PQntuples(res) : 0; i < n; i++) {
        struct audit_entry e = {
            .id = col_int(res, i, 0, 0),
            .at = col_int(res, i, 1, 0),
            .via = PQgetvalue(res, i, 2),
            .actor = PQgetvalue(res, i, 3),
            .action = PQgetvalue(res, i, 4),
            .target = PQgetvalue(res, i, 5),
            .before = value_or_null(res, i, 6),
            .after = value_or_null(res, i, 7),
        };
        fn(&e, user_data);
        ++*count;
    }
    PQclear(res);
    return st;
}

enum store_status pg_audit_prune(struct store *base, int64_t before, int max, int *deleted)
{
    return delete_batch(pg_of(base), PG_AUDIT_PRUNE, before, max, deleted, "prune the audit trail");
}

enum store_status pg_recently_offline(struct store *base, int64_t now, int64_t default_interval, int max,
                                      store_device_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, default_interval);
    param_int(&p, max);
    enum store_status st =
        device_rows(s, PG_RECENTLY_OFFLINE, &p, "list devices gone offline", fn, user_data, NULL, NULL);
    return st == STORE_NOT_FOUND ? STORE_OK : st;
}

enum store_status pg_reading_last_id(struct store *base, int64_t *id)
{
    struct pg_store *s = pg_of(base);
    return read_ints(s, PG_READING_LAST_ID, NULL, "read the last reading's id", id, 1);
}
