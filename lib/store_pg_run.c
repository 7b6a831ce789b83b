/* The PostgreSQL backend's statements runner (store_pg_internal.h): parameters, a statement run on
 * the connection (prepared first, a lost connection replaced), its rows read, and transactions. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

/* ---- messages ---- */

/* Copies the first line of msg into dst. */
void first_line(char *dst, size_t len, const char *msg)
{
    size_t n = strcspn(msg, "\n");
    snprintf(dst, len, "%.*s", (int)n, msg);
}

/* what: the operation. The reason is the result's own message when there is one, else the
 * connection's; a lost connection is STORE_UNAVAILABLE (the next operation reconnects). */
enum store_status fail(struct pg_store *s, const char *what, const PGresult *res)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(s->sqlstate, sizeof s->sqlstate, "%s", code ? code : "");
    char line[200];
    first_line(line, sizeof line, msg ? msg : PQerrorMessage(s->conn));
    if (PQstatus(s->conn) == CONNECTION_BAD) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.60s: PostgreSQL at %.50s: %.120s", what, s->where,
                 line);
        return STORE_UNAVAILABLE;
    }
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "%.60s: %.180s", what, line);
    return STORE_ERROR;
}

/* ---- the connection and its statements ---- */

/* Whether an idle connection was closed by the server meanwhile (a restart of PostgreSQL). An
 * idle client gets little but the server's last message before it goes: what waits is read and
 * parsed (libpq hands an error that comes while idle to the notice processor), and read again,
 * which meets the socket's end if the server has gone. One poll(), no wait. */
static bool closed_while_idle(struct pg_store *s)
{
    struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
    if (p.fd < 0 || poll(&p, 1, 0) != 1)
        return false;
    for (int read = 0; read < 2 && PQconsumeInput(s->conn); read++)
        PQisBusy(s->conn);
    return PQstatus(s->conn) != CONNECTION_OK;
}

/* Before each statement: a connection found lost (by the statement before, or closed while idle)
 * is reset, connect_timeout bounding the wait, and its statements are prepared again as they are
 * used. Never inside a transaction: what follows would run outside it, on the new connection. */
static enum store_status connected(struct pg_store *s)
{
    if (PQstatus(s->conn) == CONNECTION_OK && (s->in_txn || !closed_while_idle(s)))
        return STORE_OK;
    if (s->in_txn)
        return fail(s, "connection lost inside a transaction", NULL);
    PQreset(s->conn);
    memset(s->prepared, 0, sizeof s->prepared);
    if (PQstatus(s->conn) == CONNECTION_OK)
        return STORE_OK;
    return fail(s, "reconnect", NULL);
}
void param_text(struct params *p, const char *v)
{
    p->value[p->n++] = v;
}

void param_int(struct params *p, int64_t v)
{
    snprintf(p->digits[p->n], sizeof p->digits[0], "%lld", (long long)v);
    param_text(p, p->digits[p->n]);
}

void param_int_or_null(struct params *p, bool has, int64_t v)
{
    if (has)
        param_int(p, v);
    else
        param_text(p, NULL);
}

void param_bool(struct params *p, bool v)
{
    param_text(p, v ? "t" : "f");
}

void param_bytes(struct params *p, const void *v, size_t len)
{
    p->length[p->n] = (int)len;
    p->format[p->n] = 1;
    param_text(p, v);
}

const char *stmt_name(enum pg_stmt id, char *buf, size_t len)
{
    snprintf(buf, len, "provd_%d", (int)id);
    return buf;
}

