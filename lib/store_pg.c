/* The PostgreSQL backend of store.h, for many workers on several hosts writing at once: each
 * invariant is one statement's under READ COMMITTED, with no lock of ours. Only files with libpq-fe.h:
 * store_pg*.c (store_pg_internal.h). This one: opening, heartbeat times, devices and readings, pg_ops. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrations.h"
#include "store_pg_internal.h"
#include "validate.h"

#define CONNECT_TIMEOUT "2"          /* seconds, unless the URI says otherwise; also bounds a reconnect */
#define DAYS_AHEAD      14           /* day partitions made ahead, by open and by each prune */
#define MIGRATION_LOCK  "7073400000" /* pg_advisory_xact_lock key; the partitions' is the next (db/pg) */
#define SEEN_HOLD_MS    500          /* heartbeat times kept back for at most this long */
#define SEEN_BATCH      (SEEN_MAX / 2) /* or until this many: the rest is room for those that come
                                          before the caller flushes (it does after its answer) */

static const struct store_ops pg_ops;

/* ---- opening: connection, migration, partitions ---- */

/* Blots out every copy of secret in msg (a password libpq might echo). */
static void scrub(char *msg, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (n == 0)
        return;
    for (char *p = strstr(msg, secret); p; p = strstr(p + n, secret))
        memset(p, '*', n);
}

/* Removes what libpq quotes of a URI it cannot parse (it may be the password): "x" becomes "". */
static void drop_quoted(char *msg)
{
    char *out = msg;
    bool quoted = false;
    for (const char *p = msg; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (*p == '"' || !quoted)
            *out++ = *p;
    }
    *out = '\0';
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg, (void)message;
}

/* Runs one of the migration's own statements (constant text, no parameters). */
static enum store_status exec_text(struct pg_store *s, const char *sql, const char *what)
{
    PGresult *res = PQexec(s->conn, sql);
    enum store_status st = STORE_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        st = fail(s, what, res);
    PQclear(res);
    return st;
}

/* db/pg/ in one transaction. The advisory lock first: the workers of every host may start at
 * once, and one of them migrates while the others wait, then find the schema current. */
static enum store_status migrate(struct pg_store *s)
{
    enum store_status st = exec_text(s, "BEGIN", "begin migration");
    if (st != STORE_OK)
        return st;
    st = exec_text(s,
                   "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK "); "
                   "CREATE TABLE IF NOT EXISTS provd_schema (version integer NOT NULL)",
                   "lock schema");
    int version = -1;
    if (st == STORE_OK) {
        PGresult *res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM provd_schema");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            version = atoi(PQgetvalue(res, 0, 0));
        else
            st = fail(s, "read schema version", res);
        PQclear(res);
    }
    if (st == STORE_OK && version > provd_pg_migration_count) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "the database has schema version %d; this provd knows %d: upgrade provd", version,
                 provd_pg_migration_count);
        st = STORE_ERROR;
    }
    for (int i = version; st == STORE_OK && i < provd_pg_migration_count; i++)
        st = exec_text(s, provd_pg_migrations[i].sql, provd_pg_migrations[i].name);
    if (st == STORE_OK && version < provd_pg_migration_count) {
        char count[16];
        snprintf(count, sizeof count, "%d", provd_pg_migration_count);
        const char *values[] = {count};
        st = exec_text(s, "DELETE FROM provd_schema", "set schema version");
        PGresult *res = st == STORE_OK
                            ? PQexecParams(s->conn, "INSERT INTO provd_schema VALUES ($1::integer)", 1, NULL,
                                           values, NULL, NULL, 0)
                            : NULL;
        if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
            st = fail(s, "set schema version", res);
        PQclear(res);
    }
    enum store_status end = exec_text(s, st == STORE_OK ? "COMMIT" : "ROLLBACK", "end migration");
    return st == STORE_OK ? end : st;
}

/* The day partitions from the day of first_at (yesterday at the earliest) to DAYS_AHEAD ahead. */
static enum store_status make_partitions(struct pg_store *s, int64_t first_at)
{
    struct params p = {0};
    param_int(&p, first_at);
    param_int(&p, DAYS_AHEAD);
    return exec_stmt(s, PG_PARTITIONS_MAKE, &p, "make partitions", NULL);
}

/* ---- heartbeat times, kept back to be written many at once ---- */

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Writes every time kept back. They are kept on failure (the next flush tries again). */
static enum store_status seen_write(struct pg_store *s)
{
    struct seen_times *seen = &s->seen;
    if (seen->count == 0)
        return STORE_OK;
    struct params p = {0};
    param_text(&p, seen->ids);
    param_text(&p, seen->times);
    enum store_status st = exec_stmt(s, PG_SEEN, &p, "write heartbeat times", NULL);
    if (st == STORE_OK)
        seen->count = 0, seen->ids_len = seen->times_len = 0;
    return st;
}

