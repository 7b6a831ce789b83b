/* The PostgreSQL backend's alerts: the sweeper's lead, the devices' liveness changes turned into
 * alerts, and the queue their sender works through. */
#include "store_pg_internal.h"

enum store_status pg_alert_lead(struct store *base)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    PGresult *res = run(s, PG_ALERT_LEAD, NULL, "take the alert sweeper's lock", &st);
    if (res)
        st = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't' ? STORE_OK : STORE_STALE;
    PQclear(res);
    return st;
}

enum store_status pg_alert_sweep(struct store *base, int64_t now, int64_t default_interval, int max,
                                 int *judged)
{
    struct pg_store *s = pg_of(base);
    *judged = 0;
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, default_interval);
    param_int(&p, max);
    int64_t rows = 0;
    enum store_status st = exec_stmt(s, PG_ALERT_SWEEP, &p, "alert sweep", &rows);
    *judged = (int)rows;
    return st;
}

enum store_status pg_alert_enqueue(struct store *base, const char *kind, const char *subject, int64_t at,
                                   const char *detail)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, subject);
    param_text(&p, kind);
    param_int(&p, at);
    param_text(&p, detail);
    return exec_stmt(s, PG_ALERT_ENQUEUE, &p, "enqueue alert", NULL);
}

static const char *col_text_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

enum store_status pg_alert_due(struct store *base, int64_t now, int max, store_alert_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, max);
    PGresult *res = run(s, PG_ALERT_DUE, &p, "alerts due", &st);
    for (int i = 0, n = res ? PQntuples(res) : 0; i < n; i++) {
        struct alert a = {.id = col_int(res, i, 0, 0), .kind = PQgetvalue(res, i, 1),
                          .subject = PQgetvalue(res, i, 2), .at = col_int(res, i, 3, 0),
                          .name = col_text_or_null(res, i, 4), .liveness_from = col_text_or_null(res, i, 5),
                          .liveness_to = col_text_or_null(res, i, 6), .lastseen = col_int(res, i, 7, 0),
                          .detail = col_text_or_null(res, i, 8), .attempts = col_int(res, i, 9, 0)};
        fn(&a, user_data);
    }
    PQclear(res);
    return st;
}

/* Statement id on alert $1 with $2 (value: an integer, or a boolean when is_bool): STORE_NOT_FOUND
 * when the alert is not in the outbox. */
static enum store_status alert_write(struct store *base, enum pg_stmt id, int64_t alert, int64_t value,
                                     bool is_bool, const char *what)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, alert);
    if (is_bool)
        param_bool(&p, value != 0);
    else
        param_int(&p, value);
    return write_one_row(s, id, &p, what);
}

enum store_status pg_alert_done(struct store *base, int64_t id, bool delivered)
{
    return alert_write(base, PG_ALERT_DONE, id, delivered, true, "alert done");
}

enum store_status pg_alert_retry(struct store *base, int64_t id, int64_t next_at)
{
    return alert_write(base, PG_ALERT_RETRY, id, next_at, false, "alert retry");
}

enum store_status pg_alert_counts(struct store *base, struct alert_counts *out)
{
    struct pg_store *s = pg_of(base);
    int64_t c[3] = {0};
    enum store_status st = read_ints(s, PG_ALERT_COUNTS, NULL, "count alerts", c, 3);
    *out = (struct alert_counts){.pending = c[0], .sent = c[1], .failed = c[2]};
    return st;
}
