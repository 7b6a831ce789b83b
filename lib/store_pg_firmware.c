/* The PostgreSQL backend's firmware: images and their metadata, what each device reports of its
 * updates, and staged rollouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"

/* ---- firmware ---- */

/* Runs a statement returning firmware rows, handing each to fn: STORE_NOT_FOUND for none (but
 * the list). */
static enum store_status firmware_rows(struct pg_store *s, enum pg_stmt id, const struct params *p,
                                       store_firmware_fn fn, void *user_data)
{
    enum store_status st;
    PGresult *res = run(s, id, p, "read firmware", &st);
    if (!res)
        return st;
    int n = PQntuples(res);
    for (int i = 0; fn && i < n; i++) {
        struct firmware fw = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                              col_int(res, i, 3, 0), col_int(res, i, 4, 0)};
        fn(&fw, user_data);
    }
    PQclear(res);
    return n > 0 || id == PG_FIRMWARE_LIST ? STORE_OK : STORE_NOT_FOUND;
}

enum store_status pg_firmware_running(struct store *base, int max, store_version_count_fn fn,
                                      void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, max);
    PGresult *res = run(s, PG_FIRMWARE_RUNNING, &p, "count running firmware", &st);
    if (!res)
        return st;
    for (int i = 0; i < PQntuples(res); i++)
        fn(PQgetvalue(res, i, 0), col_int(res, i, 1, 0), user_data);
    PQclear(res);
    return STORE_OK;
}

enum store_status pg_firmware_get(struct store *base, const char *version, store_firmware_fn fn,
                                  void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, version);
    return firmware_rows(s, PG_FIRMWARE_GET, &p, fn, user_data);
}

enum store_status pg_firmware_list(struct store *base, store_firmware_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    return firmware_rows(s, PG_FIRMWARE_LIST, NULL, fn, user_data);
}

enum store_status pg_firmware_add(struct store *base, const struct firmware *fw, const void *image,
                                  store_firmware_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, fw->version);
    param_text(&p, fw->sha256);
    param_int(&p, fw->size);
    param_text(&p, fw->md5);
    param_int(&p, fw->created);
    param_bytes(&p, image, (size_t)fw->size);
    int64_t rows = 0;
    enum store_status st = join_or_begin(s, "add firmware: begin");
    if (st == STORE_OK)
        st = exec_stmt(s, PG_FIRMWARE_ADD, &p, "add firmware", &rows);
    /* Committed when made; else (the version exists) rolled back, with bytes it may have stored
     * for nothing -- inside an admin's change, by its end, which rolls a refused upload back. */
    bool created = st == STORE_OK && rows == 1;
    enum store_status ended = end_transaction(s, created ? STORE_OK : STORE_EXISTS, "add firmware: end");
    if (created)
        return ended == STORE_OK ? STORE_CREATED : ended;
    if (st != STORE_OK)
        return st;
    struct firmware_same c = {fw->sha256, false, fn, user_data};
    p = (struct params){0};
    param_text(&p, fw->version);
    st = firmware_rows(s, PG_FIRMWARE_GET, &p, firmware_compare, &c);
    return st == STORE_OK ? (c.same ? STORE_OK : STORE_EXISTS) : st;
}

enum store_status pg_firmware_delete(struct store *base, const char *version)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, version);
    int64_t deleted = 0;
    enum store_status st = read_ints(s, PG_FIRMWARE_DELETE, &p, "delete firmware", &deleted, 1);
    if (st != STORE_OK || deleted == 1)
        return st;
    st = firmware_rows(s, PG_FIRMWARE_GET, &p, NULL, NULL);
    return st == STORE_OK ? STORE_STALE : st;
}

