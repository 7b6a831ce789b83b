/* The SQLite backend's devices and their readings: registration, heartbeats and polls, lastseen
 * writes, configuration, keys, lists and bulk actions, readings, and bulk loading for benchmarks. */
#include "store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A device row; *row gets its key (heartbeat times name devices by it). */
static void read_device(sqlite3_stmt *st, struct device *d, int64_t *row)
{
    d->deviceid = column_text(st, 0);
    d->name = column_text(st, 1);
    d->state = column_text(st, 2);
    d->lastseen = column_int_or(st, 3, 0);
    d->ssid = column_text(st, 4);
    d->ipaddr = column_text(st, 5);
    d->cfgsn = sqlite3_column_int64(st, 6);
    d->cfgsn_applied = column_int_or(st, 7, -1);
    d->flags = sqlite3_column_int64(st, 8);
    d->data = column_text(st, 9);
    d->poll_interval = column_int_or(st, 10, 0);
    d->datec = sqlite3_column_int64(st, 11);
    d->has_key = sqlite3_column_int(st, 12) != 0;
    d->last_seqn = column_int_or(st, 13, -1);
    *row = sqlite3_column_int64(st, 14);
    d->trust = sqlite3_column_int64(st, 15);
    d->location = column_text(st, 16);
    d->tags = column_text(st, 17);
    d->firmware = (const char *)sqlite3_column_text(st, 18);
    d->firmware_running = (const char *)sqlite3_column_text(st, 19);
    d->firmware_status = column_text(st, 20);
    d->firmware_size = column_int_or(st, 21, 0);
    d->firmware_sha256 = (const char *)sqlite3_column_text(st, 22);
    d->firmware_md5 = (const char *)sqlite3_column_text(st, 23);
}

/* Steps a statement returning device rows, handing each to fn; resets it. *row (when not NULL)
 * gets the last one's key. */
enum store_status device_rows(struct sqlite_store *s, enum stmt id, store_device_fn fn, void *user_data,
                              int *count, int64_t *row)
{
    sqlite3_stmt *st = stmt(s, id);
    int n = 0, rc;
    int64_t key = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct device d;
        read_device(st, &d, &key);
        if (row)
            *row = key;
        if (fn)
            fn(&d, user_data);
        n++;
    }
    enum store_status result = STORE_OK;
    if (rc != SQLITE_DONE)
        result = fail(s, stmt_sql[id]);
    else if (n == 0)
        result = STORE_NOT_FOUND;
    stmt_done(st);
    if (count)
        *count = n;
    return result;
}

static enum store_status write_seen(struct sqlite_store *s, int64_t row, int64_t at)
{
    sqlite3_stmt *up = stmt(s, STMT_DEVICE_SEEN);
    sqlite3_bind_int64(up, 1, row);
    sqlite3_bind_int64(up, 2, at);
    return exec_stmt(s, STMT_DEVICE_SEEN);
}

enum store_status store_device_seen(struct store *base, const struct store_seen *seen, size_t n)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    for (size_t i = 0; i < n && st == STORE_OK; i++)
        st = write_seen(s, seen[i].row, seen[i].at);
    return finish(s, st);
}

/* lastseen moves: to the sink when there is one and it takes it, else written now. */
static enum store_status device_seen(struct sqlite_store *s, int64_t row, int64_t now)
{
    if (s->seen_sink && s->seen_sink(row, now, s->seen_data))
        return STORE_OK;
    return write_seen(s, row, now);
}

/* Gives a written device to the caller as seen at now (its lastseen is written apart); row gets
 * its key from device_rows(). */
struct seen_now {
    store_device_fn fn;
    void *user_data;
    int64_t now, row;
};

static void hand_as_seen_now(const struct device *d, void *data)
{
    struct seen_now *seen = data;
    struct device copy = *d;
    copy.lastseen = seen->now;
    if (seen->fn)
        seen->fn(&copy, seen->user_data);
}

/* The heartbeat time of the device just added (0: never seen), in the transaction adding it, so
 * that every device has its row and a heartbeat only ever updates one. */
