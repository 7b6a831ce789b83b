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
    if (t > 0) {
        json_out_member_isotime(out, key, t);
    } else {
        json_out_key(out, key);
        json_out_null(out);
    }
}

static void int_or_null(struct json_out *out, const char *key, int64_t v)
{
    if (v >= 0) {
        json_out_member_int(out, key, v);
    } else {
        json_out_key(out, key);
        json_out_null(out);
    }
}

static void string_or_null(struct json_out *out, const char *key, const char *v)
{
    if (v) {
        json_out_member_string(out, key, v);
    } else {
        json_out_key(out, key);
        json_out_null(out);
    }
}

void device_write_json(struct json_out *out, const struct device *d, const struct config *config, int64_t now)
{
    enum liveness live = device_liveness(d, config, now);
    int64_t interval = device_poll_interval(d, config);
    json_out_open_object(out);
    json_out_member_string(out, "deviceid", d->deviceid);
    json_out_member_string(out, "name", d->name);
    json_out_member_string(out, "state", d->state);
    time_or_null(out, "lastseen", d->lastseen);
    json_out_member_string(out, "ssid", d->ssid);
    json_out_member_string(out, "ipaddr", d->ipaddr);
    json_out_member_int(out, "cfgsn", d->cfgsn);
    int_or_null(out, "cfgsn_applied", d->cfgsn_applied);
    json_out_member_int(out, "flags", d->flags);
    json_out_member_raw(out, "data", d->data);
    time_or_null(out, "datec", d->datec);
    json_out_member_int(out, "poll_interval", interval);
    json_out_member_bool(out, "online", live == LIVENESS_ONLINE);
    json_out_member_string(out, "liveness", liveness_name(live));
    time_or_null(out, "next_expected", d->lastseen > 0 ? d->lastseen + interval : 0);
    json_out_member_string(out, "location", d->location);
    json_out_member_raw(out, "tags", d->tags);
    json_out_member_bool(out, "has_key", d->has_key);
    int_or_null(out, "last_seqn", d->last_seqn);
    json_out_member_bool(out, "signs", d->trust & DEVICE_TRUST_SIGNED);
    json_out_key(out, "envelope");
    if (d->trust & (DEVICE_TRUST_V1 | DEVICE_TRUST_V2))
        json_out_string(out, d->trust & DEVICE_TRUST_V2 ? "v2" : "v1");
    else
        json_out_null(out);
    string_or_null(out, "firmware", d->firmware);
    string_or_null(out, "firmware_running", d->firmware_running);
    json_out_member_string(out, "firmware_status", d->firmware_status);
    json_out_close_object(out);
}

void device_write_registration(struct json_out *out, const struct device *d, const struct config *config,
                               const char *message)
{
    json_out_open_object(out);
    json_out_member_string(out, "status", "OK");
    json_out_member_string(out, "message", message);
    json_out_member_string(out, "deviceid", d->deviceid);
    json_out_member_string(out, "name", d->name);
    json_out_member_int(out, "cfgsn", d->cfgsn);
    time_or_null(out, "datec", d->datec);
    json_out_member_int(out, "poll_interval", device_poll_interval(d, config));
    json_out_close_object(out);
}
