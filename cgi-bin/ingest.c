/* One telemetry reading taken (see ingest.h): every refusal before the SEQN check gets the same
 * answer, so the answers are no padding or tag oracle. */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "e2ee.h"
#include "isotime.h"
#include "log.h"
#include "secret.h"

#define SEQN_MAX ((int64_t)1 << 53) /* the largest integer every JSON reader keeps exact */

/* The reading must be a JSON object with an integer SEQN and, optionally, ts (the device's
 * clock: Unix seconds or an ISO-8601 UTC string). */
static bool read_reading(struct json_object *root, int64_t *seqn, int64_t *ts)
{
    struct json_object *v;
    bool ok = json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "SEQN", &v) &&
              json_object_is_type(v, json_type_int);
    if (ok) {
        *seqn = json_object_get_int64(v);
        ok = *seqn >= 0 && *seqn <= SEQN_MAX;
    }
    *ts = TS_NONE;
    if (ok && json_object_object_get_ex(root, "ts", &v)) {
        if (json_object_is_type(v, json_type_int))
            *ts = json_object_get_int64(v);
        else
            ok = json_object_is_type(v, json_type_string) && isotime_parse(json_object_get_string(v), ts);
    }
    return ok;
}

/* Logged here, where the store is: this may be the stack's writer, which knows no request. */
static enum ingest_outcome store_failed(struct store *s, enum store_status st)
{
    log_event("error", "database", NULL, NULL, "%s", store_errmsg(s));
    return st == STORE_UNAVAILABLE ? INGEST_UNAVAILABLE : INGEST_STORE_FAILED;
}

static enum ingest_outcome open_and_store(struct store *s, const struct config *config, const char *deviceid,
                                          const char *body, size_t len, int64_t now, struct ingest_result *r)
{
    char key[SECRET_MAX_LEN + 1];
    enum store_status st = store_device_secret(s, deviceid, r->state, sizeof r->state, key, sizeof key);
    switch (st) {
    case STORE_OK: break;
    case STORE_NOT_FOUND: return INGEST_UNKNOWN;
    default: return store_failed(s, st);
    }
    if (strcmp(r->state, "accepted") != 0)
        return INGEST_NOT_ACCEPTED;
    const char *secret = key[0] ? key : config->fleet_key;
    if (!secret)
        return INGEST_NO_KEY;

    struct e2ee_msg *msg = NULL;
    int64_t ts = TS_NONE;
    enum e2ee_err err = e2ee_open(deviceid, secret, body, len, &msg);
    bool readable = err == E2EE_OK && read_reading(e2ee_msg_json(msg), &r->seqn, &ts);
    explicit_bzero(key, sizeof key);
    if (!readable) {
        r->reason = err;
        e2ee_msg_free(msg);
        return INGEST_UNREADABLE;
    }
    st = store_reading_add(s, deviceid, r->seqn, now, ts, e2ee_msg_text(msg), e2ee_msg_len(msg));
    e2ee_msg_free(msg);
    switch (st) {
    case STORE_OK: return INGEST_STORED;
    case STORE_STALE: return INGEST_STALE;
    case STORE_NOT_FOUND: return INGEST_UNKNOWN;
    default: return store_failed(s, st);
    }
}

void ingest_reading(struct store *s, const struct config *config, const char *deviceid, const char *body,
                    size_t len, int64_t now, struct ingest_result *r)
{
    memset(r, 0, sizeof *r);
    r->outcome = open_and_store(s, config, deviceid, body, len, now, r);
}

const char *ingest_reason(const struct ingest_result *r)
{
    return r->reason != E2EE_OK ? e2ee_strerror((enum e2ee_err)r->reason)
                                : "no object with an integer SEQN (or a bad ts)";
}

void ingest_respond(const struct ingest_result *r, struct response *res)
{
    switch (r->outcome) {
    case INGEST_STORED: {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("OK"));
        json_object_object_add(o, "seqn", json_object_new_int64(r->seqn));
        response_json(res, 201, o);
        break;
    }
    case INGEST_UNREADABLE: response_error(res, 400, "unreadable telemetry message"); break;
    case INGEST_NOT_ACCEPTED:
        response_error(res, 403, "the device is %.15s: an admin must accept it before it logs telemetry",
                       r->state);
        break;
    case INGEST_NO_KEY:
        response_error(res, 403,
                       "the device has no telemetry key: set one (provctl device key, or POST .../key)");
        break;
    case INGEST_UNKNOWN: response_error(res, 404, "Device NOT Registered"); break;
    case INGEST_STALE:
        response_error(res, 409, "SEQN %lld is not above the last accepted one: a replay, or an old message",
                       (long long)r->seqn);
        break;
    case INGEST_UNAVAILABLE:
        response_error(res, 503, "the database is unavailable: try again shortly");
        response_header(res, "Retry-After", "%d", DATABASE_RETRY_AFTER_S);
        break;
    default: response_error(res, 500, "internal error: the database failed (see the server log)");
    }
}