static enum store_status set_new_device_seen(struct sqlite_store *s, int64_t at)
{
    sqlite3_stmt *set = stmt(s, STMT_DEVICE_SEEN_SET);
    sqlite3_bind_int64(set, 1, sqlite3_last_insert_rowid(s->db));
    sqlite3_bind_int64(set, 2, at);
    return exec_stmt(s, STMT_DEVICE_SEEN_SET);
}

/* Whether reg's caps let one more device in (in the registration's write transaction, which
 * SQLite serializes with every other). */
static enum store_status registration_room(struct sqlite_store *s, const struct registration *reg,
                                           int64_t now)
{
    sqlite3_stmt *st = stmt(s, STMT_REGISTRATION_COUNTS);
    bind_text(st, 1, reg->from);
    sqlite3_bind_int64(st, 2, now - REGISTRATION_WINDOW_S);
    sqlite3_bind_int64(st, 3, reg->per_minute);
    int64_t counts[2];
    enum store_status result = read_counts(s, STMT_REGISTRATION_COUNTS, counts, 2);
    return result == STORE_OK ? store_registration_room(reg, counts[0], counts[1]) : result;
}

enum store_status sqlite_device_register(struct store *base, const char *deviceid, const char *ipaddr,
                                         const char *ssid, const char *location,
                                         const struct registration *reg, int64_t now, store_device_fn fn,
                                         void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    struct seen_now seen = {fn, user_data, now, 0};
    sqlite3_stmt *touch = stmt(s, STMT_DEVICE_TOUCH);
    bind_text(touch, 1, deviceid);
    bind_text(touch, 2, ipaddr);
    bind_text(touch, 3, ssid);
    bind_text(touch, 4, location);
    st = device_rows(s, STMT_DEVICE_TOUCH, hand_as_seen_now, &seen, NULL, &seen.row);
    if (st == STORE_OK) {
        st = device_seen(s, seen.row, now);
    } else if (st == STORE_NOT_FOUND && reg->policy == REGISTRATION_CLOSED) {
        st = STORE_REFUSED;
    } else if (st == STORE_NOT_FOUND && (st = registration_room(s, reg, now)) == STORE_OK) {
        sqlite3_stmt *ins = stmt(s, STMT_DEVICE_REGISTER);
        bind_text(ins, 1, deviceid);
        bind_text(ins, 2, reg->policy == REGISTRATION_OPEN ? "accepted" : "pending");
        bind_text(ins, 3, ipaddr);
        bind_text(ins, 4, ssid);
        sqlite3_bind_int64(ins, 5, now);
        bind_text(ins, 6, reg->from);
        bind_text(ins, 7, location);
        st = device_rows(s, STMT_DEVICE_REGISTER, hand_as_seen_now, &seen, NULL, &seen.row);
        if (st == STORE_OK)
            st = set_new_device_seen(s, now) == STORE_OK ? STORE_CREATED : STORE_ERROR;
    }
    return finish(s, st);
}

void column_trust(sqlite3_stmt *st, int col, struct device_trust *out, char *stored, size_t stored_len)
{
    snprintf(out->state, sizeof out->state, "%s", column_text(st, col));
    snprintf(stored, stored_len, "%s", column_text(st, col + 1));
    out->trust = sqlite3_column_int64(st, col + 2);
    out->epoch = sqlite3_column_int64(st, col + 3);
}

/* Steps st, a bound TRUST_COLUMNS statement: the trust into *out, the key as stored into stored. */
static enum store_status read_trust(struct sqlite_store *s, sqlite3_stmt *st, struct device_trust *out,
                                    char *stored, size_t stored_len)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        column_trust(st, 0, out, stored, stored_len);
    stmt_done(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device trust");
}

