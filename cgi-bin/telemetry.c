/* Telemetry: POST ingests an end-to-end-encrypted reading (ingest.c, here or in the stack's
 * writer); GET reads readings back as JSON pages or time buckets. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "device_trust.h"
#include "ingest.h"
#include "isotime.h"
#include "json_out.h"
#include "log.h"
#include "metrics.h"
#include "writer.h"
#include "telemetry.h"
#include "validate.h"

#define PRUNE_EVERY 256  /* accepted readings between two retention passes of a worker */
#define PRUNE_BATCH 5000 /* readings deleted at most per pass, so an ingest never stalls long */

/* Retention, for a backend that leaves it to its writers (STORE_NEEDS_PRUNE_BY_WRITERS): now and
 * then, a worker deletes a batch of readings older than the limit, and of pending devices past
 * PROVD_PENDING_DAYS. Others have one scheduled job for the whole deployment (provctl prune). */
static void maybe_prune(struct app *app)
{
    if (!(store_needs(app->store) & STORE_NEEDS_PRUNE_BY_WRITERS) ||
        ++app->readings_since_prune < PRUNE_EVERY)
        return;
    app->readings_since_prune = 0;
    int deleted;
    if (app->config.retention_days > 0 &&
        store_reading_prune(app->store, app->now() - app->config.retention_days * 86400, PRUNE_BATCH,
                            &deleted) != STORE_OK)
        log_event("error", "retention", app->request_id, NULL, "%s", store_errmsg(app->store));
    if (app->config.pending_days > 0 &&
        store_device_expire_pending(app->store, app->now() - app->config.pending_days * 86400, PRUNE_BATCH,
                                    &deleted) != STORE_OK)
        log_event("error", "pending_devices", app->request_id, NULL, "%s", store_errmsg(app->store));
    if (app->config.audit_days > 0 &&
        store_audit_prune(app->store, app->now() - app->config.audit_days * 86400, PRUNE_BATCH, &deleted) !=
            STORE_OK)
        log_event("error", "audit_retention", app->request_id, NULL, "%s", store_errmsg(app->store));
}

/* A reading's result as the metrics count it; false for a database failure (counted as a 5xx
 * request, not as a reading). */
static bool reading_result(enum ingest_outcome outcome, enum metrics_reading *r)
{
    switch (outcome) {
    case INGEST_STORED: *r = METRICS_READING_ACCEPTED; return true;
    case INGEST_STALE: *r = METRICS_READING_REPLAY; return true;
    case INGEST_UNREADABLE: *r = METRICS_READING_UNREADABLE; return true;
    case INGEST_UNAUTHENTICATED:
    case INGEST_NOT_ACCEPTED:
    case INGEST_NO_KEY:
    case INGEST_UNKNOWN: *r = METRICS_READING_REFUSED; return true;
    default: return false;
    }
}

/* POST /api/devices/{id}/telemetry: a proof, when there is one, checked here; the envelope and
 * whether it needed the proof (ingest.c) through the stack's writer when there is one. */
void handle_telemetry_post(struct app *app, const struct request *req, struct response *res)
{
    struct ingest_result r;
    struct device_caller caller;
    if (!device_call_check(app, req, DEVICE_CALL_READING, res, &caller)) {
        metrics_reading(app->metrics, METRICS_READING_REFUSED);
        return;
    }
    bool proved = caller.proved;
    int64_t now = app->now();
    enum writer_submit sent = app->writer ? writer_submit(app->writer, app->thread, req->deviceid, req->body,
                                                          req->body_len, now, proved, &r)
                                          : WRITER_NOT_TAKEN;
    if (sent == WRITER_IN_DOUBT)
        r = (struct ingest_result){.outcome = INGEST_IN_DOUBT};
    else if (sent == WRITER_NOT_TAKEN && caller.known) /* read by the proof's check: not read again */
        ingest_reading_known(app->store, &app->config, req->deviceid, &caller.trust, req->body, req->body_len,
                             now, proved, &r);
    else if (sent == WRITER_NOT_TAKEN)
        ingest_reading(app->store, &app->config, req->deviceid, req->body, req->body_len, now, proved, &r);
    explicit_bzero(&caller, sizeof caller);
    ingest_respond(&r, res);
    if (proved || r.outcome == INGEST_UNAUTHENTICATED)
        device_call_time(app, res);
    if (r.outcome == INGEST_UNREADABLE || r.outcome == INGEST_UNAUTHENTICATED)
        log_event("info", r.outcome == INGEST_UNREADABLE ? "reading_unreadable" : "reading_unauthenticated",
                  app->request_id, req->deviceid, "%s", ingest_reason(&r));
    enum metrics_reading counted;
    if (reading_result((enum ingest_outcome)r.outcome, &counted))
        metrics_reading(app->metrics, counted);
    if (r.outcome == INGEST_STORED)
        maybe_prune(app);
}