static int pg_flush_due_in(const struct store *base)
{
    const struct seen_times *seen = &((const struct pg_store *)base)->seen;
    if (seen->count == 0)
        return -1;
    if (seen->count >= SEEN_BATCH)
        return 0;
    int64_t due = seen->first_ms + SEEN_HOLD_MS - monotonic_ms();
    return due > 0 ? (int)due : 0;
}

static int pg_flush(struct store *base, bool all)
{
    int due = pg_flush_due_in(base);
    if (due < 0 || (due > 0 && !all))
        return due;
    return seen_write(pg_of(base)) == STORE_OK ? -1 : SEEN_HOLD_MS;
}

/* Keeps id's heartbeat time back for the caller's store_flush(). Only a full batch is written
 * here, in the heartbeat's own call: a caller that flushes after each answer, as the workers do,
 * never lets it fill. A time that finds the batch full and the database failing is dropped (the
 * device's next heartbeat brings a newer one). */
static void seen_note(struct pg_store *s, const char *id, int64_t now)
{
    struct seen_times *seen = &s->seen;
    size_t id_len = strlen(id);
    if (id_len > SEEN_ID_MAX)
        return;
    if (seen->count == SEEN_MAX && seen_write(s) != STORE_OK)
        return;
    if (seen->count == 0)
        seen->first_ms = monotonic_ms();
    const char *sep = seen->count > 0 ? "," : "";
    seen->ids_len += (size_t)snprintf(seen->ids + seen->ids_len, sizeof seen->ids - seen->ids_len, "%s%s", sep, id);
    seen->times_len += (size_t)snprintf(seen->times + seen->times_len, sizeof seen->times - seen->times_len,
                                        "%s%lld", sep, (long long)now);
    seen->count++;
}

/* A copy of a PostgreSQL database is PostgreSQL's own tools' job. */
static enum store_status pg_no_copy(struct store *base, const char *path, store_progress_fn fn, void *user_data)
{
    (void)path, (void)fn, (void)user_data;
    snprintf(base->errmsg, sizeof base->errmsg,
             "PostgreSQL databases are backed up with pg_dump and restored with pg_restore (README: Backups)");
    return STORE_ERROR;
}

static void pg_free(struct store *base)
{
    struct pg_store *s = pg_of(base);
    if (!s)
        return;
    if (PQstatus(s->conn) == CONNECTION_OK) /* a lost connection is not waited for at exit */
        seen_write(s);
    PQfinish(s->conn);
    free(s);
}

/* uri is expanded by libpq (expand_dbname): its own settings win over the defaults before it. */
struct store *store_pg_module_open(const char *uri, char *err, size_t err_len)
{
    struct pg_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->base.ops = &pg_ops;
    char *parse_err = NULL;
    PQconninfoOption *options = PQconninfoParse(uri, &parse_err);
    if (!options) {
        char line[200];
        first_line(line, sizeof line, parse_err ? parse_err : "out of memory");
        drop_quoted(line);
        snprintf(err, err_len, "malformed PostgreSQL URI: %s", line);
        PQfreemem(parse_err);
        free(s);
        return NULL;
    }
    const char *password = NULL;
    for (PQconninfoOption *o = options; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0)
            password = o->val;

    static const char *const keywords[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *values[] = {CONNECT_TIMEOUT, "provd", uri, NULL};
    s->conn = PQconnectdbParams(keywords, values, 1);
    if (!s->conn) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL); /* "already exists, skipping" and such */
    snprintf(s->where, sizeof s->where, "%.60s:%.8s/%.50s", PQhost(s->conn) ? PQhost(s->conn) : "",
             PQport(s->conn) ? PQport(s->conn) : "", PQdb(s->conn) ? PQdb(s->conn) : "");
    if (PQstatus(s->conn) != CONNECTION_OK) {
        char line[200];
        first_line(line, sizeof line, PQerrorMessage(s->conn));
        snprintf(err, err_len, "cannot connect to PostgreSQL at %s: %s", s->where, line);
        goto fail;
    }
    if (migrate(s) != STORE_OK || make_partitions(s, 0) != STORE_OK) {
        snprintf(err, err_len, "PostgreSQL at %s: %s", s->where, s->base.errmsg);
        goto fail;
    }
    PQconninfoFree(options);
    return &s->base;
fail:
    scrub(err, password);
    PQconninfoFree(options);
    pg_free(&s->base);
    return NULL;
}

/* ---- operations ---- */

static enum store_status pg_ping(struct store *base)
{
    struct pg_store *s = pg_of(base);
    return exec_stmt(s, PG_PING, NULL, "ping", NULL);
}

/* Each commit is flushed to disk before it returns already (synchronous_commit is on by
 * default, and the heartbeat times alone are written without it). */
static enum store_status pg_sync_every_commit(struct store *base)
{
    (void)base;
    return STORE_OK;
}