enum store_status pg_firmware_image(struct store *base, const char *sha256, void **image, size_t *size)
{
    struct pg_store *s = pg_of(base);
    *image = NULL;
    enum store_status st = prepare(s, PG_FIRMWARE_IMAGE);
    if (st != STORE_OK)
        return st;
    char name[32];
    const char *values[1] = {sha256};
    /* The bytes in binary: text would be twice their size in hex. */
    PGresult *res = PQexecPrepared(s->conn, stmt_name(PG_FIRMWARE_IMAGE, name, sizeof name), 1, values, NULL,
                                   NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        st = fail(s, "read firmware image", res);
    } else if (PQntuples(res) == 0) {
        st = STORE_NOT_FOUND;
    } else {
        *size = (size_t)PQgetlength(res, 0, 0);
        *image = malloc(*size ? *size : 1);
        if (*image)
            memcpy(*image, PQgetvalue(res, 0, 0), *size);
        else
            st = STORE_ERROR;
    }
    PQclear(res);
    return st;
}

enum store_status pg_device_firmware(struct store *base, const char *deviceid, enum firmware_event event,
                                     const char *version, char status[FIRMWARE_STATUS_LEN])
{
    char after[FIRMWARE_STATUS_LEN];
    struct params p = {0};
    param_text(&p, deviceid);
    param_int(&p, (int64_t)event);
    param_text(&p, version);
    return read_text(pg_of(base), PG_DEVICE_FIRMWARE, &p, "device firmware", status ? status : after,
                     FIRMWARE_STATUS_LEN);
}

/* ASSIGNED_IMAGE_COLUMNS from column col of res's first row. */
static void read_image(const PGresult *res, int col, struct assigned_image *out)
{
    snprintf(out->version, sizeof out->version, "%s", PQgetvalue(res, 0, col));
    out->size = col_int(res, 0, col + 1, 0);
    snprintf(out->sha256, sizeof out->sha256, "%s", PQgetvalue(res, 0, col + 2));
    snprintf(out->md5, sizeof out->md5, "%s", PQgetvalue(res, 0, col + 3));
}

enum store_status pg_device_by_mac(struct store *base, const char *mac12, struct ota_facts *facts, char *stored,
                                   size_t stored_len)
{
    enum store_status st;
    struct params p = {0};
    param_text(&p, mac12);
    PGresult *res = run(pg_of(base), PG_DEVICE_BY_MAC, &p, "find device by MAC", &st);
    if (!res)
        return st;
    st = PQntuples(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK) {
        snprintf(facts->deviceid, sizeof facts->deviceid, "%s", PQgetvalue(res, 0, 0));
        read_trust(res, 0, 1, &facts->trust, stored, stored_len);
        read_image(res, OTA_ASSIGNED, &facts->assigned);
        snprintf(facts->running, sizeof facts->running, "%s", PQgetvalue(res, 0, OTA_RUNNING));
        snprintf(facts->status, sizeof facts->status, "%s", PQgetvalue(res, 0, OTA_STATUS));
    }
    PQclear(res);
    return st;
}

enum store_status pg_device_image(struct store *base, const char *deviceid, const char *version, int64_t last,
                                  struct image_facts *facts, char *stored, size_t stored_len)
{
    enum store_status st;
    struct params p = {0};
    param_text(&p, deviceid);
    param_text(&p, version);
    param_int(&p, last);
    PGresult *res = run(pg_of(base), PG_DEVICE_IMAGE, &p, "read device image", &st);
    if (!res)
        return st;
    st = PQntuples(res) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (st == STORE_OK) {
        read_trust(res, 0, 0, &facts->trust, stored, stored_len);
        read_image(res, IMAGE_ASSIGNED, &facts->assigned);
        facts->event = (enum firmware_event)col_int(res, 0, IMAGE_EVENT, FIRMWARE_FETCHED);
        facts->changes = PQgetvalue(res, 0, IMAGE_CHANGES)[0] == 't';
    }
    PQclear(res);
    return st;
}

/* ---- staged rollouts ---- */

enum store_status pg_rollout_add(struct store *base, const struct rollout *r, int64_t *id)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_text(&p, r->firmware);
    param_text(&p, r->tag);
    param_text(&p, r->stages);
    param_int(&p, r->success_threshold);
    param_int(&p, r->failure_threshold);
    param_int(&p, r->timeout);
    param_int(&p, r->created);
    enum store_status st = read_ints(s, PG_ROLLOUT_ADD, &p, "add rollout", id, 1);
    return st == STORE_OK ? STORE_CREATED : st == STORE_NOT_FOUND ? STORE_EXISTS : st;
}