/* Every statement is run through here: it is where a lost connection is replaced. */
enum store_status prepare(struct pg_store *s, enum pg_stmt id)
{
    enum store_status st = connected(s);
    if (st != STORE_OK || s->prepared[id])
        return st;
    char name[32];
    PGresult *res = PQprepare(s->conn, stmt_name(id, name, sizeof name), pg_stmt_sql[id], 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        st = fail(s, pg_stmt_sql[id], res);
    PQclear(res);
    s->prepared[id] = st == STORE_OK;
    return st;
}

/* Runs statement id (prepared first on this connection if it is not yet). Returns its result,
 * which the caller PQclear()s, or NULL with *st saying why (what names the operation). */
PGresult *run(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
              enum store_status *st)
{
    *st = prepare(s, id);
    if (*st != STORE_OK)
        return NULL;
    char name[32];
    PGresult *res = PQexecPrepared(s->conn, stmt_name(id, name, sizeof name), p ? p->n : 0,
                                   p ? p->value : NULL, p ? p->length : NULL, p ? p->format : NULL, 0);
    ExecStatusType rs = PQresultStatus(res);
    if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)
        return res;
    *st = fail(s, what, res);
    PQclear(res);
    return NULL;
}

/* Runs a statement whose rows the caller does not read; *rows (when not NULL) gets how many it
 * changed or returned. */
enum store_status exec_stmt(struct pg_store *s, enum pg_stmt id, const struct params *p,
                            const char *what, int64_t *rows)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (res && rows) {
        const char *changed = PQcmdTuples(res);
        *rows = *changed ? strtoll(changed, NULL, 10) : PQntuples(res);
    }
    PQclear(res);
    return st;
}

int64_t col_int(const PGresult *res, int row, int col, int64_t if_null)
{
    return PQgetisnull(res, row, col) ? if_null : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* The TRUST_COLUMNS of res's row from column col on: the trust into *out, the key as
 * stored into stored. */
void read_trust(const PGresult *res, int row, int col, struct device_trust *out, char *stored,
                size_t stored_len)
{
    snprintf(out->state, sizeof out->state, "%s", PQgetvalue(res, row, col));
    snprintf(stored, stored_len, "%s", PQgetvalue(res, row, col + 1));
    out->trust = col_int(res, row, col + 2, 0);
    out->epoch = col_int(res, row, col + 3, 0);
}

/* A device row of DEVICE_COLUMNS; its strings are borrowed from res. */
static void read_device(const PGresult *res, int row, struct device *d)
{
    d->deviceid = PQgetvalue(res, row, 0);
    d->name = PQgetvalue(res, row, 1);
    d->state = PQgetvalue(res, row, 2);
    d->lastseen = col_int(res, row, 3, 0);
    d->ssid = PQgetvalue(res, row, 4);
    d->ipaddr = PQgetvalue(res, row, 5);
    d->cfgsn = col_int(res, row, 6, 0);
    d->cfgsn_applied = col_int(res, row, 7, -1);
    d->flags = col_int(res, row, 8, 0);
    d->data = PQgetvalue(res, row, 9);
    d->poll_interval = col_int(res, row, 10, 0);
    d->datec = col_int(res, row, 11, 0);
    d->has_key = PQgetvalue(res, row, 12)[0] == 't';
    d->last_seqn = col_int(res, row, 13, -1);
    d->trust = col_int(res, row, 14, 0);
    d->location = PQgetvalue(res, row, 15);
    d->tags = PQgetvalue(res, row, 16);
    d->firmware = PQgetisnull(res, row, 17) ? NULL : PQgetvalue(res, row, 17);
    d->firmware_running = PQgetisnull(res, row, 18) ? NULL : PQgetvalue(res, row, 18);
    d->firmware_status = PQgetvalue(res, row, 19);
    d->firmware_size = col_int(res, row, 20, 0);
    d->firmware_sha256 = PQgetisnull(res, row, 21) ? NULL : PQgetvalue(res, row, 21);
    d->firmware_md5 = PQgetisnull(res, row, 22) ? NULL : PQgetvalue(res, row, 22);
}

/* Hands each device row of res to fn (when not NULL), as seen at *seen_now when that is not NULL
 * (what the SQLite backend hands over); returns how many there were. */
int hand_devices(const PGresult *res, store_device_fn fn, void *user_data, const int64_t *seen_now)
{
    int n = PQntuples(res);
    for (int i = 0; fn && i < n; i++) {
        struct device d;
        read_device(res, i, &d);
        if (seen_now)
            d.lastseen = *seen_now;
        fn(&d, user_data);
    }
    return n;
}

/* Runs a statement returning device rows and hands them over: STORE_NOT_FOUND for none. */
enum store_status device_rows(struct pg_store *s, enum pg_stmt id, const struct params *p,
                              const char *what, store_device_fn fn, void *user_data,
                              const int64_t *seen_now, int *count)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (!res)
        return st;
    int n = hand_devices(res, fn, user_data, seen_now);
    PQclear(res);
    if (count)
        *count = n;
    return n > 0 ? STORE_OK : STORE_NOT_FOUND;
}