static enum store_status pg_prepare_all(struct store *base)
{
    struct pg_store *s = pg_of(base);
    enum store_status st = STORE_OK;
    for (int i = 0; st == STORE_OK && i < PG__COUNT; i++)
        st = prepare(s, i);
    return st;
}

static enum store_status pg_read_begin(struct store *base)
{
    struct pg_store *s = pg_of(base);
    return begin_transaction(s, PG_BEGIN_READ, "begin read");
}

static void pg_read_end(struct store *base)
{
    struct pg_store *s = pg_of(base);
    if (s->in_txn)
        finish_transaction(s, PQstatus(s->conn) == CONNECTION_OK, "end read");
}

/* A new device, in one transaction under PG_REGISTRATION_LOCK: the caps counted, then the insert. */
static enum store_status register_new(struct pg_store *s, const char *deviceid, const char *ipaddr,
                                      const char *ssid, const char *location, const struct registration *reg,
                                      int64_t now, store_device_fn fn, void *user_data)
{
    enum store_status st = begin_transaction(s, PG_BEGIN, "register device: begin");
    if (st == STORE_OK)
        st = exec_stmt(s, PG_REGISTRATION_LOCK, NULL, "register device: lock", NULL);
    if (st == STORE_OK) {
        struct params p = {0};
        int64_t counts[2];
        param_text(&p, reg->from);
        param_int(&p, now - REGISTRATION_WINDOW_S);
        param_int(&p, reg->per_minute);
        st = read_ints(s, PG_REGISTRATION_COUNTS, &p, "register device: count", counts, 2);
        if (st == STORE_OK)
            st = store_registration_room(reg, counts[0], counts[1]);
    }
    PGresult *res = NULL;
    if (st == STORE_OK) {
        struct params p = {0};
        param_text(&p, deviceid);
        param_text(&p, reg->policy == REGISTRATION_OPEN ? "accepted" : "pending");
        param_text(&p, ipaddr);
        param_text(&p, ssid);
        param_int(&p, now);
        param_text(&p, reg->from);
        param_text(&p, location);
        res = run(s, PG_DEVICE_REGISTER, &p, "register device", &st);
    }
    st = end_transaction(s, st, "register device: end");
    if (res && st == STORE_OK) {
        bool created = PQntuples(res) == 1 && PQgetvalue(res, 0, DEVICE_COLUMN_COUNT)[0] == 't'; /* after DEVICE_COLUMNS */
        hand_devices(res, fn, user_data, &now);
        st = created ? STORE_CREATED : STORE_OK;
    }
    PQclear(res);
    return st;
}

static enum store_status pg_device_register(struct store *base, const char *deviceid, const char *ipaddr,
                                            const char *ssid, const char *location,
                                            const struct registration *reg, int64_t now,
                                            store_device_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_text(&p, ipaddr);
    param_text(&p, ssid);
    param_int(&p, now);
    param_text(&p, location);
    enum store_status st = device_rows(s, PG_DEVICE_TOUCH, &p, "register device", fn, user_data, &now, NULL);
    if (st != STORE_NOT_FOUND)
        return st;
    if (reg->policy == REGISTRATION_CLOSED)
        return STORE_REFUSED;
    return register_new(s, deviceid, ipaddr, ssid, location, reg, now, fn, user_data);
}

static enum store_status pg_device_heartbeat(struct store *base, const char *deviceid,
                                             enum store_caller caller, int64_t now, struct poll_facts *facts,
                                             char *stored, size_t stored_len)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    PGresult *res = run(s, PG_DEVICE_POLL_CURRENT, &p, "poll device", &st);
    if (!res)
        return st;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return STORE_NOT_FOUND;
    }
    read_trust(res, 0, 0, &facts->trust, stored, stored_len);
    if (caller == STORE_CALLER_UNSIGNED && device_must_sign(stored[0], facts->trust.trust)) {
        PQclear(res);
        return STORE_UNPROVED;
    }
    facts->rejected = strcmp(facts->trust.state, "rejected") == 0;
    facts->row = 0;
    facts->cfgsn = col_int(res, 0, 4, 0);
    facts->cfgsn_applied = col_int(res, 0, 5, -1);
    snprintf(facts->firmware_status, sizeof facts->firmware_status, "%s", PQgetvalue(res, 0, 6));
    snprintf(facts->firmware_running, sizeof facts->firmware_running, "%s", PQgetvalue(res, 0, 7));
    PQclear(res);
    if (caller != STORE_CALLER_TO_PROVE)
        seen_note(s, deviceid, now);
    return STORE_OK;
}

static enum store_status pg_heartbeat_seen(struct store *base, const char *deviceid, int64_t row, int64_t now)
{
    (void)row; /* the id names the device here */
    seen_note(pg_of(base), deviceid, now);
    return STORE_OK;
}

