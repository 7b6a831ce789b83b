/* Device endpoints: registration and heartbeat polls (device-facing), and the admin's view,
 * list, change, deletion and key generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "device_auth.h"
#include "device_trust.h"
#include "fields.h"
#include "firmware.h"
#include "metrics.h"
#include "render.h"
#include "secret.h"
#include "string_list.h"
#include "validate.h"

/* Hands a found device to the handler that asked for it. */
struct found {
    struct app *app;
    const struct request *req;
    struct response *res;
    int status;
    struct device_caller *caller; /* a device's call: what it proved; NULL: an admin's */
    char *audited;                      /* an admin's change: the device as audit_device_json() has it */
    char offered[FIRMWARE_VERSION_MAX + 1]; /* a pending version the answer offered: "" none */
};

static bool check_ipaddr(const struct field_value *v)
{
    return strlen(v->str) == v->len && valid_ipaddr(v->str);
}

static bool check_ssid(const struct field_value *v)
{
    return valid_ssid(v->str, v->len);
}

static bool check_name(const struct field_value *v)
{
    return valid_name(v->str, v->len);
}

static bool check_location(const struct field_value *v)
{
    return valid_location(v->str, v->len);
}

#define LOCATION_RULE "must be at most 128 characters of UTF-8 text without control characters"

static bool check_state(const struct field_value *v)
{
    return strlen(v->str) == v->len && valid_state(v->str);
}

static bool check_data(const struct field_value *v)
{
    return v->len <= DATA_MAX;
}

static bool check_poll_interval(const struct field_value *v)
{
    return v->num >= POLL_INTERVAL_MIN && v->num <= POLL_INTERVAL_MAX;
}

static bool check_cfgsn(const struct field_value *v)
{
    return v->num >= 0 && v->num <= (int64_t)1 << 53;
}

static bool check_firmware(const struct field_value *v)
{
    return valid_firmware_version(v->str, v->len);
}

static void etag_header(struct response *res, int64_t cfgsn)
{
    response_header(res, "ETag", "\"%lld\"", (long long)cfgsn);
}

static bool is_rejected(const struct device *d)
{
    return strcmp(d->state, "rejected") == 0;
}

static void reject_device(struct response *res)
{
    response_error(res, 403, "Device rejected: an admin has refused this device");
}

/* The whole device, as admins see it. */
static void send_device(const struct device *d, void *user_data)
{
    struct found *f = user_data;
    etag_header(f->res, d->cfgsn);
    struct json_out out;
    json_out_start(&out, f->res, f->status);
    device_write_json(&out, d, &f->app->config, f->app->now());
}

/* An admin's change: the device as it became, kept for the audit trail, and sent. */
static void send_changed_device(const struct device *d, void *user_data)
{
    struct found *f = user_data;
    f->audited = audit_device_json(d);
    send_device(d, user_data);
}

/* The device as it is before an admin's change, locked until the change's end
 * (store_device_lock()); *before gets it for the audit trail, NULL when there is no such device. */
static void keep_device(const struct device *d, void *user_data)
{
    char **before = user_data;
    *before = audit_device_json(d);
}

/* STORE_OK with *before, STORE_NOT_FOUND (*before NULL), or the failure answered in res. */
static enum store_status device_before(struct app *app, const char *deviceid, char **before,
                                       struct response *res)
{
    *before = NULL;
    enum store_status st = store_device_lock(app->store, deviceid, keep_device, before);
    if (st == STORE_OK && !*before) {
        response_error(res, 500, "internal error: out of memory");
        st = STORE_ERROR;
    } else if (st != STORE_OK && st != STORE_NOT_FOUND) {
        respond_store_error(app, res, st);
    }
    return st;
}

/* An admin's change recorded; a failure is answered, and the router rolls the change back. */
static void audit_or_fail(struct app *app, struct response *res, const char *action, const char *target,
                          const char *before, const char *after)
{
    enum store_status st = audit_record(app->store, &app->actor, action, target, before, after);
    if (st != STORE_OK)
        respond_store_error(app, res, st);
}