/* The POLL_FACT_COLUMNS of st's row, from column col on. */
static void poll_fact_columns(sqlite3_stmt *st, int col, struct poll_facts *facts)
{
    facts->row = sqlite3_column_int64(st, col);
    facts->rejected = strcmp(column_text(st, col + 1), "rejected") == 0;
    facts->cfgsn = sqlite3_column_int64(st, col + 2);
    facts->cfgsn_applied = sqlite3_column_int64(st, col + 3);
    snprintf(facts->firmware_status, sizeof facts->firmware_status, "%s", column_text(st, col + 4));
    snprintf(facts->firmware_running, sizeof facts->firmware_running, "%s", column_text(st, col + 5));
}

/* One read: a proved caller's from the index devices_poll alone; any other's with the trust it is
 * checked against (enum store_caller): STORE_UNPROVED for an unsigned one the device must not
 * answer; for one to prove, the trust into facts->trust and the key as stored into stored. */
enum store_status sqlite_device_heartbeat(struct store *base, const char *deviceid, enum store_caller caller,
                                          int64_t now, struct poll_facts *facts, char *stored,
                                          size_t stored_len)
{
    struct sqlite_store *s = sqlite_of(base);
    bool proved = caller == STORE_CALLER_PROVED;
    sqlite3_stmt *get = stmt(s, proved ? STMT_DEVICE_POLL_CURRENT : STMT_DEVICE_POLL_TRUST);
    bind_text(get, 1, deviceid);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW && !proved) {
        column_trust(get, 0, &facts->trust, stored, stored_len);
        poll_fact_columns(get, TRUST_COLUMN_COUNT, facts);
    } else if (rc == SQLITE_ROW) {
        poll_fact_columns(get, 0, facts);
    }
    stmt_done(get);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device");
    if (caller == STORE_CALLER_UNSIGNED && device_must_sign(stored[0], facts->trust.trust))
        return STORE_UNPROVED;
    return caller != STORE_CALLER_TO_PROVE ? device_seen(s, facts->row, now) : STORE_OK;
}

/* By the rowid the heartbeat's read gave (device_seen()): a device deleted since takes nothing;
 * a new one that took its row meanwhile takes this time, as store_seen says of any queued time. */
enum store_status sqlite_heartbeat_seen(struct store *base, const char *deviceid, int64_t row, int64_t now)
{
    (void)deviceid;
    return device_seen(sqlite_of(base), row, now);
}

/* Most heartbeats change lastseen alone: the device is read (not its heartbeat time), and
 * lastseen moved apart. A new cfgsn_applied is written at once, with lastseen. */
enum store_status sqlite_device_poll(struct store *base, const char *deviceid, enum store_caller caller,
                                     int64_t applied, int64_t now, store_device_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    struct seen_now seen = {fn, user_data, now, 0};
    sqlite3_stmt *get = stmt(s, STMT_DEVICE_POLL_GET);
    bind_text(get, 1, deviceid);
    int rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) {
        struct device d;
        int64_t row;
        read_device(get, &d, &row);
        if (caller != STORE_CALLER_PROVED && device_must_sign(d.has_key, d.trust)) {
            stmt_done(get);
            return STORE_UNPROVED;
        }
        if (applied < 0 || applied == d.cfgsn_applied) {
            hand_as_seen_now(&d, &seen);
            stmt_done(get);
            return device_seen(s, row, now);
        }
    }
    stmt_done(get);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device");
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *up = stmt(s, STMT_DEVICE_POLL);
    bind_text(up, 1, deviceid);
    sqlite3_bind_int64(up, 2, applied);
    st = device_rows(s, STMT_DEVICE_POLL, hand_as_seen_now, &seen, NULL, &seen.row);
    return finish(s, st == STORE_OK ? write_seen(s, seen.row, now) : st);
}

enum store_status sqlite_device_get(struct store *base, const char *deviceid, store_device_fn fn,
                                    void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_DEVICE_GET), 1, deviceid);
    return device_rows(s, STMT_DEVICE_GET, fn, user_data, NULL, NULL);
}