/* A read, its time kept back as a heartbeat's; a new cfgsn_applied, rarely, in a durable commit. */
static enum store_status pg_device_poll(struct store *base, const char *deviceid, enum store_caller caller,
                                        int64_t applied, int64_t now, store_device_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    PGresult *res = run(s, PG_DEVICE_POLL, &p, "poll device", &st);
    if (!res)
        return st;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return STORE_NOT_FOUND;
    }
    /* Columns 12 and 14 of DEVICE_COLUMNS: key IS NOT NULL, trust. */
    bool has_key = PQgetvalue(res, 0, 12)[0] == 't';
    if (caller != STORE_CALLER_PROVED && device_must_sign(has_key, col_int(res, 0, 14, 0))) {
        PQclear(res);
        return STORE_UNPROVED;
    }
    seen_note(s, deviceid, now);
    if (applied < 0 || applied == col_int(res, 0, 7, -1)) {
        hand_devices(res, fn, user_data, &now);
        PQclear(res);
        return STORE_OK;
    }
    PQclear(res);
    p = (struct params){0};
    param_text(&p, deviceid);
    param_int(&p, applied);
    return device_rows(s, PG_DEVICE_APPLIED, &p, "poll device", fn, user_data, &now, NULL);
}

static enum store_status pg_device_get(struct store *base, const char *deviceid, store_device_fn fn,
                                       void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    return device_rows(s, PG_DEVICE_GET, &p, "read device", fn, user_data, NULL, NULL);
}

/* How many times an update and a create may lose to concurrent deletes and creates in a row. */
#define UPDATE_ATTEMPTS 3

/* The conditional update; when no row matched, STORE_STALE if an If-Match was given (the
 * device has another cfgsn, or does not exist), else the create (PG_DEVICE_CREATE), and should
 * a concurrent create come first, the update again. */
static enum store_status update_row(struct pg_store *s, const char *deviceid, const struct device_update *u,
                                    int64_t now, store_device_fn fn, void *user_data)
{
    enum store_status st = STORE_OK;
    int64_t poll_interval = u->set_poll_interval && u->poll_interval > 0 ? u->poll_interval : 0;
    for (int attempt = 0; st == STORE_OK && attempt < UPDATE_ATTEMPTS; attempt++) {
        struct params p = {0};
        param_text(&p, deviceid);
        param_text(&p, u->name);
        param_text(&p, u->data);
        param_text(&p, u->state);
        param_bool(&p, u->set_poll_interval);
        param_int_or_null(&p, poll_interval > 0, poll_interval);
        param_int(&p, u->cfgsn);
        param_bool(&p, u->seqn_reset);
        param_int(&p, u->if_match);
        param_text(&p, u->set_location ? u->location : NULL);
        param_bool(&p, u->set_location);
        param_bool(&p, u->set_firmware);
        param_text(&p, u->set_firmware ? u->firmware : NULL);
        st = device_rows(s, PG_DEVICE_UPDATE, &p, "update device", fn, user_data, NULL, NULL);
        if (st != STORE_NOT_FOUND)
            return st;
        if (u->if_match != IF_MATCH_NONE)
            return STORE_STALE;
        p = (struct params){0};
        param_text(&p, deviceid);
        param_text(&p, u->name);
        param_text(&p, u->data);
        param_text(&p, u->state);
        param_int_or_null(&p, poll_interval > 0, poll_interval);
        param_int(&p, u->cfgsn > 0 ? u->cfgsn : 0);
        param_int(&p, now);
        param_text(&p, u->set_location ? u->location : NULL);
        param_text(&p, u->set_firmware ? u->firmware : NULL);
        st = device_rows(s, PG_DEVICE_CREATE, &p, "create device", fn, user_data, NULL, NULL);
        if (st != STORE_NOT_FOUND)
            return st == STORE_OK ? STORE_CREATED : st;
        st = STORE_OK; /* a concurrent create came first: update that device */
    }
    if (st == STORE_OK) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg,
                 "update device: created and deleted meanwhile, %d times", UPDATE_ATTEMPTS);
        st = STORE_ERROR;
    }
    return st;
}

/* A transaction under PG_TAGS_LOCK: begun, then ended (end_transaction()) by its caller. Inside
 * an admin's change (store_write_begin()) it is that transaction, which its end commits or rolls
 * back with the change's audit entry. */
static enum store_status begin_tags(struct pg_store *s, const char *what)
{
    enum store_status st = join_or_begin(s, what);
    return st == STORE_OK ? exec_stmt(s, PG_TAGS_LOCK, NULL, what, NULL) : st;
}

/* The row's change, then (in one transaction with it, under PG_TAGS_LOCK) its new tags; the
 * device is handed over once they are written. */
