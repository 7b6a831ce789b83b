/* The SQLite backend's firmware updates: the firmware catalogue and its images, the devices'
 * update events, and staged rollouts. */
#include "store_sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* ---- firmware ---- */

static void read_firmware(sqlite3_stmt *st, struct firmware *fw)
{
    fw->version = column_text(st, 0);
    fw->sha256 = column_text(st, 1);
    fw->md5 = column_text(st, 2);
    fw->size = sqlite3_column_int64(st, 3);
    fw->created = sqlite3_column_int64(st, 4);
}

/* Steps a statement returning firmware rows, handing each to fn; STORE_NOT_FOUND for none. */
static enum store_status firmware_rows(struct sqlite_store *s, enum stmt id, store_firmware_fn fn, void *user_data)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct firmware fw;
        read_firmware(st, &fw);
        if (fn)
            fn(&fw, user_data);
        n++;
    }
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return fail(s, stmt_sql[id]);
    return n > 0 || id == STMT_FIRMWARE_LIST ? STORE_OK : STORE_NOT_FOUND;
}

enum store_status sqlite_firmware_get(struct store *base, const char *version, store_firmware_fn fn,
                                      void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    bind_text(stmt(s, STMT_FIRMWARE_GET), 1, version);
    return firmware_rows(s, STMT_FIRMWARE_GET, fn, user_data);
}

enum store_status sqlite_firmware_running(struct store *base, int max, store_version_count_fn fn,
                                          void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_FIRMWARE_RUNNING);
    sqlite3_bind_int(st, 1, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), user_data);
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, stmt_sql[STMT_FIRMWARE_RUNNING]);
}

enum store_status sqlite_firmware_list(struct store *base, store_firmware_fn fn, void *user_data)
{
    return firmware_rows(sqlite_of(base), STMT_FIRMWARE_LIST, fn, user_data);
}

enum store_status sqlite_firmware_add(struct store *base, const struct firmware *fw, const void *image,
                                      store_firmware_fn fn, void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    struct firmware_same c = {fw->sha256, false, fn, user_data};
    bind_text(stmt(s, STMT_FIRMWARE_GET), 1, fw->version);
    st = firmware_rows(s, STMT_FIRMWARE_GET, firmware_compare, &c);
    if (st == STORE_OK) {
        st = c.same ? STORE_OK : STORE_EXISTS;
    } else if (st == STORE_NOT_FOUND) {
        sqlite3_stmt *img = stmt(s, STMT_FIRMWARE_IMAGE_ADD);
        bind_text(img, 1, fw->sha256);
        sqlite3_bind_blob64(img, 2, image, (sqlite3_uint64)fw->size, SQLITE_STATIC);
        st = exec_stmt(s, STMT_FIRMWARE_IMAGE_ADD);
        sqlite3_stmt *add = stmt(s, STMT_FIRMWARE_ADD);
        bind_text(add, 1, fw->version);
        bind_text(add, 2, fw->sha256);
        sqlite3_bind_int64(add, 3, fw->size);
        bind_text(add, 4, fw->md5);
        sqlite3_bind_int64(add, 5, fw->created);
        if (st == STORE_OK && (st = exec_stmt(s, STMT_FIRMWARE_ADD)) == STORE_OK)
            st = STORE_CREATED;
    }
    if (st == STORE_CREATED)
        return finish(s, st);
    roll_back(s); /* the same bytes, other bytes or a failure: nothing to keep */
    return st;
}

enum store_status sqlite_firmware_delete(struct store *base, const char *version)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *del = stmt(s, STMT_FIRMWARE_DELETE);
    bind_text(del, 1, version);
    char sha256[65] = "";
    int rc = sqlite3_step(del);
    if (rc == SQLITE_ROW)
        snprintf(sha256, sizeof sha256, "%s", column_text(del, 0));
    stmt_done(del);
    if (rc == SQLITE_ROW) {
        bind_text(stmt(s, STMT_FIRMWARE_IMAGE_DROP), 1, sha256);
        st = exec_stmt(s, STMT_FIRMWARE_IMAGE_DROP);
    } else if (rc == SQLITE_DONE) {
        bind_text(stmt(s, STMT_FIRMWARE_GET), 1, version);
        st = firmware_rows(s, STMT_FIRMWARE_GET, NULL, NULL);
        st = st == STORE_OK ? STORE_STALE : st;
    } else {
        st = fail(s, "delete firmware");
    }
    return finish(s, st);
}

enum store_status sqlite_firmware_image(struct store *base, const char *sha256, void **image, size_t *size)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_FIRMWARE_IMAGE);
    bind_text(st, 1, sha256);
    int rc = sqlite3_step(st);
    enum store_status result = STORE_OK;
    *image = NULL;
    if (rc == SQLITE_ROW) {
        *size = (size_t)sqlite3_column_bytes(st, 0);
        *image = malloc(*size ? *size : 1);
        if (*image)
            memcpy(*image, sqlite3_column_blob(st, 0), *size);
        else
            result = STORE_ERROR;
    } else {
        result = rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read firmware image");
    }
    stmt_done(st);
    return result;
}