/* The answer to a registration of a known device: what it may learn of itself. */
static void send_registration(const struct device *d, void *user_data)
{
    struct found *f = user_data;
    if (is_rejected(d)) {
        reject_device(f->res);
        return;
    }
    etag_header(f->res, d->cfgsn);
    struct json_out out;
    json_out_start(&out, f->res, f->status);
    device_write_registration(&out, d, &f->app->config, "Device already registered");
}

static void bad_body(struct response *res, const char *err)
{
    response_error(res, 400, "%s", err);
}

#define REGISTRATION_RETRY_AFTER_S 60

/* POST /api/devices/{id}: a device says it is up, with its address and network. A keyed device
 * proves the call; either way the answer holds what the device may know of itself. */
void handle_device_register(struct app *app, const struct request *req, struct response *res)
{
    enum { IPADDR, SSID, LOCATION, FW, FIELD_COUNT };
    static const struct field fields[FIELD_COUNT] = {
        [IPADDR] = {"ipaddr", FIELD_STRING, false, check_ipaddr, "must be an IPv4 or IPv6 address"},
        [SSID] = {"ssid", FIELD_STRING, false, check_ssid, "must be at most 32 bytes"},
        [LOCATION] = {"location", FIELD_STRING, false, check_location, LOCATION_RULE},
        [FW] = {"fw", FIELD_STRING, false, check_firmware, FIRMWARE_VERSION_RULE},
    };
    struct field_value v[FIELD_COUNT];
    struct fields body;
    char err[160];
    struct device_caller caller;
    if (!device_call_check(app, req, DEVICE_CALL_WRITE, res, &caller))
        return;
    if (!fields_parse(&body, req->body, req->body_len, fields, FIELD_COUNT, FIELDS_IGNORE_UNKNOWN, v, err,
                      sizeof err)) {
        bad_body(res, err);
        device_call_finish(app, res, &caller);
        return;
    }
    char from[ADDRESS_PREFIX_LEN];
    struct registration reg = {
        .policy = app->config.registration,
        .from = req->remote_addr && address_prefix(req->remote_addr, from, sizeof from) ? from : NULL,
        .per_minute = app->config.registrations_per_min,
        .max_devices = app->config.max_devices,
    };
    struct found f = {app, req, res, 200, &caller, NULL, ""};
    enum store_status st = store_device_register(app->store, req->deviceid, v[IPADDR].str, v[SSID].str, v[LOCATION].str, &reg,
                                                 app->now(), send_registration, &f);
    switch (st) {
    case STORE_CREATED:
        response_reset(res);
        response_ok(res, 201, "Device Registered");
        metrics_registration(app->metrics);
        break;
    case STORE_OK: break;
    case STORE_REFUSED:
        response_error(res, 403, "registration is closed: an admin must add this device first");
        break;
    case STORE_FULL:
        response_error(res, 403,
                       "this server takes no more devices (PROVD_MAX_DEVICES): an admin must make room");
        break;
    case STORE_TOO_MANY:
        response_header(res, "Retry-After", "%d", REGISTRATION_RETRY_AFTER_S);
        response_error(res, 429, "too many new devices from your address: try again in a minute");
        break;
    default: respond_store_error(app, res, st);
    }
    /* The firmware it says it runs, once it is in (a rejected device is not). */
    if ((st == STORE_OK || st == STORE_CREATED) && res->status < 300 && v[FW].str) {
        st = store_device_firmware(app->store, req->deviceid, FIRMWARE_REPORTED, v[FW].str, NULL);
        if (st != STORE_OK && st != STORE_NOT_FOUND) /* not found: nothing new */
            respond_store_error(app, res, st);
    }
    fields_free(&body);
    device_call_finish(app, res, &caller);
}

/* If-None-Match holds the device's current ETag (or "*"): quoting makes "5" not match "15". */
static bool etag_listed(int64_t cfgsn, const char *if_none_match)
{
    char etag[32];
    if (!if_none_match)
        return false;
    if (strcmp(if_none_match, "*") == 0)
        return true;
    snprintf(etag, sizeof etag, "\"%lld\"", (long long)cfgsn);
    return strstr(if_none_match, etag) != NULL;
}