static enum store_status pg_device_update(struct store *base, const char *deviceid,
                                          const struct device_update *u, int64_t now, store_device_fn fn,
                                          void *user_data)
{
    struct pg_store *s = pg_of(base);
    if (!u->tags)
        return update_row(s, deviceid, u, now, fn, user_data);
    enum store_status st = begin_tags(s, "update device: begin");
    enum store_status result = st == STORE_OK ? update_row(s, deviceid, u, now, NULL, NULL) : st;
    st = result == STORE_CREATED ? STORE_OK : result;
    if (st == STORE_OK) {
        struct params p = {0};
        param_text(&p, deviceid);
        param_text(&p, u->tags);
        st = exec_stmt(s, PG_TAGS_SET, &p, "update device: tags", NULL);
    }
    if (st == STORE_OK)
        st = pg_device_get(base, deviceid, fn, user_data);
    st = end_transaction(s, st, "update device: end");
    return st == STORE_OK ? result : st;
}

static enum store_status pg_device_delete(struct store *base, const char *deviceid)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    return write_one_row(s, PG_DEVICE_DELETE, &p, "delete device");
}

static enum store_status pg_device_keys_plain(struct store *base, int max, store_key_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, max);
    PGresult *res = run(s, PG_DEVICE_KEYS_PLAIN, &p, "read plain keys", &st);
    for (int i = 0; res && i < PQntuples(res); i++)
        fn(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), user_data);
    PQclear(res);
    return st;
}

static enum store_status pg_device_key_replace(struct store *base, const char *deviceid, const char *old,
                                               const char *key)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_text(&p, old);
    param_text(&p, key);
    return write_one_row(s, PG_DEVICE_KEY_REPLACE, &p, "seal device key");
}

static enum store_status pg_device_set_key(struct store *base, const char *deviceid, const char *key)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_text(&p, key);
    return write_one_row(s, PG_DEVICE_SET_KEY, &p, "set device key");
}

/* $1 first, then DEVICE_MATCH_SQL's parameters and the limit, $7. */
static void param_filter(struct params *p, const char *first, const struct device_filter *f)
{
    param_text(p, first);
    param_text(p, f->state);
    if (f->online >= 0)
        param_bool(p, f->online != 0);
    else
        param_text(p, NULL); /* any */
    param_int(p, f->now);
    param_int(p, f->default_interval);
    param_text(p, f->q);
    param_int(p, f->limit);
    param_text(p, f->tag);
    param_text(p, f->ids);
}

static enum store_status pg_device_count(struct store *base, const struct device_filter *f, int64_t *count)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_filter(&p, NULL, f);
    p.value[6] = NULL; /* $7, the limit: not used */
    return read_ints(s, PG_DEVICE_COUNT, &p, "count devices", count, 1);
}

static enum store_status pg_device_bulk(struct store *base, const struct device_filter *f,
                                        const struct device_bulk *b, int64_t *affected)
{
    struct pg_store *s = pg_of(base);
    if ((unsigned)b->action > DEVICE_BULK_SET) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk: no action %d", (int)b->action);
        return STORE_ERROR;
    }
    struct params p = {0};
    param_filter(&p, bulk_text(b), f);
    if (b->action == DEVICE_BULK_SET)
        param_text(&p, b->value);
    enum pg_stmt id = PG_DEVICE_BULK + b->action;
    if (b->action != DEVICE_BULK_TAG && b->action != DEVICE_BULK_UNTAG)
        return exec_stmt(s, id, &p, "bulk change", affected);
    enum store_status st = begin_tags(s, "bulk tags: begin");
    if (st == STORE_OK)
        st = exec_stmt(s, id, &p, "bulk tags", affected);
    return end_transaction(s, st, "bulk tags: end");
}

static enum store_status pg_device_list(struct store *base, const struct device_filter *f, store_device_fn fn,
                                        void *user_data, int *count)
{
    struct pg_store *s = pg_of(base);
    if ((unsigned)f->sort >= DEVICE_SORT__COUNT) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "list devices: no sort %d", (int)f->sort);
        return STORE_ERROR;
    }
    enum pg_stmt id = PG_DEVICE_LIST + 4 * f->sort + 2 * f->descending + (f->after != NULL);
    struct params p = {0};
    param_filter(&p, f->after, f);
    int n = 0;
    enum store_status st = device_rows(s, id, &p, "list devices", fn, user_data, NULL, &n);
    if (count)
        *count = n;
    if (st != STORE_NOT_FOUND)
        return st;
    /* An empty page: the end, or (sorted by a column) a cursor that names no device. */
    if (f->after && f->sort != DEVICE_SORT_ID)
        return pg_device_get(base, f->after, NULL, NULL);
    return STORE_OK;
}

/* A count of devices by liveness at $1 (default interval $2) into out[0..n). */
static enum store_status count_devices(struct pg_store *s, enum pg_stmt id, int64_t now, int64_t default_interval,
                                       const char *what, int64_t *out, int n)
{
    struct params p = {0};
    param_int(&p, now);
    param_int(&p, default_interval);
    return read_ints(s, id, &p, what, out, n);
}