/* Steps a statement (bound) and copies the first column of its row into out (out_len bytes):
 * STORE_NOT_FOUND when there is none. */
static enum store_status read_text(struct sqlite_store *s, enum stmt id, char *out, size_t out_len)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(out, out_len, "%s", column_text(st, 0));
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, stmt_sql[id]);
}

enum store_status sqlite_device_firmware(struct store *base, const char *deviceid, enum firmware_event event,
                                         const char *version, char status[FIRMWARE_STATUS_LEN])
{
    struct sqlite_store *s = sqlite_of(base);
    char after[FIRMWARE_STATUS_LEN];
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *up = stmt(s, STMT_DEVICE_FIRMWARE);
    bind_text(up, 1, deviceid);
    sqlite3_bind_int(up, 2, (int)event);
    bind_text(up, 3, version);
    return finish(s, read_text(s, STMT_DEVICE_FIRMWARE, status ? status : after, FIRMWARE_STATUS_LEN));
}

/* ASSIGNED_IMAGE_COLUMNS from column col. */
static void column_image(sqlite3_stmt *st, int col, struct assigned_image *out)
{
    snprintf(out->version, sizeof out->version, "%s", column_text(st, col));
    out->size = sqlite3_column_int64(st, col + 1);
    snprintf(out->sha256, sizeof out->sha256, "%s", column_text(st, col + 2));
    snprintf(out->md5, sizeof out->md5, "%s", column_text(st, col + 3));
}

enum store_status sqlite_device_by_mac(struct store *base, const char *mac12, struct ota_facts *facts, char *stored,
                                       size_t stored_len)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_BY_MAC);
    bind_text(st, 1, mac12);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(facts->deviceid, sizeof facts->deviceid, "%s", column_text(st, 0));
        column_trust(st, 1, &facts->trust, stored, stored_len);
        column_image(st, OTA_ASSIGNED, &facts->assigned);
        snprintf(facts->running, sizeof facts->running, "%s", column_text(st, OTA_RUNNING));
        snprintf(facts->status, sizeof facts->status, "%s", column_text(st, OTA_STATUS));
    }
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "find device by MAC");
}

enum store_status sqlite_device_image(struct store *base, const char *deviceid, const char *version, int64_t last,
                                      struct image_facts *facts, char *stored, size_t stored_len)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_DEVICE_IMAGE);
    bind_text(st, 1, deviceid);
    bind_text(st, 2, version);
    sqlite3_bind_int64(st, 3, last);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        column_trust(st, 0, &facts->trust, stored, stored_len);
        column_image(st, IMAGE_ASSIGNED, &facts->assigned);
        facts->event = (enum firmware_event)column_int_or(st, IMAGE_EVENT, FIRMWARE_FETCHED);
        facts->changes = sqlite3_column_int(st, IMAGE_CHANGES) != 0;
    }
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(s, "read device image");
}

/* ---- staged rollouts ---- */

enum store_status sqlite_rollout_add(struct store *base, const struct rollout *r, int64_t *id)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ROLLOUT_ADD);
    bind_text(st, 1, r->firmware);
    bind_text(st, 2, r->tag);
    bind_text(st, 3, r->stages);
    sqlite3_bind_int(st, 4, r->success_threshold);
    sqlite3_bind_int(st, 5, r->failure_threshold);
    sqlite3_bind_int64(st, 6, r->timeout);
    sqlite3_bind_int64(st, 7, r->created);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    stmt_done(st);
    return rc == SQLITE_ROW ? STORE_CREATED : rc == SQLITE_DONE ? STORE_EXISTS : fail(s, "add rollout");
}

enum store_status sqlite_rollout_list(struct store *base, int64_t id, const char *state, store_rollout_fn fn,
                                      void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ROLLOUT_LIST);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, state);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rollout r = {
            .id = sqlite3_column_int64(st, 0),
            .firmware = column_text(st, 1),
            .tag = column_text(st, 2),
            .stages = column_text(st, 3),
            .success_threshold = sqlite3_column_int(st, 4),
            .failure_threshold = sqlite3_column_int(st, 5),
            .timeout = sqlite3_column_int64(st, 6),
            .state = column_text(st, 7),
            .stage = sqlite3_column_int(st, 8),
            .reason = column_text(st, 9),
            .created = sqlite3_column_int64(st, 10),
            .updated = sqlite3_column_int64(st, 11),
        };
        n++;
        if (fn)
            fn(&r, user_data);
    }
    stmt_done(st);
    if (rc != SQLITE_DONE)
        return fail(s, "list rollouts");
    return n > 0 || id == 0 ? STORE_OK : STORE_NOT_FOUND;
}