/* Reads the cfgsn and data a device has now, inside the caller's transaction. */
static enum store_status device_current(struct sqlite_store *s, const char *deviceid, int64_t *cfgsn,
                                        char **data)
{
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_CURRENT);
    bind_text(st, 1, deviceid);
    int rc = sqlite3_step(st);
    enum store_status result = STORE_OK;
    if (rc == SQLITE_ROW) {
        *cfgsn = sqlite3_column_int64(st, 0);
        *data = strdup(column_text(st, 1));
        if (!*data)
            result = STORE_ERROR;
    } else {
        result = rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device");
    }
    stmt_done(st);
    return result;
}

/* The cfgsn after an update: one more when the data changes; an explicit higher one wins. */
static int64_t next_cfgsn(int64_t current, const char *old_data, const struct device_update *u)
{
    int64_t next = current;
    if (u->data && strcmp(u->data, old_data) != 0)
        next = current + 1;
    return u->cfgsn > next ? u->cfgsn : next;
}

static void bind_update(sqlite3_stmt *st, const char *deviceid, const struct device_update *u)
{
    bind_text(st, 1, deviceid);
    bind_text(st, 2, u->name);
    bind_text(st, 3, u->data);
    bind_text(st, 4, u->state);
    sqlite3_bind_int(st, 5, u->set_poll_interval);
    if (u->set_poll_interval && u->poll_interval > 0)
        sqlite3_bind_int64(st, 6, u->poll_interval);
    sqlite3_bind_int(st, 8, u->seqn_reset);
    if (u->set_location)
        bind_text(st, 10, u->location);
    sqlite3_bind_int(st, 11, u->set_location);
    sqlite3_bind_int(st, 12, u->set_firmware);
    bind_text(st, 13, u->set_firmware ? u->firmware : NULL);
}

/* The device's tags become the JSON array tags, in the caller's transaction. */
static enum store_status set_tags(struct sqlite_store *s, const char *deviceid, const char *tags)
{
    enum stmt ids[] = {STMT_TAGS_KEEP, STMT_TAGS_ADD};
    enum store_status st = STORE_OK;
    for (size_t i = 0; st == STORE_OK && i < sizeof ids / sizeof ids[0]; i++) {
        sqlite3_stmt *q = stmt(s, ids[i]);
        bind_text(q, 1, deviceid);
        bind_text(q, 2, tags);
        st = exec_stmt(s, ids[i]);
    }
    return st;
}

enum store_status sqlite_device_update(struct store *base, const char *deviceid,
                                       const struct device_update *update, int64_t now, store_device_fn fn,
                                       void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    int64_t cfgsn = 0;
    char *old_data = NULL;
    /* New tags are written after the row: the device is handed over once they are. */
    store_device_fn row_fn = update->tags ? NULL : fn;
    st = device_current(s, deviceid, &cfgsn, &old_data);
    if (st == STORE_NOT_FOUND && update->if_match != IF_MATCH_NONE) {
        st = STORE_STALE;
    } else if (st == STORE_NOT_FOUND) {
        sqlite3_stmt *ins = stmt(s, STMT_DEVICE_CREATE);
        bind_update(ins, deviceid, update);
        sqlite3_bind_int64(ins, 7, update->cfgsn > 0 ? update->cfgsn : 0);
        sqlite3_bind_int64(ins, 9, now);
        st = device_rows(s, STMT_DEVICE_CREATE, row_fn, user_data, NULL, NULL);
        if (st == STORE_OK)
            st = set_new_device_seen(s, 0) == STORE_OK ? STORE_CREATED : STORE_ERROR;
    } else if (st == STORE_OK && update->if_match >= 0 && update->if_match != cfgsn) {
        st = STORE_STALE;
    } else if (st == STORE_OK) {
        sqlite3_stmt *up = stmt(s, STMT_DEVICE_UPDATE);
        bind_update(up, deviceid, update);
        sqlite3_bind_int64(up, 7, next_cfgsn(cfgsn, old_data, update));
        st = device_rows(s, STMT_DEVICE_UPDATE, row_fn, user_data, NULL, NULL);
    }
    free(old_data);
    if ((st == STORE_OK || st == STORE_CREATED) && update->tags) {
        enum store_status written = set_tags(s, deviceid, update->tags);
        if (written == STORE_OK)
            written = sqlite_device_get(base, deviceid, fn, user_data);
        if (written != STORE_OK)
            st = written;
    }
    return finish(s, st);
}

