/* Staged rollouts' endpoints (ARCHITECTURE.md "Rollouts"): POST /api/rollouts makes one and starts
 * its first stage; GET /api/rollouts and /api/rollouts/{rollout} show them with each stage's
 * progress; POST /api/rollouts/{rollout}/pause, /resume and /cancel move them. The stages after
 * the first are the sweep's (rollout.h). Every change is audited (rollout.create, .pause, ...). */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "fields.h"
#include "json_out.h"
#include "rollout.h"
#include "validate.h"

#define TIMEOUT_MAX (30 * 86400) /* seconds: a month */
#define STAGES_RULE "must be 1-10 whole percentages, each 1-100 and above the one before, the last 100"

static bool check_tag(const struct field_value *v)
{
    char folded[TAG_MAX_LEN + 1];
    return tag_fold(v->str, v->len, folded);
}

static bool check_version(const struct field_value *v)
{
    return valid_firmware_version(v->str, v->len);
}

static bool check_percent(const struct field_value *v)
{
    return v->num >= 0 && v->num <= 100;
}

static bool check_timeout(const struct field_value *v)
{
    return v->num >= 1 && v->num <= TIMEOUT_MAX;
}

/* The stages as a JSON array of integers into out (canonical text, e.g. "[5,25,100]"). */
static bool check_stages(const struct field_value *v)
{
    size_t n = json_object_array_length(v->json);
    if (n < 1 || n > ROLLOUT_STAGES_MAX)
        return false;
    int64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v->json, i);
        if (!json_object_is_type(e, json_type_int))
            return false;
        int64_t p = json_object_get_int64(e);
        if (p <= last || p > 100)
            return false;
        last = p;
    }
    return last == 100;
}

struct progress {
    struct json_out *out;
    int percent[ROLLOUT_STAGES_MAX];
    int stages;
};

static void write_stage(const struct rollout_stage_count *c, void *data)
{
    struct progress *p = data;
    json_out_open_object(p->out);
    json_out_member_int(p->out, "stage", c->stage);
    json_out_member_int(p->out, "percent", c->stage >= 1 && c->stage <= p->stages ? p->percent[c->stage - 1] : 0);
    json_out_member_int(p->out, "devices", c->devices);
    json_out_member_int(p->out, "offered", c->in_progress + c->installed + c->failed);
    json_out_member_int(p->out, "pending", c->pending);
    json_out_member_int(p->out, "in_progress", c->in_progress);
    json_out_member_int(p->out, "installed", c->installed);
    json_out_member_int(p->out, "failed", c->failed);
    json_out_close_object(p->out);
}

/* What the rollouts' callback writes with: the answer, and the store for each one's stages. */
struct rollout_writer {
    struct json_out out;
    struct store *store;
    enum store_status st;
};

static void write_rollout(const struct rollout *r, void *data)
{
    struct rollout_writer *w = data;
    struct json_out *out = &w->out;
    json_out_open_object(out);
    json_out_member_int(out, "id", r->id);
    json_out_member_string(out, "firmware", r->firmware);
    json_out_member_string(out, "tag", r->tag);
    json_out_member_raw(out, "stages", r->stages);
    json_out_member_int(out, "success_threshold", r->success_threshold);
    json_out_member_int(out, "failure_threshold", r->failure_threshold);
    json_out_member_int(out, "timeout", r->timeout);
    json_out_member_string(out, "state", r->state);
    json_out_member_int(out, "stage", r->stage);
    json_out_member_string(out, "reason", r->reason);
    json_out_member_isotime(out, "created", r->created);
    json_out_member_isotime(out, "updated", r->updated);
    struct progress p = {out, {0}, rollout_stages_parse(r->stages, p.percent)};
    json_out_key(out, "progress");
    json_out_open_array(out);
    if (w->st == STORE_OK)
        w->st = store_rollout_stages(w->store, r->id, write_stage, &p);
    json_out_close_array(out);
    json_out_close_object(out);
}

/* Answers with rollout id as it is now (status: 200 or 201). */
static void send_rollout(struct app *app, struct response *res, int64_t id, int status)
{
    struct rollout_writer w = {.store = app->store, .st = STORE_OK};
    json_out_start(&w.out, res, status);
    enum store_status st = store_rollout_list(app->store, id, NULL, write_rollout, &w);
    if (st == STORE_OK)
        st = w.st;
    if (st == STORE_NOT_FOUND)
        response_error(res, 404, "no rollout %lld", (long long)id);
    else if (st != STORE_OK)
        respond_store_error(app, res, st);
}

static enum store_status audit_rollout(struct app *app, const char *action, int64_t id, const char *after)
{
    char target[24];
    snprintf(target, sizeof target, "%lld", (long long)id);
    return audit_record(app->store, &app->actor, action, target, NULL, after);
}