/* The device's update, when it should get one: {"version","url","size","sha256","md5"} into out,
 * the URL its image is downloaded from (firmware.c), absolute when nginx passed a plain Host
 * (REQUEST_HOST, nginx.conf: the Host the device itself named).
 * false when there is none (or it does not fit). */
#define FIRMWARE_OFFER_MAX 768
static bool firmware_offer(const struct device *d, const struct request *req, char out[FIRMWARE_OFFER_MAX])
{
    if (!d->firmware || !d->firmware_sha256 || !d->firmware_md5 || !firmware_in_progress(d->firmware_status))
        return false;
    const char *scheme = request_param(req, "REQUEST_SCHEME"), *host = request_param(req, "REQUEST_HOST");
    bool absolute = scheme && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && host &&
                    host[0] && strlen(host) < 256 &&
                    strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-:[]") ==
                        strlen(host);
    char url[FIRMWARE_OFFER_MAX / 2];
    snprintf(url, sizeof url, "%s%s%s/api/devices/%s/firmware", absolute ? scheme : "", absolute ? "://" : "",
             absolute ? host : "", d->deviceid);
    if (!query_append(url, sizeof url, "version", d->firmware))
        return false;
    int n = snprintf(out, FIRMWARE_OFFER_MAX,
                     "{\"version\":\"%s\",\"url\":\"%s\",\"size\":%lld,\"sha256\":\"%s\",\"md5\":\"%s\"}",
                     d->firmware, url, (long long)d->firmware_size, d->firmware_sha256, d->firmware_md5);
    return n > 0 && n < FIRMWARE_OFFER_MAX;
}

/* A proved poll's configuration, sealed for the device (device_config_seal()): cfgsn in clear,
 * the rest -- data, poll_interval, the SEQN epoch its v2 telemetry binds, and the update offered
 * (offer, or "": none), whose SHA-256 the device checks the image with -- in "sealed". */
static void send_sealed_config(const struct device *d, struct found *f, const char *offer)
{
    const char *secret = device_secret(f->app, &f->caller->trust);
    int64_t interval = device_poll_interval(d, &f->app->config);
    size_t cap = strlen(d->data) + strlen(offer) + 112;
    char *plain = malloc(cap), *sealed = NULL;
    int len = plain ? snprintf(plain, cap, "{\"cfgsn\":%lld,\"data\":%s,\"poll_interval\":%lld,\"epoch\":%lld%s%s}",
                               (long long)d->cfgsn, d->data, (long long)interval,
                               (long long)f->caller->trust.epoch, offer[0] ? ",\"firmware\":" : "", offer)
                    : -1;
    if (len < 0 || (size_t)len >= cap ||
        !device_config_seal(secret, d->deviceid, d->cfgsn, NULL, plain, (size_t)len, &sealed)) {
        response_error(f->res, 500, "internal error: the configuration could not be sealed");
    } else {
        struct json_out out;
        json_out_start(&out, f->res, 200);
        json_out_open_object(&out);
        json_out_member_int(&out, "cfgsn", d->cfgsn);
        json_out_member_raw(&out, "sealed", sealed);
        json_out_close_object(&out);
    }
    if (plain)
        explicit_bzero(plain, cap);
    free(plain);
    free(sealed);
}

/* The heartbeat answer: the configuration (sealed when the call was proved) and the update the
 * device should get, or 304 when it already has the configuration and there is no update. */
static void send_config(const struct device *d, void *user_data)
{
    struct found *f = user_data;
    if (is_rejected(d)) {
        reject_device(f->res);
        return;
    }
    etag_header(f->res, d->cfgsn);
    char offer[FIRMWARE_OFFER_MAX] = "";
    bool offering = firmware_offer(d, f->req, offer);
    if (!offering && etag_listed(d->cfgsn, f->req->if_none_match)) {
        response_empty(f->res, 304);
        return;
    }
    if (offering && strcmp(d->firmware_status, FIRMWARE_STATUS_PENDING) == 0)
        snprintf(f->offered, sizeof f->offered, "%s", d->firmware);
    if (f->caller->proved) {
        send_sealed_config(d, f, offer);
        return;
    }
    struct json_out out;
    json_out_start(&out, f->res, 200);
    json_out_open_object(&out);
    json_out_member_int(&out, "cfgsn", d->cfgsn);
    json_out_member_raw(&out, "data", d->data);
    json_out_member_int(&out, "poll_interval", device_poll_interval(d, &f->app->config));
    if (offering)
        json_out_member_raw(&out, "firmware", offer);
    json_out_close_object(&out);
}