enum store_status sqlite_rollout_stages(struct store *base, int64_t id, store_rollout_stage_fn fn,
                                        void *user_data)
{
    struct sqlite_store *s = sqlite_of(base);
    sqlite3_stmt *st = stmt(s, STMT_ROLLOUT_STAGES);
    sqlite3_bind_int64(st, 1, id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rollout_stage_count c = {
            .stage = sqlite3_column_int(st, 0),
            .devices = sqlite3_column_int64(st, 1),
            .pending = sqlite3_column_int64(st, 2),
            .in_progress = sqlite3_column_int64(st, 3),
            .installed = sqlite3_column_int64(st, 4),
            .failed = sqlite3_column_int64(st, 5),
        };
        fn(&c, user_data);
    }
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, "rollout stages");
}

/* Runs a bound statement to its end (RETURNING rows are done only once stepped through): how many
 * rows it returned into *rows. */
static enum store_status step_all(struct sqlite_store *s, enum stmt id, int64_t *rows)
{
    sqlite3_stmt *st = stmt(s, id);
    int rc;
    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ++*rows;
    stmt_done(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(s, stmt_sql[id]);
}

enum store_status sqlite_rollout_state(struct store *base, int64_t id, const char *from, int stage,
                                       const char *to, const char *reason, int64_t now)
{
    struct sqlite_store *s = sqlite_of(base);
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *up = stmt(s, STMT_ROLLOUT_STATE);
    sqlite3_bind_int64(up, 1, id);
    bind_text(up, 2, from);
    sqlite3_bind_int(up, 3, stage);
    bind_text(up, 4, to);
    bind_text(up, 5, reason);
    sqlite3_bind_int64(up, 6, now);
    int64_t moved = 0;
    st = step_all(s, STMT_ROLLOUT_STATE, &moved);
    if (st == STORE_OK && moved && strcmp(to, "cancelled") == 0) {
        sqlite3_bind_int64(stmt(s, STMT_ROLLOUT_UNASSIGN), 1, id);
        st = exec_stmt(s, STMT_ROLLOUT_UNASSIGN);
    } else if (st == STORE_OK && !moved) {
        char state[16];
        sqlite3_bind_int64(stmt(s, STMT_ROLLOUT_EXISTS), 1, id);
        st = read_text(s, STMT_ROLLOUT_EXISTS, state, sizeof state);
        st = st == STORE_OK ? STORE_STALE : st;
    }
    return finish(s, st);
}

enum store_status sqlite_rollout_start(struct store *base, int64_t id, int stage, int64_t devices,
                                       int64_t now, int64_t *assigned)
{
    struct sqlite_store *s = sqlite_of(base);
    *assigned = 0;
    enum store_status st = begin(s);
    if (st != STORE_OK)
        return st;
    sqlite3_stmt *claim = stmt(s, STMT_ROLLOUT_CLAIM);
    sqlite3_bind_int64(claim, 1, id);
    sqlite3_bind_int(claim, 2, stage);
    sqlite3_bind_int64(claim, 3, now);
    int64_t claimed = 0;
    st = step_all(s, STMT_ROLLOUT_CLAIM, &claimed);
    if (st == STORE_OK && !claimed)
        st = STORE_STALE;
    if (st == STORE_OK) {
        sqlite3_stmt *members = stmt(s, STMT_ROLLOUT_MEMBERS);
        sqlite3_bind_int64(members, 1, id);
        sqlite3_bind_int(members, 2, stage + 1);
        sqlite3_bind_int64(members, 3, devices);
        st = exec_stmt(s, STMT_ROLLOUT_MEMBERS);
    }
    if (st == STORE_OK) {
        sqlite3_stmt *assign = stmt(s, STMT_ROLLOUT_ASSIGN);
        sqlite3_bind_int64(assign, 1, id);
        sqlite3_bind_int(assign, 2, stage + 1);
        st = exec_stmt(s, STMT_ROLLOUT_ASSIGN);
        *assigned = sqlite3_changes64(s->db);
    }
    return finish(s, st);
}

enum store_status sqlite_rollout_timeouts(struct store *base, int64_t id, int64_t now, int64_t *failed)
{
    struct sqlite_store *s = sqlite_of(base);
    *failed = 0;
    enum store_status st = STORE_OK;
    for (enum stmt i = STMT_ROLLOUT_DOWNLOADED; st == STORE_OK && i <= STMT_ROLLOUT_TIMEOUT; i++) {
        sqlite3_bind_int64(stmt(s, i), 1, id);
        sqlite3_bind_int64(stmt(s, i), 2, now);
        st = exec_stmt(s, i);
    }
    if (st == STORE_OK)
        *failed = sqlite3_changes64(s->db);
    return st;
}
