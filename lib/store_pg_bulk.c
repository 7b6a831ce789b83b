/* The PostgreSQL backend's bulk loading (store_device_bulk_add(), store_reading_bulk_add()):
 * devices by the thousand in one statement, and their readings by COPY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg_internal.h"
#include "validate.h"

#define BULK_CHUNK      10000     /* devices per claim and COPY of store_reading_bulk_add() */
#define COPY_BUFFER     (1 << 18) /* bytes of COPY text sent at once */

static enum store_status bulk_bad_id(struct pg_store *s, const char *prefix)
{
    snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk load: prefix \"%.64s\" makes ids longer than 64",
             prefix);
    return STORE_ERROR;
}

/* One statement, so one transaction: a clash with an existing id leaves none of the batch. */
enum store_status pg_device_bulk_add(struct store *base, const char *prefix, int64_t first,
                                     int64_t count, const char *key, int64_t now)
{
    struct pg_store *s = pg_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    struct params p = {0};
    param_text(&p, prefix);
    param_int(&p, first);
    param_int(&p, first + count - 1);
    param_int(&p, now);
    param_text(&p, key);
    return exec_stmt(s, PG_BULK_DEVICES, &p, "bulk devices", NULL);
}

/* COPY text: what the reading text needs escaped. */
struct copy_buffer {
    char *data;
    size_t len;
};

static void copy_escaped(struct copy_buffer *b, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        const char *esc = c == '\\'   ? "\\\\"
                          : c == '\t' ? "\\t"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                                      : NULL;
        if (esc) {
            memcpy(b->data + b->len, esc, 2);
            b->len += 2;
        } else {
            b->data[b->len++] = c;
        }
    }
}

static enum store_status copy_flush(struct pg_store *s, struct copy_buffer *b)
{
    if (b->len > 0 && PQputCopyData(s->conn, b->data, (int)b->len) != 1)
        return fail(s, "bulk readings: copy", NULL);
    b->len = 0;
    return STORE_OK;
}

/* The readings of the claimed devices (res: deviceid, seqn_epoch) as one COPY. */
static enum store_status copy_readings(struct pg_store *s, const PGresult *claimed, int64_t per_device,
                                       int64_t now, int64_t step, store_reading_text_fn fn, void *user_data,
                                       struct copy_buffer *b)
{
    PGresult *res = PQexec(s->conn, "COPY telemetry (deviceid, epoch, seqn, received_at, data) FROM STDIN");
    enum store_status st =
        PQresultStatus(res) == PGRES_COPY_IN ? STORE_OK : fail(s, "bulk readings: copy", res);
    PQclear(res);
    if (st != STORE_OK)
        return st;
    char text[512];
    for (int i = 0, n = PQntuples(claimed); st == STORE_OK && i < n; i++) {
        const char *deviceid = PQgetvalue(claimed, i, 0), *epoch = PQgetvalue(claimed, i, 1);
        for (int64_t seqn = 1; st == STORE_OK && seqn <= per_device; seqn++) {
            size_t len = fn(seqn, text, sizeof text, user_data);
            if (len == 0 || len >= sizeof text) {
                snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk readings: reading %lld has no text",
                         (long long)seqn);
                st = STORE_ERROR;
                break;
            }
            if (b->len + 2 * (strlen(deviceid) + len) + 128 > COPY_BUFFER &&
                (st = copy_flush(s, b)) != STORE_OK)
                break;
            copy_escaped(b, deviceid, strlen(deviceid));
            b->len += (size_t)snprintf(b->data + b->len, COPY_BUFFER - b->len, "\t%s\t%lld\t%lld\t", epoch,
                                       (long long)seqn, (long long)(now - (per_device - seqn) * step));
            copy_escaped(b, text, len);
            b->data[b->len++] = '\n';
        }
    }
    if (st == STORE_OK)
        st = copy_flush(s, b);
    if (PQputCopyEnd(s->conn, st == STORE_OK ? NULL : "bulk load abandoned") != 1 && st == STORE_OK)
        st = fail(s, "bulk readings: copy", NULL);
    while ((res = PQgetResult(s->conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && st == STORE_OK)
            st = fail(s, "bulk readings: copy", res);
        PQclear(res);
    }
    return st;
}

/* One transaction: per chunk of devices, their last SEQN and heartbeat time claimed (all must
 * exist, else STORE_NOT_FOUND and nothing stays), then their readings copied in. */
enum store_status pg_reading_bulk_add(struct store *base, const char *prefix, int64_t first,
                                      int64_t count, int64_t per_device, int64_t now, int64_t step,
                                      store_reading_text_fn fn, void *user_data)
{
    struct pg_store *s = pg_of(base);
    char id[80];
    if (!store_bulk_id(prefix, count > 0 ? first + count - 1 : first, id, sizeof id))
        return bulk_bad_id(s, prefix);
    struct copy_buffer b = {malloc(COPY_BUFFER), 0};
    if (!b.data) {
        snprintf(s->base.errmsg, sizeof s->base.errmsg, "bulk readings: out of memory");
        return STORE_ERROR;
    }
    enum store_status st = begin_transaction(s, PG_BEGIN, "bulk readings: begin");
    for (int64_t n = first; st == STORE_OK && n < first + count; n += BULK_CHUNK) {
        int64_t last = n + BULK_CHUNK - 1 < first + count - 1 ? n + BULK_CHUNK - 1 : first + count - 1;
        struct params p = {0};
        param_text(&p, prefix);
        param_int(&p, n);
        param_int(&p, last);
        param_int(&p, per_device);
        param_int(&p, now);
        PGresult *claimed = run(s, PG_BULK_CLAIM, &p, "bulk readings: find devices", &st);
        if (claimed && PQntuples(claimed) != last - n + 1)
            st = STORE_NOT_FOUND;
        if (st == STORE_OK)
            st = copy_readings(s, claimed, per_device, now, step, fn, user_data, &b);
        PQclear(claimed);
    }
    free(b.data);
    return end_transaction(s, st, "bulk readings: end");
}