enum store_status sqlite_device_delete(struct store *base, const char *deviceid)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_DEVICE_DELETE), 1, deviceid);
    return write_one_row(s, STMT_DEVICE_DELETE);
}

enum store_status sqlite_device_keys_plain(struct store *base, int max, store_key_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_KEYS_PLAIN);
    sqlite3_bind_int(st, 1, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(column_text(st, 0), column_text(st, 1), user_data);
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "read plain keys");
}

enum store_status sqlite_device_key_replace(struct store *base, const char *deviceid, const char *old,
                                            const char *key)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_KEY_REPLACE);
    bind_text(st, 1, deviceid);
    bind_text(st, 2, old);
    bind_text(st, 3, key);
    return write_one_row(s, STMT_DEVICE_KEY_REPLACE);
}

enum store_status sqlite_device_set_key(struct store *base, const char *deviceid, const char *key)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_SET_KEY);
    bind_text(st, 1, deviceid);
    bind_text(st, 2, key);
    return write_one_row(s, STMT_DEVICE_SET_KEY);
}

/* DEVICE_MATCH_SQL's parameters and the limit, ?7. */
static void bind_filter(sqlite3_stmt *st, const struct device_filter *f)
{
    bind_text(st, 2, f->state);
    if (f->online >= 0)
        sqlite3_bind_int(st, 3, f->online);
    sqlite3_bind_int64(st, 4, f->now);
    sqlite3_bind_int64(st, 5, f->default_interval);
    bind_text(st, 6, f->q);
    sqlite3_bind_int(st, 7, f->limit);
    bind_text(st, 8, f->tag);
    bind_text(st, 9, f->ids);
}

enum store_status sqlite_device_count(struct store *base, const struct device_filter *f, int64_t *count)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_filter(stmt(s, STMT_DEVICE_COUNT), f);
    return read_counts(s, STMT_DEVICE_COUNT, count, 1);
}

enum store_status sqlite_device_bulk(struct store *base, const struct device_filter *f,
                                     const struct device_bulk *b, int64_t *affected)
{
    struct sqlite_store *s = sqlite_of(base);
    if ((unsigned)b->action > DEVICE_BULK_SET) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk: no action %d", (int)b->action);
        return STORE_ERROR;
    }
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    enum stmt id = STMT_DEVICE_BULK + b->action;
    sqlite3_stmt *q = stmt(s, id);
    bind_filter(q, f);
    bind_text(q, 1, bulk_text(b));
    bind_text(q, 10, b->value);
    st = exec_stmt(s, id);
    *affected = st == STORE_OK ? sqlite3_changes64(s->db) : 0;
    return finish(s, st);
}

enum store_status sqlite_device_list(struct store *base, const struct device_filter *f, store_device_fn fn,
                                     void *user_data, int *count)
{
    struct sqlite_store *s = sqlite_of(base);
    if ((unsigned)f->sort >= DEVICE_SORT__COUNT) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "list devices: no sort %d", (int)f->sort);
        return STORE_ERROR;
    }
    enum stmt id = STMT_DEVICE_LIST + 2 * f->sort + f->descending;
    sqlite3_stmt *st = stmt(s, id);
    bind_text(st, 1, f->after);
    bind_filter(st, f);
    enum store_status result = device_rows(s, id, fn, user_data, count, NULL);
    if (result != STORE_NOT_FOUND)
        return result;
    /* An empty page: the end, or (sorted by a column) a cursor that names no device. */
    if (f->after && f->sort != DEVICE_SORT_ID)
        return sqlite_device_get(base, f->after, NULL, NULL);
    return STORE_OK;
}

/* A count of devices by liveness at ?1 (default interval ?2) into out[0..n). */
static enum store_status count_devices(struct sqlite_store *s, enum stmt id, int64_t now, int64_t default_interval,
                                       int64_t *out, int n)
{
    sqlite3_stmt *st = stmt(s, id);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, default_interval);
    return read_counts(s, id, out, n);
}

