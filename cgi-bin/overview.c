/* GET /api/overview: the fleet at a glance, which the admin page polls every few seconds. The
 * counts are the metrics' gauges (fleet_gauges(): on a large fleet the host's last count), the
 * devices gone offline one read of every device with a top-N, the readings one number. */
#include "app.h"
#include "json_out.h"
#include "render.h"

#define RECENTLY_OFFLINE_MAX 10

struct offline_list {
    struct app *app;
    struct json_out *out;
};

/* A device gone offline: when it was last seen, and when it turned offline (5 intervals later). */
static void add_offline(const struct device *d, void *user_data)
{
    struct offline_list *l = user_data;
    json_out_open_object(l->out);
    json_out_member_string(l->out, "deviceid", d->deviceid);
    json_out_member_string(l->out, "name", d->name);
    json_out_member_string(l->out, "state", d->state);
    json_out_member_isotime(l->out, "lastseen", d->lastseen);
    json_out_member_isotime(l->out, "offline_since",
                            d->lastseen + 5 * device_poll_interval(d, &l->app->config));
    json_out_close_object(l->out);
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

/* {"at", "counted_at", "devices", "by_state", "by_liveness", "by_firmware" (null until devices
 * have firmware), "recently_offline": [...], "readings": {"last_id"}}. The counts are as of
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
    struct json_out out;
    json_out_start(&out, res, 200);
    json_out_open_object(&out);
    json_out_member_isotime(&out, "at", now);
    json_out_member_isotime(&out, "counted_at", counted_at);
    write_counts(&out, &fleet);
    json_out_key(&out, "by_firmware");
    json_out_null(&out);
    json_out_key(&out, "recently_offline");
    json_out_open_array(&out);
    struct offline_list list = {app, &out};
    if (st == STORE_OK)
        st = store_recently_offline(app->store, now, app->config.poll_interval, RECENTLY_OFFLINE_MAX,
                                    add_offline, &list);
    json_out_close_array(&out);
    json_out_key(&out, "readings");
    json_out_open_object(&out);
    json_out_member_int(&out, "last_id", last_id);
    json_out_close_object(&out);
    json_out_close_object(&out);
    if (st != STORE_OK)
        respond_store_error(app, res, st);
}