enum store_status pg_rollout_list(struct store *base, int64_t id, const char *state, store_rollout_fn fn,
                                  void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, id);
    param_text(&p, state);
    PGresult *res = run(s, PG_ROLLOUT_LIST, &p, "list rollouts", &st);
    if (!res)
        return st;
    int n = PQntuples(res);
    for (int i = 0; fn && i < n; i++) {
        struct rollout r = {
            .id = col_int(res, i, 0, 0),
            .firmware = PQgetvalue(res, i, 1),
            .tag = PQgetvalue(res, i, 2),
            .stages = PQgetvalue(res, i, 3),
            .success_threshold = (int)col_int(res, i, 4, 0),
            .failure_threshold = (int)col_int(res, i, 5, 0),
            .timeout = col_int(res, i, 6, 0),
            .state = PQgetvalue(res, i, 7),
            .stage = (int)col_int(res, i, 8, 0),
            .reason = PQgetvalue(res, i, 9),
            .created = col_int(res, i, 10, 0),
            .updated = col_int(res, i, 11, 0),
        };
        fn(&r, user_data);
    }
    PQclear(res);
    return n > 0 || id == 0 ? STORE_OK : STORE_NOT_FOUND;
}

enum store_status pg_rollout_stages(struct store *base, int64_t id, store_rollout_stage_fn fn,
                                    void *user_data)
{
    struct pg_store *s = pg_of(base);
    enum store_status st;
    struct params p = {0};
    param_int(&p, id);
    PGresult *res = run(s, PG_ROLLOUT_STAGES, &p, "rollout stages", &st);
    if (!res)
        return st;
    for (int i = 0; i < PQntuples(res); i++) {
        struct rollout_stage_count c = {
            .stage = (int)col_int(res, i, 0, 0),
            .devices = col_int(res, i, 1, 0),
            .pending = col_int(res, i, 2, 0),
            .in_progress = col_int(res, i, 3, 0),
            .installed = col_int(res, i, 4, 0),
            .failed = col_int(res, i, 5, 0),
        };
        fn(&c, user_data);
    }
    PQclear(res);
    return STORE_OK;
}

enum store_status pg_rollout_state(struct store *base, int64_t id, const char *from, int stage,
                                   const char *to, const char *reason, int64_t now)
{
    struct pg_store *s = pg_of(base);
    struct params p = {0};
    param_int(&p, id);
    param_text(&p, from);
    param_int(&p, stage);
    param_text(&p, to);
    param_text(&p, reason);
    param_int(&p, now);
    int64_t out[2] = {0, 0}; /* moved, exists */
    enum store_status st = read_ints(s, PG_ROLLOUT_STATE, &p, "rollout state", out, 2);
    if (st != STORE_OK)
        return st;
    return out[0] ? STORE_OK : out[1] ? STORE_STALE : STORE_NOT_FOUND;
}

enum store_status pg_rollout_start(struct store *base, int64_t id, int stage, int64_t devices, int64_t now,
                                   int64_t *assigned)
{
    struct pg_store *s = pg_of(base);
    *assigned = 0;
    struct params p = {0};
    param_int(&p, id);
    param_int(&p, stage);
    param_int(&p, now);
    param_int(&p, devices);
    int64_t out[2] = {0, 0}; /* claimed, assigned */
    enum store_status st = read_ints(s, PG_ROLLOUT_START, &p, "start rollout stage", out, 2);
    *assigned = out[1];
    return st != STORE_OK ? st : out[0] ? STORE_OK : STORE_STALE;
}

enum store_status pg_rollout_timeouts(struct store *base, int64_t id, int64_t now, int64_t *failed)
{
    struct pg_store *s = pg_of(base);
    *failed = 0;
    struct params p = {0};
    param_int(&p, id);
    param_int(&p, now);
    enum store_status st = exec_stmt(s, PG_ROLLOUT_DOWNLOADED, &p, "rollout downloads", NULL);
    return st == STORE_OK ? exec_stmt(s, PG_ROLLOUT_TIMEOUT, &p, "rollout timeouts", failed) : st;
}