/* Reads one row of integers into out[0..n); STORE_NOT_FOUND when there is no row. */
enum store_status read_ints(struct pg_store *s, enum pg_stmt id, const struct params *p,
                            const char *what, int64_t *out, int n)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (!res)
        return st;
    st = PQntuples(res) > 0 ? STORE_OK : STORE_NOT_FOUND;
    for (int i = 0; st == STORE_OK && i < n; i++)
        out[i] = col_int(res, 0, i, 0);
    PQclear(res);
    return st;
}

/* begin (PG_BEGIN or PG_BEGIN_READ) run; the transaction is open when it succeeded. */
enum store_status begin_transaction(struct pg_store *s, enum pg_stmt begin, const char *what)
{
    enum store_status st = exec_stmt(s, begin, NULL, what, NULL);
    s->in_txn = st == STORE_OK;
    return st;
}

/* Begins a transaction (as begin_transaction()), or inside an admin's change joins it: then
 * end_transaction() leaves its end to store_write_end(). */
enum store_status join_or_begin(struct pg_store *s, const char *what)
{
    return s->in_write ? STORE_OK : begin_transaction(s, PG_BEGIN, what);
}

/* Commits, or rolls back what is open; a commit's failure is returned. */
enum store_status finish_transaction(struct pg_store *s, bool commit, const char *what)
{
    enum store_status st = STORE_OK;
    if (commit)
        st = exec_stmt(s, PG_COMMIT, NULL, what, NULL);
    else if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        exec_stmt(s, PG_ROLLBACK, NULL, what, NULL);
    s->in_txn = false;
    return st;
}

/* Commits when st is STORE_OK, else rolls back; passes st (or the commit's failure) on. Inside an
 * admin's change it does neither: store_write_end() does either. */
enum store_status end_transaction(struct pg_store *s, enum store_status st, const char *what)
{
    if (s->in_write)
        return st;
    enum store_status ended = finish_transaction(s, st == STORE_OK, what);
    return st == STORE_OK ? ended : st;
}

/* A write of at most one row: STORE_NOT_FOUND when none changed. */
enum store_status write_one_row(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                const char *what)
{
    int64_t rows = 0;
    enum store_status st = exec_stmt(s, id, p, what, &rows);
    return st == STORE_OK && rows == 0 ? STORE_NOT_FOUND : st;
}

/* Runs a delete of up to $2 rows older than $1 (statement id); *deleted says how many went. */
enum store_status delete_batch(struct pg_store *s, enum pg_stmt id, int64_t before, int max, int *deleted,
                               const char *what)
{
    int64_t rows = 0;
    struct params p = {0};
    param_int(&p, before);
    param_int(&p, max);
    enum store_status st = exec_stmt(s, id, &p, what, &rows);
    *deleted = (int)rows;
    return st;
}

/* Runs a statement and copies the first column of its one row into out (out_len bytes):
 * STORE_NOT_FOUND when there is no row. */
enum store_status read_text(struct pg_store *s, enum pg_stmt id, const struct params *p, const char *what,
                            char *out, size_t out_len)
{
    enum store_status st;
    PGresult *res = run(s, id, p, what, &st);
    if (!res)
        return st;
    st = PQntuples(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK)
        snprintf(out, out_len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return st;
}