static enum store_status pg_reading_count(struct store *base, int64_t *count)
{
    return read_ints(pg_of(base), PG_TELEMETRY_COUNT, NULL, "count readings", count, 1);
}

static enum store_status pg_fleet(struct store *base, int64_t now, int64_t default_interval,
                                  int64_t counts[FLEET__COUNT])
{
    return count_devices(pg_of(base), PG_DEVICE_FLEET, now, default_interval, "count the fleet", counts,
                         FLEET__COUNT);
}

static enum store_status pg_device_trust(struct store *base, const char *deviceid, struct device_trust *out,
                                        char *stored, size_t stored_len)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    PGresult *res = run(s, PG_DEVICE_TRUST, &p, "read device trust", &st);
    if (!res)
        return st;
    st = PQntuples(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK)
        read_trust(res, 0, 0, out, stored, stored_len);
    PQclear(res);
    return st;
}

static enum store_status pg_device_signed(struct store *base, const char *deviceid, int64_t t, bool state_changing)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, t);
    param_bool(&p, state_changing);
    int64_t rows = 0;
    enum store_status st = exec_stmt(s, PG_DEVICE_SIGNED, &p, "record signed call", &rows);
    return st == STORE_OK && rows == 0 ? STORE_STALE : st;
}

/* An array literal being written (PG_READINGS_ADD's and PG_DEVICES_TRUST's parameters), by hand:
 * libpq quotes SQL literals and identifiers, not array elements. */
struct array_literal {
    char *text;
    size_t len, cap;
    bool failed; /* out of memory, or an element no text parameter can carry (a NUL) */
};

static void literal_put(struct array_literal *a, const char *v, size_t n)
{
    if (a->failed)
        return;
    if (a->len + n + 2 > a->cap) {
        size_t cap = (a->len + n + 2) * 2;
        char *text = realloc(a->text, cap);
        if (!text) {
            a->failed = true;
            return;
        }
        a->text = text;
        a->cap = cap;
    }
    memcpy(a->text + a->len, v, n);
    a->len += n;
    a->text[a->len] = '\0';
}

/* The separator before an element: '{' before the first, ',' before the others. */
static void literal_next(struct array_literal *a)
{
    literal_put(a, a->len == 0 ? "{" : ",", 1);
}

/* An element in double quotes, with '"' and '\\' escaped by a backslash. */
static void literal_text(struct array_literal *a, const char *v, size_t n)
{
    literal_next(a);
    literal_put(a, "\"", 1);
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i < n && v[i] == '\0')
            a->failed = true;
        if (i == n || v[i] == '"' || v[i] == '\\') {
            literal_put(a, v + start, i - start);
            if (i < n)
                literal_put(a, "\\", 1);
            start = i;
        }
    }
    literal_put(a, "\"", 1);
}

static void literal_int(struct array_literal *a, bool has, int64_t v)
{
    char digits[24];
    literal_next(a);
    int n = has ? snprintf(digits, sizeof digits, "%lld", (long long)v) : snprintf(digits, sizeof digits, "NULL");
    literal_put(a, digits, (size_t)n);
}

/* Closes the literal: false when it failed (then it is freed). */
static bool literal_end(struct array_literal *a)
{
    literal_put(a, a->len == 0 ? "{}" : "}", a->len == 0 ? 2 : 1);
    if (a->failed) {
        free(a->text);
        a->text = NULL;
    }
    return !a->failed;
}

enum { READINGS_ARRAYS = 7 }; /* PG_READINGS_ADD's parameters */

/* PG_READINGS_ADD for r[0..n), each one's status from its row; a failure of the statement is
 * every reading's. */
static enum store_status add_together(struct pg_store *s, const struct reading_new *r, size_t n,
                                      enum store_status *status)
{
    struct array_literal a[READINGS_ARRAYS] = {0};
    for (size_t i = 0; i < n; i++) {
        literal_text(&a[0], r[i].deviceid, strlen(r[i].deviceid));
        literal_int(&a[1], true, r[i].seqn);
        literal_int(&a[2], true, r[i].received_at);
        literal_int(&a[3], r[i].ts != TS_NONE, r[i].ts);
        literal_text(&a[4], r[i].text, r[i].len);
        literal_int(&a[5], true, r[i].epoch);
        literal_int(&a[6], true, r[i].envelope);
    }
    struct params p = {0};
    bool written = true;
    for (int k = 0; k < READINGS_ARRAYS; k++) {
        written = literal_end(&a[k]) && written;
        param_text(&p, a[k].text);
    }
    enum store_status st = STORE_ERROR;
    PGresult *res = NULL;
    if (!written)
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "store readings: a reading no text can hold (a NUL byte)");
    else
        res = run(s, PG_READINGS_ADD, &p, "store readings", &st);
    for (int k = 0; k < READINGS_ARRAYS; k++)
        free(a[k].text);
    if (res && PQntuples(res) != (int)n) {
        st = fail(s, "store readings", res);
        PQclear(res);
        res = NULL;
    }
    for (size_t i = 0; i < n; i++)
        status[i] = !res                                 ? st
                    : *PQgetvalue(res, (int)i, 0) == 't' ? STORE_OK
                    : *PQgetvalue(res, (int)i, 1) != 't' ? STORE_NOT_FOUND
                    : *PQgetvalue(res, (int)i, 2) == 't' ? STORE_STALE
                                                         : STORE_REFUSED;
    PQclear(res);
    return res ? STORE_OK : st;
}