enum store_status sqlite_reading_count(struct store *base, int64_t *count)
{
    return read_counts(sqlite_of(base), STMT_TELEMETRY_COUNT, count, 1);
}

/* The bytes of a file, 0 when it does not exist (a WAL between two connections). */
static int64_t file_bytes(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

enum store_status sqlite_fleet(struct store *base, int64_t now, int64_t default_interval,
                               int64_t counts[FLEET__COUNT])
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_filename db = sqlite3_db_filename(s->db, "main");
    counts[FLEET_BYTES] = file_bytes(db) + file_bytes(db ? sqlite3_filename_wal(db) : NULL);
    return count_devices(s, STMT_DEVICE_FLEET, now, default_interval, counts, FLEET_BYTES);
}

enum store_status sqlite_device_trust(struct store *base, const char *deviceid, struct device_trust *out,
                                      char *stored, size_t stored_len)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_TRUST);
    bind_text(st, 1, deviceid);
    return read_trust(s, st, out, stored, stored_len);
}

enum store_status sqlite_device_signed(struct store *base, const char *deviceid, int64_t t,
                                       bool state_changing)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_SIGNED);
    bind_text(st, 1, deviceid);
    sqlite3_bind_int64(st, 2, t);
    sqlite3_bind_int(st, 3, state_changing);
    enum store_status result = write_one_row(s, STMT_DEVICE_SIGNED);
    return result == STORE_NOT_FOUND ? STORE_STALE : result;
}

/* Records a device's last accepted SEQN, and that it was seen then (through the seen sink: a
 * reading writes no heartbeat-time page of its own). */
static enum store_status mark_last_seqn(struct sqlite_store *s, int64_t device, int64_t seqn, int64_t at)
{
    sqlite3_stmt *mark = stmt(s, STMT_READING_MARK);
    sqlite3_bind_int64(mark, 1, device);
    sqlite3_bind_int64(mark, 2, seqn);
    int rc = sqlite3_step(mark);
    stmt_done(mark);
    return rc == SQLITE_DONE ? device_seen(s, device, at) : fail(s, "record SEQN");
}

/* One reading in a transaction of its own (a savepoint inside a batch). */
static enum store_status add_reading(struct sqlite_store *s, const struct reading_new *r)
{
    enum store_status result = begin(s);
    if (result != STORE_OK)
        return result;
    sqlite3_stmt *claim = stmt(s, STMT_READING_CLAIM);
    bind_text(claim, 1, r->deviceid);
    sqlite3_bind_int64(claim, 2, r->seqn);
    sqlite3_bind_int64(claim, 3, r->epoch);
    sqlite3_bind_int64(claim, 4, r->envelope);
    int rc = sqlite3_step(claim);
    int64_t device = rc == SQLITE_ROW ? sqlite3_column_int64(claim, 0) : 0;
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(claim); /* RETURNING's statement is done only once stepped to the end */
    stmt_done(claim);
    if (rc != SQLITE_DONE)
        return finish(s, fail(s, "claim SEQN"));
    if (device == 0) { /* nothing claimed: no such device, one not accepted, or an old SEQN */
        sqlite3_stmt *trust = stmt(s, STMT_DEVICE_TRUST);
        bind_text(trust, 1, r->deviceid);
        rc = sqlite3_step(trust);
        bool accepted = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(trust, 0), "accepted") == 0;
        stmt_done(trust);
        if (rc == SQLITE_ROW)
            return finish(s, accepted ? STORE_STALE : STORE_REFUSED);
        return finish(s, rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device"));
    }

