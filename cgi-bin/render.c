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

static struct json_object *time_or_null(int64_t t)
{
    return t > 0 ? json_isotime_new(t) : NULL;
}

static struct json_object *int_or_null(int64_t v)
{
    return v < 0 ? NULL : json_object_new_int64(v);
}

struct json_object *device_to_json(const struct device *d, const struct config *config, int64_t now)
{
    enum liveness live = device_liveness(d, config, now);
    int64_t interval = device_poll_interval(d, config);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "deviceid", json_object_new_string(d->deviceid));
    json_object_object_add(o, "name", json_object_new_string(d->name));
    json_object_object_add(o, "state", json_object_new_string(d->state));
    json_object_object_add(o, "lastseen", time_or_null(d->lastseen));
    json_object_object_add(o, "ssid", json_object_new_string(d->ssid));
    json_object_object_add(o, "ipaddr", json_object_new_string(d->ipaddr));
    json_object_object_add(o, "cfgsn", json_object_new_int64(d->cfgsn));
    json_object_object_add(o, "cfgsn_applied", int_or_null(d->cfgsn_applied));
    json_object_object_add(o, "flags", json_object_new_int64(d->flags));
    json_object_object_add(o, "data", json_raw_new(d->data));
    json_object_object_add(o, "datec", time_or_null(d->datec));
    json_object_object_add(o, "poll_interval", json_object_new_int64(interval));
    json_object_object_add(o, "online", json_object_new_boolean(live == LIVENESS_ONLINE));
    json_object_object_add(o, "liveness", json_object_new_string(liveness_name(live)));
    json_object_object_add(o, "next_expected", time_or_null(d->lastseen > 0 ? d->lastseen + interval : 0));
    json_object_object_add(o, "has_key", json_object_new_boolean(d->has_key));
    json_object_object_add(o, "last_seqn", int_or_null(d->last_seqn));
    return o;
}