/* A device's heartbeat poll. Most devices hold their configuration already and have no update:
 * they get the 304 that reads one index, firmware facts included; the others (and those sending
 * no If-None-Match) the full poll. fw: the firmware the device says it runs (NULL: it does not
 * say), recorded when it is news or an update is under way (one more write, then). */
static enum store_status answer_poll(struct found *f, int64_t applied, const char *fw)
{
    struct store *store = f->app->store;
    const struct request *req = f->req;
    int64_t now = f->app->now();
    enum store_status st;
    if (req->if_none_match || fw) {
        struct poll_facts facts;
        enum store_caller caller = device_store_caller(req, f->caller);
        st = store_device_heartbeat(store, req->deviceid, caller, now, &facts);
        if (caller == STORE_CALLER_TO_PROVE && (st == STORE_OK || st == STORE_NOT_FOUND)) {
            const struct device_trust *trust = st == STORE_OK ? &facts.trust : NULL;
            bool proved = device_read_prove(f->app, req, f->res, f->caller, trust);
            explicit_bzero(&facts.trust, sizeof facts.trust);
            if (!proved)
                return STORE_OK; /* f->res holds the refusal */
            st = store_heartbeat_seen(store, req->deviceid, &facts, now);
        }
        if (st != STORE_OK)
            return st;
        if (facts.rejected) {
            reject_device(f->res);
            return STORE_OK;
        }
        if (fw && firmware_report_changes(fw, facts.firmware_running, facts.firmware_status)) {
            st = store_device_firmware(store, req->deviceid, FIRMWARE_REPORTED, fw, facts.firmware_status);
            if (st != STORE_OK && st != STORE_NOT_FOUND) /* not found: nothing changed */
                return st;
        }
        bool applied_known = applied < 0 || applied == facts.cfgsn_applied;
        if (!firmware_in_progress(facts.firmware_status) && applied_known &&
            etag_listed(facts.cfgsn, req->if_none_match)) {
            etag_header(f->res, facts.cfgsn);
            response_empty(f->res, 304);
            return STORE_OK;
        }
    }
    enum store_caller caller = device_store_caller(req, f->caller);
    st = store_device_poll(store, req->deviceid, caller, applied, now, send_config, f);
    /* pending -> offered once the answer carries it (a conditional update: a version assigned
     * meanwhile stays pending). */
    if (st == STORE_OK && f->offered[0]) {
        st = store_device_firmware(store, req->deviceid, FIRMWARE_OFFERED, f->offered, NULL);
        st = st == STORE_NOT_FOUND ? STORE_OK : st;
    }
    return st;
}

/* GET /api/devices/{id}: a device's heartbeat poll; with an admin token, the admin's view of
 * the device, which is not a heartbeat. */
void handle_device_get(struct app *app, const struct request *req, struct response *res)
{
    struct found f = {app, req, res, 200, NULL, NULL, ""};
    struct device_caller caller;
    enum store_status st;
    if (req->authorization) {
        if (!auth_admin(app, req, res))
            return;
        st = store_device_get(app->store, req->deviceid, send_device, &f);
    } else {
        if (!device_read_check(app, req, req->if_none_match != NULL, res, &caller))
            return;
        f.caller = &caller;
        char text[24], fw[FIRMWARE_VERSION_MAX + 2];
        int64_t applied = -1;
        int has = query_param(req->query, "cfgsn", text, sizeof text);
        int has_fw = query_param(req->query, "fw", fw, sizeof fw);
        if (has < 0 || (has > 0 && !parse_int_range(text, 0, INT64_MAX, &applied))) {
            response_error(res, 400, "cfgsn must be a non-negative integer");
            st = STORE_OK;
        } else if (has_fw < 0 || (has_fw > 0 && !valid_firmware_version(fw, strlen(fw)))) {
            response_error(res, 400, "fw " FIRMWARE_VERSION_RULE);
            st = STORE_OK;
        } else {
            st = answer_poll(&f, applied, has_fw > 0 ? fw : NULL);
            if (st == STORE_OK && (res->status == 304 || res->status == 200))
                metrics_poll(app->metrics, res->status == 304 ? METRICS_POLL_NOT_MODIFIED : METRICS_POLL_CONFIG);
        }
    }
    if (st == STORE_NOT_FOUND)
        response_error(res, 404, "Device NOT Registered");
    else if (st == STORE_UNPROVED)
        device_call_refuse(app, res);
    else if (st != STORE_OK)
        respond_store_error(app, res, st);
    if (f.caller)
        device_call_finish(app, res, &caller);
}

