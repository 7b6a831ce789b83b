/* Staged rollouts' evaluation: the decisions are here, each transition one conditional UPDATE in
 * the store (store_rollout_start(), store_rollout_state()), so concurrent sweeps cannot both
 * make it. */
#include "rollout.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "validate.h"

#define SWEEP_MAX 100 /* running rollouts evaluated per sweep (one per tag) */

int rollout_stages_parse(const char *json, int percent[ROLLOUT_STAGES_MAX])
{
    struct json_object *a = json_tokener_parse(json);
    int n = json_object_is_type(a, json_type_array) ? (int)json_object_array_length(a) : 0;
    if (n > ROLLOUT_STAGES_MAX)
        n = 0;
    for (int i = 0; i < n; i++)
        percent[i] = json_object_get_int(json_object_array_get_idx(a, (size_t)i));
    json_object_put(a);
    return n;
}

int64_t rollout_stage_devices(int percent, int64_t n)
{
    return (percent * n + 99) / 100;
}

enum store_status rollout_start_next(struct store *s, const struct rollout *r, int64_t now, int64_t *assigned)
{
    int percent[ROLLOUT_STAGES_MAX];
    int stages = rollout_stages_parse(r->stages, percent);
    *assigned = 0;
    if (r->stage >= stages)
        return STORE_NOT_FOUND;
    struct device_filter f = {.state = "accepted", .online = -1, .tag = r->tag, .now = now};
    int64_t tagged = 0;
    enum store_status st = store_device_count(s, &f, &tagged);
    if (st != STORE_OK)
        return st;
    return store_rollout_start(s, r->id, r->stage, rollout_stage_devices(percent[r->stage], tagged), now,
                               assigned);
}

enum store_status rollout_alert(struct store *s, const struct rollout *r, const char *reason, int64_t now)
{
    char subject[40];
    snprintf(subject, sizeof subject, "rollout:%lld", (long long)r->id);
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "rollout", json_object_new_int64(r->id));
    json_object_object_add(d, "firmware", json_object_new_string(r->firmware));
    json_object_object_add(d, "tag", json_object_new_string(r->tag));
    json_object_object_add(d, "reason", json_object_new_string(reason));
    const char *detail = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
    enum store_status st = detail ? store_alert_enqueue(s, ALERT_ROLLOUT_STOPPED, subject, now, detail) : STORE_ERROR;
    json_object_put(d);
    return st;
}

/* The emergency stop: the pause and its alert in one transaction. */
static enum store_status stop(struct store *s, const struct rollout *r, const char *reason, int64_t now)
{
    enum store_status st = store_write_begin(s);
    if (st != STORE_OK)
        return st;
    st = store_rollout_state(s, r->id, "running", r->stage, "paused", reason, now);
    if (st == STORE_OK)
        st = rollout_alert(s, r, reason, now);
    enum store_status ended = store_write_end(s, st == STORE_OK);
    if (st == STORE_OK && ended == STORE_OK)
        log_event("warn", "rollout_stopped", NULL, NULL, "rollout=%lld firmware=%s tag=%s reason=\"%s\"",
                  (long long)r->id, r->firmware, r->tag, reason);
    return st == STORE_OK ? ended : st;
}

/* A running rollout as the sweep keeps it (the store's strings are borrowed). */
struct kept {
    struct rollout r;
    char firmware[FIRMWARE_VERSION_MAX + 1], tag[TAG_MAX_LEN + 1], stages[64];
};

struct kept_list {
    struct kept item[SWEEP_MAX];
    int n;
};

static void keep(const struct rollout *r, void *data)
{
    struct kept_list *l = data;
    if (l->n == SWEEP_MAX)
        return;
    struct kept *k = &l->item[l->n++];
    k->r = *r;
    snprintf(k->firmware, sizeof k->firmware, "%s", r->firmware);
    snprintf(k->tag, sizeof k->tag, "%s", r->tag);
    snprintf(k->stages, sizeof k->stages, "%s", r->stages);
    k->r.firmware = k->firmware;
    k->r.tag = k->tag;
    k->r.stages = k->stages;
    k->r.state = "running";
    k->r.reason = "";
}

static void add_counts(const struct rollout_stage_count *c, void *data)
{
    struct rollout_stage_count *sum = data;
    sum->devices += c->devices;
    sum->in_progress += c->in_progress;
    sum->installed += c->installed;
    sum->failed += c->failed;
}

/* One running rollout: timeouts, then the emergency stop, else the next stage or the end. */
static enum store_status evaluate(struct store *s, const struct rollout *r, int64_t now,
                                  struct rollout_sweep_result *out)
{
    int64_t timed_out = 0;
    enum store_status st = store_rollout_timeouts(s, r->id, now, &timed_out);
    out->timed_out += timed_out;
    struct rollout_stage_count sum = {0};
    if (st == STORE_OK)
        st = store_rollout_stages(s, r->id, add_counts, &sum);
    if (st != STORE_OK)
        return st;
    int64_t offered = sum.in_progress + sum.installed + sum.failed;
    if (offered > 0 && sum.failed * 100 > (int64_t)r->failure_threshold * offered) {
        char reason[128];
        snprintf(reason, sizeof reason, "emergency stop: %lld of %lld devices offered failed (threshold %d%%)",
                 (long long)sum.failed, (long long)offered, r->failure_threshold);
        st = stop(s, r, reason, now);
        out->stopped += st == STORE_OK;
    } else if (sum.installed * 100 >= (int64_t)r->success_threshold * sum.devices) {
        int64_t assigned;
        st = rollout_start_next(s, r, now, &assigned);
        if (st == STORE_OK)
            out->stages++;
        if (st == STORE_NOT_FOUND) { /* the last stage succeeded */
            st = store_rollout_state(s, r->id, "running", r->stage, "done", "", now);
            out->done += st == STORE_OK;
        }
    }
    return st == STORE_STALE ? STORE_OK : st; /* another evaluator moved it first */
}

enum store_status rollout_sweep(struct store *s, int64_t now, struct rollout_sweep_result *out)
{
    struct kept_list running = {.n = 0};
    memset(out, 0, sizeof *out);
    enum store_status st = store_rollout_list(s, 0, "running", keep, &running);
    for (int i = 0; st == STORE_OK && i < running.n; i++) {
        out->rollouts++;
        st = evaluate(s, &running.item[i].r, now, out);
    }
    return st;
}
