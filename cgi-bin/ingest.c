/* One telemetry reading taken (see ingest.h): every refusal before the SEQN check gets the same
 * answer, so the answers are no padding or tag oracle. */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "e2ee.h"
#include "isotime.h"
#include "device_trust.h"
#include "log.h"

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

/* Whether a message in this envelope needs more than itself: v1 is not authenticated, so it needs
 * the call's proof from a device that signs (or under `required`), and is a downgrade after v2. */
static bool envelope_refused(const struct config *config, const struct device_trust *t, int64_t envelope,
                             bool proved)
{
    if (envelope == DEVICE_TRUST_V2)
        return false;
    bool needs_proof = config->device_auth == DEVICE_AUTH_REQUIRED || (t->trust & DEVICE_TRUST_SIGNED);
    return (t->trust & DEVICE_TRUST_V2) || (needs_proof && !proved);
}

static enum ingest_outcome open_and_store(struct store *s, const struct config *config, const char *deviceid,
                                          const struct device_trust *t, const char *body, size_t len,
                                          int64_t now, bool proved, struct ingest_result *r)
{
    char aad[E2EE_MAX_AAD + 1];
    snprintf(r->state, sizeof r->state, "%s", t->state);
    if (strcmp(r->state, "accepted") != 0)
        return INGEST_NOT_ACCEPTED;
    const char *secret = t->key[0] ? t->key : config->fleet_key;
    if (!secret)
        return INGEST_NO_KEY;

    struct e2ee_msg *msg = NULL;
    int64_t ts = TS_NONE;
    enum e2ee_err err = e2ee_v2_aad(deviceid, t->epoch, aad) ? e2ee_open(aad, secret, body, len, &msg) : E2EE_ERR_ARGS;
    bool readable = err == E2EE_OK && read_reading(e2ee_msg_json(msg), &r->seqn, &ts);
    if (!readable) {
        r->reason = err;
        e2ee_msg_free(msg);
        return INGEST_UNREADABLE;
    }
    int64_t envelope = e2ee_msg_envelope(msg) == E2EE_V2 ? DEVICE_TRUST_V2 : DEVICE_TRUST_V1;
    if (envelope_refused(config, t, envelope, proved)) {
        r->reason = (t->trust & DEVICE_TRUST_V2) != 0;
        e2ee_msg_free(msg);
        return INGEST_UNAUTHENTICATED;
    }
    enum store_status st = store_reading_add(s, deviceid, r->seqn, now, ts, e2ee_msg_text(msg), e2ee_msg_len(msg),
                                             t->epoch, envelope);
    e2ee_msg_free(msg);
    switch (st) {
    case STORE_OK: return INGEST_STORED;
    case STORE_STALE: return INGEST_STALE;
    case STORE_NOT_FOUND: return INGEST_UNKNOWN;
    default: return store_failed(s, st);
    }
}

void ingest_reading(struct store *s, const struct config *config, const char *deviceid, const char *body,
                    size_t len, int64_t now, bool proved, struct ingest_result *r)
{
    struct device_trust t;
    enum store_status st = store_device_trust(s, deviceid, &t);
    if (st == STORE_OK) {
        ingest_reading_known(s, config, deviceid, &t, body, len, now, proved, r);
    } else {
        memset(r, 0, sizeof *r);
        r->outcome = st == STORE_NOT_FOUND ? INGEST_UNKNOWN : store_failed(s, st);
    }
    explicit_bzero(&t, sizeof t);
}

void ingest_reading_known(struct store *s, const struct config *config, const char *deviceid,
                          const struct device_trust *t, const char *body, size_t len, int64_t now, bool proved,
                          struct ingest_result *r)
{
    memset(r, 0, sizeof *r);
    r->outcome = open_and_store(s, config, deviceid, t, body, len, now, proved, r);
}

const char *ingest_reason(const struct ingest_result *r)
{
    if (r->outcome == INGEST_UNAUTHENTICATED)
        return r->reason ? "v1 after v2" : "v1 without a proof";
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
    case INGEST_UNAUTHENTICATED: response_error(res, 401, DEVICE_CALL_REFUSED); break;
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
    case INGEST_IN_DOUBT:
        response_error(res, 503, "the reading may not have been stored: send it again (a 409 then means it was)");
        response_header(res, "Retry-After", "%d", DATABASE_RETRY_AFTER_S);
        break;
    default: response_error(res, 500, "internal error: the database failed (see the server log)");
    }
}