void handle_rollout_create(struct app *app, const struct request *req, struct response *res)
{
    enum { FIRMWARE, TAG, STAGES, SUCCESS, FAILURE, TIMEOUT, FIELD_COUNT };
    static const struct field fields[FIELD_COUNT] = {
        [FIRMWARE] = {"firmware", FIELD_STRING, false, check_version, "must be a firmware version"},
        [TAG] = {"tag", FIELD_STRING, false, check_tag, "must be a tag: 1-32 characters of a-z 0-9 . _ -"},
        [STAGES] = {"stages", FIELD_ARRAY, false, check_stages, STAGES_RULE},
        [SUCCESS] = {"success_threshold", FIELD_INT, false, check_percent, "must be a percentage, 0-100"},
        [FAILURE] = {"failure_threshold", FIELD_INT, false, check_percent, "must be a percentage, 0-100"},
        [TIMEOUT] = {"timeout", FIELD_INT, false, check_timeout, "must be seconds, 1-2592000"},
    };
    struct field_value v[FIELD_COUNT];
    struct fields body;
    char err[200];
    if (!fields_parse(&body, req->body, req->body_len, fields, FIELD_COUNT, FIELDS_REFUSE_UNKNOWN, v, err,
                      sizeof err)) {
        response_error(res, 400, "%s", err);
        return;
    }
    for (int i = 0; i < FIELD_COUNT; i++) {
        if (!v[i].present || v[i].is_null) {
            fields_free(&body);
            response_error(res, 400, "%s is required", fields[i].name);
            return;
        }
    }
    char tag[TAG_MAX_LEN + 1];
    tag_fold(v[TAG].str, v[TAG].len, tag);
    struct rollout r = {.firmware = v[FIRMWARE].str, .tag = tag, .stages = v[STAGES].str,
                        .success_threshold = (int)v[SUCCESS].num, .failure_threshold = (int)v[FAILURE].num,
                        .timeout = v[TIMEOUT].num, .created = app->now(), .state = "running"};
    enum store_status st = store_firmware_get(app->store, r.firmware, NULL, NULL);
    if (st == STORE_OK)
        st = store_rollout_add(app->store, &r, &r.id);
    int64_t assigned = 0;
    if (st == STORE_CREATED)
        st = rollout_start_next(app->store, &r, r.created, &assigned);
    if (st == STORE_OK)
        st = audit_rollout(app, "rollout.create", r.id, req->body);
    if (st == STORE_OK)
        send_rollout(app, res, r.id, 201);
    else if (st == STORE_NOT_FOUND)
        response_error(res, 400, "firmware %s does not exist: upload it first", r.firmware);
    else if (st == STORE_EXISTS)
        response_error(res, 409, "tag %s has an active rollout: pause, cancel or finish it first", tag);
    else
        respond_store_error(app, res, st);
    fields_free(&body);
}

void handle_rollout_list(struct app *app, const struct request *req, struct response *res)
{
    (void)req;
    struct rollout_writer w = {.store = app->store, .st = STORE_OK};
    json_out_start(&w.out, res, 200);
    json_out_open_array(&w.out);
    enum store_status st = store_rollout_list(app->store, 0, NULL, write_rollout, &w);
    if (st == STORE_OK)
        st = w.st;
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    json_out_close_array(&w.out);
}

void handle_rollout_get(struct app *app, const struct request *req, struct response *res)
{
    send_rollout(app, res, req->rollout, 200);
}

/* An admin's move of a rollout from `from` (NULL: running or paused) to `to`. */
static void move(struct app *app, const struct request *req, struct response *res, const char *from,
                 const char *to, const char *action)
{
    enum store_status st = store_rollout_state(app->store, req->rollout, from, -1, to, "", app->now());
    if (st == STORE_OK)
        st = audit_rollout(app, action, req->rollout, NULL);
    if (st == STORE_OK)
        send_rollout(app, res, req->rollout, 200);
    else if (st == STORE_NOT_FOUND)
        response_error(res, 404, "no rollout %lld", (long long)req->rollout);
    else if (st == STORE_STALE)
        response_error(res, 409, "rollout %lld is not %s", (long long)req->rollout,
                       from ? from : "running or paused");
    else
        respond_store_error(app, res, st);
}

void handle_rollout_pause(struct app *app, const struct request *req, struct response *res)
{
    move(app, req, res, "running", "paused", "rollout.pause");
}

void handle_rollout_resume(struct app *app, const struct request *req, struct response *res)
{
    move(app, req, res, "paused", "running", "rollout.resume");
}

void handle_rollout_cancel(struct app *app, const struct request *req, struct response *res)
{
    move(app, req, res, NULL, "cancelled", "rollout.cancel");
}