/* Together; should the statement fail other than by a lost connection, one reading the database
 * refuses may be why: then each alone, so that it fails alone. */
static void pg_readings_add(struct store *base, const struct reading_new *r, size_t n, enum store_status *status)
{
    struct pg_store *s = pg_of(base);
    enum store_status st = add_together(s, r, n, status);
    if (st != STORE_OK && st != STORE_UNAVAILABLE && n > 1)
        for (size_t i = 0; i < n; i++)
            add_together(s, &r[i], 1, &status[i]);
}

/* PG_DEVICES_TRUST: each row to every place its device has in ids. */
static void pg_devices_trust(struct store *base, const char *const *ids, size_t n, struct device_trust *out,
                             char *stored, size_t stored_len, enum store_status *status)
{
    struct pg_store *s = pg_of(base);
    struct array_literal a = {0};
    for (size_t i = 0; i < n; i++)
        literal_text(&a, ids[i], strlen(ids[i]));
    enum store_status st = STORE_ERROR;
    PGresult *res = NULL;
    if (literal_end(&a)) {
        struct params p = {0};
        param_text(&p, a.text);
        res = run(s, PG_DEVICES_TRUST, &p, "read devices' trust", &st);
        free(a.text);
    }
    for (size_t i = 0; i < n; i++)
        status[i] = res ? STORE_NOT_FOUND : st;
    for (int row = 0; res && row < PQntuples(res); row++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(ids[i], PQgetvalue(res, row, 0)) == 0) {
                read_trust(res, row, 1, &out[i], stored + i * stored_len, stored_len);
                status[i] = STORE_OK;
            }
    PQclear(res);
}

/* Stops the connection's running statement (the caller then reads its results to the end). */
static void cancel(struct pg_store *s)
{
    PGcancel *c = PQgetCancel(s->conn);
    char why[128];
    if (c)
        PQcancel(c, why, sizeof why);
    PQfreeCancel(c);
}

/* The rows come one at a time (single-row mode), so that an export of all of a device's readings
 * holds one in memory, not all of them; a walk stopped early cancels the rest. */
static enum store_status pg_reading_list(struct store *base, const char *deviceid,
                                         const struct reading_filter *f, store_reading_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum pg_stmt id = f->ascending ? PG_READING_LIST_ASC : PG_READING_LIST_DESC;
    enum store_status st = prepare(s, id);
    if (st != STORE_OK)
        return st;
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, f->since);
    param_int(&p, f->until);
    param_int_or_null(&p, f->after >= 0, f->after);
    param_int_or_null(&p, f->limit >= 0, f->limit); /* LIMIT NULL: all */
    char name[32];
    if (!PQsendQueryPrepared(s->conn, stmt_name(id, name, sizeof name), p.n, p.value, p.length, p.format, 0))
        return fail(s, "list readings", NULL);
    PQsetSingleRowMode(s->conn);
    bool walking = true;
    PGresult *res;
    while ((res = PQgetResult(s->conn))) {
        ExecStatusType rs = PQresultStatus(res);
        if (rs == PGRES_SINGLE_TUPLE && walking) {
            struct reading r = {
                .id = col_int(res, 0, 0, 0),
                .seqn = col_int(res, 0, 1, 0),
                .received_at = col_int(res, 0, 2, 0),
                .ts = col_int(res, 0, 3, TS_NONE),
                .reading = PQgetvalue(res, 0, 4),
            };
            walking = fn(&r, user_data);
            if (!walking)
                cancel(s);
        } else if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK && walking && st == STORE_OK) {
            st = fail(s, "list readings", res);
        }
        PQclear(res);
    }
    return st;
}

static enum store_status pg_reading_buckets(struct store *base, const char *deviceid, int64_t since,
                                            int64_t until, int64_t bucket_seconds, store_bucket_fn fn,
                                            void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, since);
    param_int(&p, until);
    param_int(&p, bucket_seconds);
    PGresult *res = run(s, PG_READING_BUCKETS, &p, "bucket readings", &st);
    if (!res)
        return st;
    for (int i = 0, n = PQntuples(res); i < n; i++) {
        struct bucket_stat b = {
            .start = col_int(res, i, 0, 0),
            .field = PQgetvalue(res, i, 1),
            .min = strtod(PQgetvalue(res, i, 2), NULL),
            .avg = strtod(PQgetvalue(res, i, 3), NULL),
            .max = strtod(PQgetvalue(res, i, 4), NULL),
            .count = col_int(res, i, 5, 0),
        };
        fn(&b, user_data);
    }
    PQclear(res);
    return STORE_OK;
}