/* If-Match: absent, "*" (the device exists), or one strong ETag. */
static bool parse_if_match(const char *header, int64_t *cfgsn)
{
    *cfgsn = !header ? IF_MATCH_NONE : IF_MATCH_ANY;
    if (!header || strcmp(header, "*") == 0)
        return true;
    size_t len = strlen(header);
    char digits[24];
    if (len < 3 || len - 2 >= sizeof digits || header[0] != '"' || header[len - 1] != '"')
        return false;
    memcpy(digits, header + 1, len - 2);
    digits[len - 2] = '\0';
    return parse_int_range(digits, 0, INT64_MAX, cfgsn);
}

/* The answer to an admin's change (store_device_update()'s st), and its audit entry: before and
 * after as audit_device_json() has them (before NULL: the device did not exist). */
static void answer_update(struct app *app, const struct request *req, struct response *res,
                          enum store_status st, const char *before, const char *after)
{
    if ((st == STORE_OK || st == STORE_CREATED) && !after) {
        response_error(res, 500, "internal error: out of memory");
    } else if (st == STORE_CREATED) {
        res->status = 201; /* the device was rendered as it was made; only the status differs */
        audit_or_fail(app, res, "device.create", req->deviceid, NULL, after);
    } else if (st == STORE_OK) {
        audit_or_fail(app, res, "device.update", req->deviceid, before, after);
    } else if (st == STORE_STALE) {
        response_error(res, 412,
                       "the device changed or is gone since you read it (If-Match %s): "
                       "reload it and apply your change again",
                       req->if_match);
    } else {
        respond_store_error(app, res, st);
    }
}

/* PUT /api/devices/{id}: an admin renames, configures, approves or rejects a device, or
 * creates one (the only way a device gets in when registration is closed). */
