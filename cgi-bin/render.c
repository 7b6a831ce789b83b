/* Device -> JSON for the registration answer, the admin list and the admin view of one device. */
#include "render.h"

int64_t device_poll_interval(const struct device *d, const struct config *config)
{
    return d->poll_interval > 0 ? d->poll_interval : config->poll_interval;
}

const char *liveness_name(enum liveness live)
{
    static const char *const names[] = {"online", "overdue", "offline"};
    return names[live];
}

enum liveness device_liveness(const struct device *d, const struct config *config, int64_t now)
{
    int64_t interval = device_poll_interval(d, config);
    if (d->lastseen > 0 && now - d->lastseen <= store_online_window(interval))
        return LIVENESS_ONLINE;
    if (d->lastseen > 0 && now - d->lastseen <= 5 * interval)
        return LIVENESS_OVERDUE;
    return LIVENESS_OFFLINE;
}

static void time_or_null(struct json_out *out, const char *key, int64_t t)
{
    json_out_key(out, key);
    if (t > 0)
        json_out_isotime(out, t);
    else
        json_out_null(out);
}

static void int_or_null(struct json_out *out, const char *key, int64_t v)
{
    json_out_key(out, key);
    if (v < 0)
        json_out_null(out);
    else
        json_out_int(out, v);
}

static void string_member(struct json_out *out, const char *key, const char *value)
{
    json_out_key(out, key);
    json_out_string(out, value);
}

static void int_member(struct json_out *out, const char *key, int64_t value)
{
    json_out_key(out, key);
    json_out_int(out, value);
}

static void bool_member(struct json_out *out, const char *key, bool value)
{
    json_out_key(out, key);
    json_out_bool(out, value);
}

void device_write_json(struct json_out *out, const struct device *d, const struct config *config, int64_t now)
{
    enum liveness live = device_liveness(d, config, now);
    int64_t interval = device_poll_interval(d, config);
    json_out_open_object(out);
    string_member(out, "deviceid", d->deviceid);
    string_member(out, "name", d->name);
    string_member(out, "state", d->state);
    time_or_null(out, "lastseen", d->lastseen);
    string_member(out, "ssid", d->ssid);
    string_member(out, "ipaddr", d->ipaddr);
    int_member(out, "cfgsn", d->cfgsn);
    int_or_null(out, "cfgsn_applied", d->cfgsn_applied);
    int_member(out, "flags", d->flags);
    json_out_key(out, "data");
    json_out_raw(out, d->data);
    time_or_null(out, "datec", d->datec);
    int_member(out, "poll_interval", interval);
    bool_member(out, "online", live == LIVENESS_ONLINE);
    string_member(out, "liveness", liveness_name(live));
    time_or_null(out, "next_expected", d->lastseen > 0 ? d->lastseen + interval : 0);
    bool_member(out, "has_key", d->has_key);
    int_or_null(out, "last_seqn", d->last_seqn);
    json_out_close_object(out);
}