    sqlite3_stmt *ins = stmt(s, STMT_READING_INSERT);
    sqlite3_bind_int64(ins, 1, device);
    sqlite3_bind_int64(ins, 2, r->seqn);
    sqlite3_bind_int64(ins, 3, r->received_at);
    if (r->ts != TS_NONE)
        sqlite3_bind_int64(ins, 4, r->ts);
    sqlite3_bind_text(ins, 5, r->text, (int)r->len, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 6, r->epoch);
    rc = sqlite3_step(ins);
    stmt_done(ins);
    if (rc != SQLITE_DONE)
        return finish(s, fail(s, "store reading"));
    return finish(s, device_seen(s, device, r->received_at));
}

/* In process: one add_reading() after the other. */
void sqlite_readings_add(struct store *base, const struct reading_new *r, size_t n, enum store_status *status)
{
    struct sqlite_store *s = sqlite_of(base);
    for (size_t i = 0; i < n; i++)
        status[i] = add_reading(s, &r[i]);
}

enum store_status sqlite_reading_list(struct store *base, const char *deviceid,
                                      const struct reading_filter *f, store_reading_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum stmt id = f->ascending ? STMT_READING_LIST_ASC : STMT_READING_LIST_DESC;
    sqlite3_stmt *st = stmt(s, id);
    bind_text(st, 1, deviceid);
    sqlite3_bind_int64(st, 2, f->since);
    sqlite3_bind_int64(st, 3, f->until);
    if (f->after >= 0)
        sqlite3_bind_int64(st, 4, f->after);
    sqlite3_bind_int64(st, 5, f->limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct reading r = {
            .id = sqlite3_column_int64(st, 0),
            .seqn = sqlite3_column_int64(st, 1),
            .received_at = sqlite3_column_int64(st, 2),
            .ts = column_int_or(st, 3, TS_NONE),
            .reading = column_text(st, 4),
        };
        if (!fn(&r, user_data)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "list readings");
}

enum store_status sqlite_reading_buckets(struct store *base, const char *deviceid, int64_t since,
                                         int64_t until, int64_t bucket_seconds, store_bucket_fn fn,
                                         void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_READING_BUCKETS);
    bind_text(st, 1, deviceid);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int64(st, 3, until);
    sqlite3_bind_int64(st, 4, bucket_seconds);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct bucket_stat b = {
            .start = sqlite3_column_int64(st, 0),
            .field = column_text(st, 1),
            .min = sqlite3_column_double(st, 2),
            .avg = sqlite3_column_double(st, 3),
            .max = sqlite3_column_double(st, 4),
            .count = sqlite3_column_int64(st, 5),
        };
        fn(&b, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "bucket readings");
}

enum store_status sqlite_device_expire_pending(struct store *base, int64_t before, int max, int *deleted)
{
    return delete_batch(sqlite_of(base), STMT_DEVICE_EXPIRE_PENDING, before, max, deleted,
                        "expire pending devices");
}

enum store_status sqlite_reading_prune(struct store *base, int64_t before, int max, int *deleted)
{
    struct sqlite_store *s = sqlite_of(base);
    *deleted = 0;
    int64_t any_old; /* first alone: the delete reads max readings even when none is old */
    sqlite3_bind_int64(stmt(s, STMT_READING_OLDEST), 1, before);
    enum store_status result = read_counts(s, STMT_READING_OLDEST, &any_old, 1);
    if (result != STORE_OK || !any_old)
        return result;
    return delete_batch(s, STMT_READING_PRUNE, before, max, deleted, "prune readings");
}

enum store_status sqlite_device_lock(struct store *base, const char *deviceid, store_device_fn fn,
                                     void *user_data)
{
    return sqlite_device_get(base, deviceid, fn, user_data); /* the write transaction holds the database */
}

/* ---- bulk loading ---- */

/* One transaction without syncing: nothing else is acknowledged meanwhile, so only the load
 * itself is at risk. A large cache writes each page to the WAL once, at commit. */
#define BULK_CACHE_KIB "1048576"

static enum store_status bulk_begin(struct sqlite_store *s)
{
    if (sqlite3_exec(s->db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -" BULK_CACHE_KIB, NULL, NULL,
                     NULL) != SQLITE_OK)
        return fail(s, "bulk load");
    return begin(s);
}