void handle_device_update(struct app *app, const struct request *req, struct response *res)
{
    enum { NAME, DATA, STATE, POLL_INTERVAL, CFGSN, SEQN_RESET, LOCATION, TAGS, FIRMWARE, FIELD_COUNT };
    static const struct field fields[FIELD_COUNT] = {
        [NAME] = {"name", FIELD_STRING, false, check_name,
                  "must be at most 64 characters of UTF-8 text without control characters"},
        [DATA] = {"data", FIELD_JSON, false, check_data, "must be JSON of at most 8192 bytes"},
        [STATE] = {"state", FIELD_STRING, false, check_state, "must be pending, accepted or rejected"},
        [POLL_INTERVAL] = {"poll_interval", FIELD_INT, true, check_poll_interval,
                           "must be from 5 to 86400 seconds (null: the server's default)"},
        [CFGSN] = {"cfgsn", FIELD_INT, false, check_cfgsn, "must be a non-negative integer"},
        [SEQN_RESET] = {"seqn_reset", FIELD_BOOL, false, NULL, NULL},
        [LOCATION] = {"location", FIELD_STRING, true, check_location,
                      LOCATION_RULE " (null: cleared, for the device to set)"},
        [TAGS] = {"tags", FIELD_ARRAY, false, NULL, NULL}, /* string_list_canonical() */
        [FIRMWARE] = {"firmware", FIELD_STRING, true, check_firmware,
                      FIRMWARE_VERSION_RULE " (null: none)"},
    };
    static const struct string_list_rule tag_rule = {
        "tags", DEVICE_TAGS_MAX, string_list_take_tag,
        "a tag: 1-32 characters of a-z 0-9 . _ - (A-Z taken as a-z)"};
    char tags[STRING_LIST_JSON_MAX(DEVICE_TAGS_MAX)];
    struct field_value v[FIELD_COUNT];
    struct fields body;
    char err[160];
    struct device_update u = {0};
    if (!parse_if_match(req->if_match, &u.if_match)) {
        response_error(res, 400, "If-Match must be the device's ETag, e.g. \"3\"");
        return;
    }
    if (!fields_parse(&body, req->body, req->body_len, fields, FIELD_COUNT, FIELDS_REFUSE_UNKNOWN, v, err,
                      sizeof err)) {
        bad_body(res, err);
        return;
    }
    u.name = v[NAME].str;
    u.data = v[DATA].str;
    u.state = v[STATE].str;
    u.set_poll_interval = v[POLL_INTERVAL].present;
    u.poll_interval = v[POLL_INTERVAL].is_null ? 0 : v[POLL_INTERVAL].num;
    u.cfgsn = v[CFGSN].present ? v[CFGSN].num : -1;
    u.seqn_reset = v[SEQN_RESET].flag;
    u.set_location = v[LOCATION].present;
    u.location = v[LOCATION].str;
    if (v[TAGS].present) {
        if (!string_list_canonical(v[TAGS].json, &tag_rule, tags, sizeof tags, err, sizeof err)) {
            bad_body(res, err);
            fields_free(&body);
            return;
        }
        u.tags = tags;
    }
    u.set_firmware = v[FIRMWARE].present;
    u.firmware = v[FIRMWARE].is_null ? NULL : v[FIRMWARE].str;
    enum store_status known = u.firmware ? store_firmware_get(app->store, u.firmware, NULL, NULL) : STORE_OK;
    if (known != STORE_OK) {
        if (known == STORE_NOT_FOUND)
            response_error(res, 400, "firmware: no version %s was uploaded (POST /api/firmware?version=%s first)",
                           u.firmware, u.firmware);
        else
            respond_store_error(app, res, known);
        fields_free(&body);
        return;
    }

    struct found f = {app, req, res, 200, NULL, NULL, ""};
    char *before;
    enum store_status st = device_before(app, req->deviceid, &before, res);
    if (st == STORE_OK || st == STORE_NOT_FOUND) {
        st = store_device_update(app->store, req->deviceid, &u, app->now(), send_changed_device, &f);
        answer_update(app, req, res, st, before, f.audited);
    }
    free(before);
    free(f.audited);
    fields_free(&body);
}

/* DELETE /api/devices/{id}: the device and all its telemetry. */
void handle_device_delete(struct app *app, const struct request *req, struct response *res)
{
    char *before;
    enum store_status st = device_before(app, req->deviceid, &before, res);
    if (st == STORE_NOT_FOUND)
        response_error(res, 404, "no device %s", req->deviceid);
    if (st == STORE_OK && (st = store_device_delete(app->store, req->deviceid)) == STORE_OK) {
        response_empty(res, 204);
        audit_or_fail(app, res, "device.delete", req->deviceid, before, NULL);
    } else if (before) {
        respond_store_error(app, res, st);
    }
    free(before);
}

/* POST /api/devices/{id}/key: a new random telemetry key, shown this once. */
void handle_device_new_key(struct app *app, const struct request *req, struct response *res)
{
    char key[DEVICE_KEY_LEN + 1];
    if (!secret_random_hex(key, DEVICE_KEY_LEN / 2)) {
        response_error(res, 500, "no randomness available");
        return;
    }
    enum store_status st = store_device_set_key(app->store, req->deviceid, key);
    if (st == STORE_OK)
        st = audit_record(app->store, &app->actor, "device.key", req->deviceid, NULL, AUDIT_KEY_CHANGED);
    switch (st) {
    case STORE_OK: {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("OK"));
        json_object_object_add(o, "deviceid", json_object_new_string(req->deviceid));
        json_object_object_add(o, "key", json_object_new_string(key));
        json_object_object_add(
            o, "message", json_object_new_string("put this key on the device now: it is not shown again"));
        response_json(res, 201, o);
        break;
    }
    case STORE_NOT_FOUND: response_error(res, 404, "no device %s", req->deviceid); break;
    default: respond_store_error(app, res, st);
    }
}
