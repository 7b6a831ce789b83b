/* GET /api/overview: the fleet at a glance, which the admin page polls every few seconds. The
 * counts are the metrics' gauges (fleet_gauges(): on a large fleet the host's last count), the
 * devices gone offline one read of every device with a top-N, as are the versions devices run
 * (by_firmware), the readings one number. */
#include <stdio.h>
#include <time.h>

#include "app.h"
#include "json_out.h"
#include "metrics.h"
#include "render.h"

/* Keeps a device gone offline, with when it turned offline (5 intervals after it was last seen). */
static void keep_offline(const struct device *d, void *user_data)
{
    struct app *app = user_data;
    struct recently_offline *kept = &app->offline;
    if (kept->count == RECENTLY_OFFLINE_MAX)
        return;
    struct offline_device *o = &kept->devices[kept->count++];
    snprintf(o->deviceid, sizeof o->deviceid, "%s", d->deviceid);
    snprintf(o->name, sizeof o->name, "%s", d->name);
    snprintf(o->state, sizeof o->state, "%s", d->state);
    o->lastseen = d->lastseen;
    o->offline_since = d->lastseen + 5 * device_poll_interval(d, &app->config);
}

/* Whether a read made at read_at that took micros is kept at now rather than made again: a slow
 * read's, while fresh (metrics.h's rule for the fleet's counts). */
static bool still_kept(int64_t read_at, int64_t micros, int64_t now)
{
    return micros >= METRICS_FLEET_CHEAP_MICROS && (now - read_at) * 1000000 < METRICS_FLEET_RECOUNT_FACTOR * micros;
}

static void keep_version(const char *version, int64_t devices, void *user_data)
{
    struct firmware_counts *kept = user_data;
    if (kept->count == FIRMWARE_COUNTS_MAX)
        return;
    snprintf(kept->running[kept->count].version, sizeof kept->running[0].version, "%s", version);
    kept->running[kept->count++].devices = devices;
}

static enum store_status firmware_running(struct app *app, int64_t now)
{
    (void)now;
    return store_firmware_running(app->store, FIRMWARE_COUNTS_MAX, keep_version, &app->firmware);
}

static enum store_status recently_offline(struct app *app, int64_t now)
{
    return store_recently_offline(app->store, now, app->config.poll_interval, RECENTLY_OFFLINE_MAX, keep_offline, app);
}

/* One of a worker's kept reads (count entries, read at *read_at, taking *micros) made again with
 * read() unless still kept. */
static enum store_status read_again(struct app *app, int64_t now, int *count, int64_t *read_at, int64_t *micros,
                                    enum store_status (*read)(struct app *app, int64_t now))
{
    if (still_kept(*read_at, *micros, now))
        return STORE_OK;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    *count = 0;
    *micros = 0;
    enum store_status st = read(app, now);
    if (st == STORE_OK) {
        *read_at = now;
        int64_t took = micros_since(&start);
        *micros = took > 0 ? took : 1; /* 0 is "never read" */
    }
    return st;
}

/* "by_firmware": {"version": devices, ...}, most devices first; null while no device said. */
static void write_firmware(struct json_out *out, const struct firmware_counts *kept)
{
    json_out_key(out, "by_firmware");
    if (kept->count == 0) {
        json_out_null(out);
        return;
    }
    json_out_open_object(out);
    for (int i = 0; i < kept->count; i++)
        json_out_member_int(out, kept->running[i].version, kept->running[i].devices);
    json_out_close_object(out);
}

static void write_offline(struct json_out *out, const struct recently_offline *kept)
{
    json_out_key(out, "recently_offline");
    json_out_open_array(out);
    for (int i = 0; i < kept->count; i++) {
        const struct offline_device *o = &kept->devices[i];
        json_out_open_object(out);
        json_out_member_string(out, "deviceid", o->deviceid);
        json_out_member_string(out, "name", o->name);
        json_out_member_string(out, "state", o->state);
        json_out_member_isotime(out, "lastseen", o->lastseen);
        json_out_member_isotime(out, "offline_since", o->offline_since);
        json_out_close_object(out);
    }
    json_out_close_array(out);
}

/* "key": {"names[0]": values[0], ...} */
static void write_group(struct json_out *out, const char *key, const char *const names[3], const int64_t values[3])
{
    json_out_key(out, key);
    json_out_open_object(out);
    for (int i = 0; i < 3; i++)
        json_out_member_int(out, names[i], values[i]);
    json_out_close_object(out);
}

static void write_counts(struct json_out *out, const struct store_fleet *f)
{
    static const char *const states[3] = {"pending", "accepted", "rejected"};
    static const char *const liveness[3] = {"online", "overdue", "offline"};
    json_out_member_int(out, "devices", f->pending + f->accepted + f->rejected);
    write_group(out, "by_state", states, (const int64_t[3]){f->pending, f->accepted, f->rejected});
    write_group(out, "by_liveness", liveness, (const int64_t[3]){f->online, f->overdue, f->offline});
}

/* {"at", "counted_at", "devices", "by_state", "by_liveness", "by_firmware" (the versions devices
 * report running; null until one does), "recently_offline": [...], "readings": {"last_id"}}. The counts are as of
 * counted_at. readings.last_id rises by one per reading taken, on every host alike: its rise
 * between two polls, over their "at", is the rate. */
void handle_overview(struct app *app, const struct request *req, struct response *res)
{
    (void)req;
    int64_t now = app->now(), last_id = 0, counted_at = now;
    struct store_fleet fleet;
    if (!fleet_gauges(app, &fleet, &counted_at)) {
        response_error(res, 503, "the database does not answer: try again shortly");
        response_header(res, "Retry-After", "%d", DATABASE_RETRY_AFTER_S);
        return;
    }
    enum store_status st = store_reading_last_id(app->store, &last_id);
    if (st == STORE_OK)
        st = read_again(app, now, &app->offline.count, &app->offline.read_at, &app->offline.micros, recently_offline);
    if (st == STORE_OK)
        st = read_again(app, now, &app->firmware.count, &app->firmware.read_at, &app->firmware.micros,
                        firmware_running);
    if (st != STORE_OK) {
        respond_store_error(app, res, st);
        return;
    }
    struct json_out out;
    json_out_start(&out, res, 200);
    json_out_open_object(&out);
    json_out_member_isotime(&out, "at", now);
    json_out_member_isotime(&out, "counted_at", counted_at);
    write_counts(&out, &fleet);
    write_firmware(&out, &app->firmware);
    write_offline(&out, &app->offline);
    json_out_key(&out, "readings");
    json_out_open_object(&out);
    json_out_member_int(&out, "last_id", last_id);
    json_out_close_object(&out);
    json_out_close_object(&out);
}