/* ---- reading back ---- */

struct page {
    struct json_out out;
    int64_t count, last_id;
};

static bool add_reading(const struct reading *r, void *user_data)
{
    struct page *p = user_data;
    json_out_open_object(&p->out);
    json_out_member_int(&p->out, "id", r->id);
    json_out_member_int(&p->out, "seqn", r->seqn);
    json_out_member_isotime(&p->out, "received_at", r->received_at);
    json_out_key(&p->out, "ts");
    if (r->ts == TS_NONE)
        json_out_null(&p->out);
    else
        json_out_isotime(&p->out, r->ts);
    json_out_member_raw(&p->out, "reading", r->reading);
    json_out_close_object(&p->out);
    p->count++;
    p->last_id = r->id;
    return true;
}

/* Link to the next page: the same query from after the last reading of this one. */
static void next_link(struct response *res, const char *deviceid, const struct telemetry_query *q,
                      int64_t last_id)
{
    char url[512], number[24];
    snprintf(url, sizeof url, "/api/devices/%s/telemetry", deviceid);
    snprintf(number, sizeof number, "%lld", (long long)q->filter.limit);
    bool ok = query_append(url, sizeof url, "limit", number);
    snprintf(number, sizeof number, "%lld", (long long)last_id);
    ok = ok && query_append(url, sizeof url, "after", number);
    if (ok && q->filter.ascending)
        ok = query_append(url, sizeof url, "order", "asc");
    if (ok && q->has_since)
        ok = query_append(url, sizeof url, "since", q->since);
    if (ok && q->has_until)
        ok = query_append(url, sizeof url, "until", q->until);
    if (ok)
        response_header(res, "Link", "<%s>; rel=\"next\"", url);
}

struct buckets {
    struct json_object *array, *current_fields;
    int64_t current_start;
};

static void add_bucket_stat(const struct bucket_stat *b, void *user_data)
{
    struct buckets *bs = user_data;
    if (!bs->current_fields || b->start != bs->current_start) {
        struct json_object *bucket = json_object_new_object();
        bs->current_fields = json_object_new_object();
        bs->current_start = b->start;
        json_object_object_add(bucket, "start", json_isotime_new(b->start));
        json_object_object_add(bucket, "fields", bs->current_fields);
        json_object_array_add(bs->array, bucket);
    }
    struct json_object *stat = json_object_new_object();
    json_object_object_add(stat, "min", json_object_new_double(b->min));
    json_object_object_add(stat, "avg", json_object_new_double(b->avg));
    json_object_object_add(stat, "max", json_object_new_double(b->max));
    json_object_object_add(stat, "count", json_object_new_int64(b->count));
    json_object_object_add(bs->current_fields, b->field, stat);
}

/* GET /api/devices/{id}/telemetry: JSON pages, ?bucket= statistics, or ?format=csv. */
void handle_telemetry_get(struct app *app, const struct request *req, struct response *res)
{
    struct telemetry_query q;
    if (!telemetry_query_read(req->query, &q, res))
        return;
    enum store_status st = store_device_get(app->store, req->deviceid, NULL, NULL);
    if (st == STORE_NOT_FOUND) {
        response_error(res, 404, "no device %s", req->deviceid);
        return;
    }
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    if (q.csv) {
        telemetry_csv(app, req->deviceid, &q.filter, res);
        return;
    }
    if (q.bucket > 0) {
        struct buckets bs = {json_object_new_array(), NULL, 0};
        st = store_reading_buckets(app->store, req->deviceid, q.filter.since, q.filter.until, q.bucket,
                                   add_bucket_stat, &bs);
        if (st != STORE_OK) {
            json_object_put(bs.array);
            respond_store_error(app, res, st);
            return;
        }
        response_json(res, 200, bs.array);
        return;
    }
    struct page p = {.count = 0};
    json_out_start(&p.out, res, 200);
    json_out_open_array(&p.out);
    st = store_reading_list(app->store, req->deviceid, &q.filter, add_reading, &p);
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    json_out_close_array(&p.out);
    if (p.count == q.filter.limit)
        next_link(res, req->deviceid, &q, p.last_id);
}
