/* The audit trail: audit_record(), the one call every admin write makes, and GET /api/audit,
 * its entries newest first in keyset pages (?after= the last id of the previous page). */
#define _GNU_SOURCE /* asprintf */
#include "audit.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "isotime.h"
#include "json_out.h"
#include "validate.h"

#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX     500

enum store_status audit_record(struct store *s, const struct audit_actor *actor, const char *action,
                               const char *target, const char *before, const char *after)
{
    const struct audit_entry e = {.at = actor->at,
                                  .via = actor->via,
                                  .actor = actor->name,
                                  .action = action,
                                  .target = target,
                                  .before = before,
                                  .after = after};
    return store_audit_add(s, &e);
}

char *audit_device_json(const struct device *d)
{
    struct json_object *name = json_object_new_string(d->name);
    struct json_object *state = json_object_new_string(d->state);
    struct json_object *location = json_object_new_string(d->location ? d->location : "");
    char interval[24] = "null", *text = NULL;
    if (d->poll_interval > 0)
        snprintf(interval, sizeof interval, "%lld", (long long)d->poll_interval);
    /* data is stored canonical JSON and tags a JSON array built in SQL: written as they are, so
     * numbers keep their digits. */
    if (name && state && location &&
        asprintf(&text,
                 "{\"name\":%s,\"state\":%s,\"location\":%s,\"tags\":%s,\"cfgsn\":%lld,\"poll_interval\":%s,"
                 "\"firmware\":%s%s%s,\"data\":%s}",
                 json_object_to_json_string_ext(name, JSON_C_TO_STRING_PLAIN),
                 json_object_to_json_string_ext(state, JSON_C_TO_STRING_PLAIN),
                 json_object_to_json_string_ext(location, JSON_C_TO_STRING_PLAIN),
                 d->tags && d->tags[0] ? d->tags : "[]", (long long)d->cfgsn, interval,
                 /* a version needs no escaping (valid_firmware_version()) */
                 d->firmware ? "\"" : "", d->firmware ? d->firmware : "null", d->firmware ? "\"" : "",
                 d->data[0] ? d->data : "null") < 0)
        text = NULL;
    json_object_put(name);
    json_object_put(state);
    json_object_put(location);
    return text;
}

/* ---- GET /api/audit ---- */

struct audit_query {
    char device[DEVICE_ID_MAX + 1], since[32];
    struct audit_filter filter;
};

static void member_json_or_null(struct json_out *out, const char *key, const char *json_text)
{
    json_out_key(out, key);
    if (json_text)
        json_out_raw(out, json_text);
    else
        json_out_null(out);
}

struct audit_page {
    struct json_out out;
    int64_t last_id;
};

static void add_entry(const struct audit_entry *e, void *user_data)
{
    struct audit_page *p = user_data;
    json_out_open_object(&p->out);
    json_out_member_int(&p->out, "id", e->id);
    json_out_member_isotime(&p->out, "at", e->at);
    json_out_member_string(&p->out, "via", e->via);
    json_out_member_string(&p->out, "actor", e->actor);
    json_out_member_string(&p->out, "action", e->action);
    json_out_member_string(&p->out, "target", e->target);
    member_json_or_null(&p->out, "before", e->before);
    member_json_or_null(&p->out, "after", e->after);
    json_out_close_object(&p->out);
    p->last_id = e->id;
}

/* ?device=ID&since=ISO-8601&limit=N&after=ID, each checked; false with the 400 in res. */
static bool read_audit_query(const char *query, struct audit_query *q, struct response *res)
{
    char number[24];
    q->filter = (struct audit_filter){.after = -1, .limit = AUDIT_LIMIT_DEFAULT};
    int has = query_param(query, "device", q->device, sizeof q->device);
    if (has < 0 || (has > 0 && !valid_device_id(q->device))) {
        response_error(res, 400, "device must be a device id: 1-%d characters of A-Z a-z 0-9 . _ : -",
                       DEVICE_ID_MAX);
        return false;
    }
    q->filter.device = has > 0 ? q->device : NULL;
    has = query_param(query, "since", q->since, sizeof q->since);
    if (has < 0 || (has > 0 && !isotime_parse(q->since, &q->filter.since))) {
        response_error(res, 400, "since must be an ISO-8601 UTC time, e.g. 2026-11-22T08:00:00Z");
        return false;
    }
    if (has == 0)
        q->since[0] = '\0';
    int64_t limit = AUDIT_LIMIT_DEFAULT;
    has = query_param(query, "limit", number, sizeof number);
    if (has < 0 || (has > 0 && !parse_int_range(number, 1, AUDIT_LIMIT_MAX, &limit))) {
        response_error(res, 400, "limit must be a whole number from 1 to %d", AUDIT_LIMIT_MAX);
        return false;
    }
    q->filter.limit = (int)limit;
    has = query_param(query, "after", number, sizeof number);
    if (has < 0 || (has > 0 && !parse_int_range(number, 1, INT64_MAX, &q->filter.after))) {
        response_error(res, 400, "after must be an audit entry's id (the last one of the previous page)");
        return false;
    }
    return true;
}

/* Link: </api/audit?limit=..&after=LAST[&device=..][&since=..]>; rel="next". */
static void next_link(struct response *res, const struct audit_query *q, int64_t last_id)
{
    char url[256] = "/api/audit", limit[8], after[24];
    snprintf(limit, sizeof limit, "%d", q->filter.limit);
    snprintf(after, sizeof after, "%lld", (long long)last_id);
    bool ok = query_append(url, sizeof url, "limit", limit) && query_append(url, sizeof url, "after", after);
    if (ok && q->filter.device)
        ok = query_append(url, sizeof url, "device", q->device);
    if (ok && q->since[0])
        ok = query_append(url, sizeof url, "since", q->since);
    if (ok)
        response_header(res, "Link", "<%s>; rel=\"next\"", url);
}

void handle_audit_list(struct app *app, const struct request *req, struct response *res)
{
    struct audit_query q;
    if (!read_audit_query(req->query, &q, res))
        return;
    struct audit_page p = {.last_id = 0};
    json_out_start(&p.out, res, 200);
    json_out_open_array(&p.out);
    int count = 0;
    enum store_status st = store_audit_list(app->store, &q.filter, add_entry, &p, &count);
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    json_out_close_array(&p.out);
    if (count == q.filter.limit)
        next_link(res, &q, p.last_id);
}