/* Commits or rolls back, puts syncing back and moves the WAL into the database file. */
static enum store_status bulk_end(struct sqlite_store *s, enum store_status st)
{
    st = finish(s, st);
    char pragmas[128]; /* from this file's constants only */
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA synchronous = %s; PRAGMA cache_size = -" CACHE_KIB "; PRAGMA wal_checkpoint(TRUNCATE);",
             s->synchronous);
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK && st == STORE_OK)
        st = fail(s, "end bulk load");
    return st;
}

static enum store_status bulk_bad_id(struct sqlite_store *s, const char *prefix)
{
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk load: prefix \"%.64s\" makes ids longer than 64",
             prefix);
    return STORE_ERROR;
}

/* Prepared here, not in stmt_sql[]: a load is rare, and one statement per row (not register
 * plus set-key) keeps a million rows within seconds. */
#define BULK_DEVICE_SQL                                                                                      \
    "INSERT INTO devices (deviceid, state, ipaddr, ssid, datec, key) "                                       \
    "VALUES (?1, 'accepted', '10.0.0.1', 'bulk', ?2, ?3)"

enum store_status sqlite_device_bulk_add(struct store *base, const char *prefix, int64_t first, int64_t count,
                                         const char *key, int64_t now)
{
    struct sqlite_store *s = sqlite_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(s->db, BULK_DEVICE_SQL, -1, &ins, NULL) != SQLITE_OK)
        return fail(s, "bulk devices");
    enum store_status st = bulk_begin(s);
    sqlite3_bind_int64(ins, 2, now);
    bind_text(ins, 3, key);
    for (int64_t n = first; st == STORE_OK && n < first + count; n++) {
        store_bulk_id(prefix, n, id, sizeof id);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            st = fail(s, "bulk devices: insert");
        sqlite3_reset(ins);
        if (st == STORE_OK)
            st = set_new_device_seen(s, now);
    }
    sqlite3_finalize(ins);
    return bulk_end(s, st);
}

/* Adds one device's readings 1..per_device inside the bulk transaction. */
static enum store_status bulk_readings(struct sqlite_store *s, const char *deviceid, int64_t per_device,
                                       int64_t now, int64_t step, store_reading_text_fn fn, void *user_data)
{
    sqlite3_stmt *check = stmt(s, STMT_READING_SEQN_CHECK);
    bind_text(check, 1, deviceid);
    int rc = sqlite3_step(check);
    int64_t device = rc == SQLITE_ROW ? sqlite3_column_int64(check, 0) : 0;
    int64_t epoch = rc == SQLITE_ROW ? sqlite3_column_int64(check, 2) : 0;
    stmt_done(check);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "bulk readings: find device");
    char text[512];
    for (int64_t seqn = 1; seqn <= per_device; seqn++) {
        size_t len = fn(seqn, text, sizeof text, user_data);
        if (len == 0 || len >= sizeof text) {
            snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk readings: reading %lld has no text",
                     (long long)seqn);
            return STORE_ERROR;
        }
        sqlite3_stmt *ins = stmt(s, STMT_READING_INSERT);
        sqlite3_bind_int64(ins, 1, device);
        sqlite3_bind_int64(ins, 2, seqn);
        sqlite3_bind_int64(ins, 3, now - (per_device - seqn) * step);
        sqlite3_bind_text(ins, 5, text, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 6, epoch);
        rc = sqlite3_step(ins);
        stmt_done(ins);
        if (rc != SQLITE_DONE)
            return fail(s, "bulk readings: insert");
    }
    return mark_last_seqn(s, device, per_device, now);
}

enum store_status sqlite_reading_bulk_add(struct store *base, const char *prefix, int64_t first,
                                          int64_t count, int64_t per_device, int64_t now, int64_t step,
                                          store_reading_text_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    enum store_status st = bulk_begin(s);
    for (int64_t n = first; st == STORE_OK && n < first + count; n++) {
        store_bulk_id(prefix, n, id, sizeof id);
        st = bulk_readings(s, id, per_device, now, step, fn, user_data);
    }
    return bulk_end(s, st);
}