static enum store_status pg_device_expire_pending(struct store *base, int64_t before, int max, int *deleted)
{
    return delete_batch(pg_of(base), PG_DEVICE_EXPIRE_PENDING, before, max, deleted, "expire pending devices");
}

/* Retention by days: the day partitions over by `before` are dropped whole (their readings
 * counted first), and of the readings in the default partition (days without a partition of
 * their own) up to max received before it deleted, oldest arrivals first. A reading in a day
 * partition goes with its day, so at most a day after `before`; *deleted may exceed max. Then
 * the partitions ahead are made, from the day of `before` on (never a day just dropped). */
static enum store_status pg_reading_prune(struct store *base, int64_t before, int max, int *deleted)
{
    struct pg_store *s = pg_of(base);
    *deleted = 0;
    struct params p = {0};
    param_int(&p, before);
    int64_t dropped = 0, rows = 0;
    enum store_status st = read_ints(s, PG_PARTITIONS_DROP, &p, "drop old partitions", &dropped, 1);
    if (st == STORE_OK) {
        param_int(&p, max);
        st = exec_stmt(s, PG_PRUNE_DEFAULT, &p, "prune readings", &rows);
    }
    if (st == STORE_OK)
        st = make_partitions(s, before);
    int64_t total = dropped + rows;
    *deleted = total > INT_MAX ? INT_MAX : (int)total;
    return st;
}

static const struct store_ops pg_ops = {
    /* no group commit, no checkpoints; retention is a scheduled job (provctl prune) */
    .needs = STORE_NEEDS_GROUP_COMMIT | STORE_NEEDS_FLUSHES | STORE_NEEDS_FLUSHED_COMMITS,
    .free = pg_free,
    .flush = pg_flush,
    .flush_due_in = pg_flush_due_in,
    .backup = pg_no_copy,
    .restore = pg_no_copy,
    .ping = pg_ping,
    .sync_every_commit = pg_sync_every_commit,
    .prepare_all = pg_prepare_all,
    .read_begin = pg_read_begin,
    .read_end = pg_read_end,
    .device_register = pg_device_register,
    .device_heartbeat = pg_device_heartbeat,
    .heartbeat_seen = pg_heartbeat_seen,
    .device_poll = pg_device_poll,
    .device_get = pg_device_get,
    .device_update = pg_device_update,
    .device_delete = pg_device_delete,
    .device_set_key = pg_device_set_key,
    .device_keys_plain = pg_device_keys_plain,
    .device_key_replace = pg_device_key_replace,
    .device_list = pg_device_list,
    .device_count = pg_device_count,
    .device_bulk = pg_device_bulk,
    .reading_count = pg_reading_count,
    .fleet = pg_fleet,
    .device_trust = pg_device_trust,
    .device_signed = pg_device_signed,
    .devices_trust = pg_devices_trust,
    .readings_add = pg_readings_add,
    .reading_list = pg_reading_list,
    .reading_buckets = pg_reading_buckets,
    .reading_prune = pg_reading_prune,
    .device_expire_pending = pg_device_expire_pending,
    .firmware_add = pg_firmware_add,
    .firmware_get = pg_firmware_get,
    .firmware_list = pg_firmware_list,
    .firmware_running = pg_firmware_running,
    .firmware_delete = pg_firmware_delete,
    .firmware_image = pg_firmware_image,
    .device_firmware = pg_device_firmware,
    .device_by_mac = pg_device_by_mac,
    .device_image = pg_device_image,
    .rollout_add = pg_rollout_add,
    .rollout_list = pg_rollout_list,
    .rollout_stages = pg_rollout_stages,
    .rollout_state = pg_rollout_state,
    .rollout_start = pg_rollout_start,
    .rollout_timeouts = pg_rollout_timeouts,
    .token_add = pg_token_add,
    .token_check = pg_token_check,
    .token_used = pg_token_used,
    .alert_lead = pg_alert_lead,
    .alert_sweep = pg_alert_sweep,
    .alert_enqueue = pg_alert_enqueue,
    .alert_due = pg_alert_due,
    .alert_done = pg_alert_done,
    .alert_retry = pg_alert_retry,
    .alert_counts = pg_alert_counts,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .write_begin = pg_write_begin,
    .write_end = pg_write_end,
    .device_lock = pg_device_lock,
    .audit_add = pg_audit_add,
    .audit_list = pg_audit_list,
    .audit_prune = pg_audit_prune,
    .recently_offline = pg_recently_offline,
    .reading_last_id = pg_reading_last_id,
    .device_bulk_add = pg_device_bulk_add,
    .reading_bulk_add = pg_reading_bulk_add,
};
