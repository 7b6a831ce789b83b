/* One telemetry reading taken (see ingest.h): every refusal before the SEQN check gets the same
 * answer, so the answers are no padding or tag oracle. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2ee.h"
#include "isotime.h"
#include "device_trust.h"
#include "log.h"

#define SEQN_MAX  ((int64_t)1 << 53) /* the largest integer every JSON reader keeps exact */
#define ROUND_MAX 64                  /* readings stored in one store_readings_add() at most */

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

/* Opens deviceid's reading body (len bytes) received at now and checks it against the device's
 * trust t: INGEST_STORED when it is ready to be stored as *ready, whose text lies in *msg (for
 * the caller to free, whatever the outcome); else the refusal. r gets the outcome and what the
 * answer tells. */
static enum ingest_outcome open_reading(const struct config *config, const char *deviceid,
                                        const struct device_trust *t, const char *body, size_t len, int64_t now,
                                        bool proved, struct ingest_result *r, struct e2ee_msg **msg,
                                        struct reading_new *ready)
{
    char aad[E2EE_MAX_AAD + 1];
    memset(r, 0, sizeof *r);
    *msg = NULL;
    snprintf(r->state, sizeof r->state, "%s", t->state);
    if (strcmp(r->state, "accepted") != 0)
        return r->outcome = INGEST_NOT_ACCEPTED;
    const char *secret = t->key[0] ? t->key : config->fleet_key;
    if (!secret)
        return r->outcome = INGEST_NO_KEY;

    int64_t ts = TS_NONE;
    enum e2ee_err err = e2ee_v2_aad(deviceid, t->epoch, aad) ? e2ee_open(aad, secret, body, len, msg) : E2EE_ERR_ARGS;
    if (err != E2EE_OK || !read_reading(e2ee_msg_json(*msg), &r->seqn, &ts)) {
        r->reason = err;
        return r->outcome = INGEST_UNREADABLE;
    }
    int64_t envelope = e2ee_msg_envelope(*msg) == E2EE_V2 ? DEVICE_TRUST_V2 : DEVICE_TRUST_V1;
    if (envelope_refused(config, t, envelope, proved)) {
        r->reason = (t->trust & DEVICE_TRUST_V2) != 0;
        return r->outcome = INGEST_UNAUTHENTICATED;
    }
    *ready = (struct reading_new){deviceid, r->seqn, now, ts, e2ee_msg_text(*msg), e2ee_msg_len(*msg), t->epoch,
                                  envelope};
    return r->outcome = INGEST_STORED;
}

/* What became of a reading the store was given. */
static enum ingest_outcome stored(struct store *s, enum store_status st, struct ingest_result *r)
{
    switch (st) {
    case STORE_OK: return INGEST_STORED;
    case STORE_REFUSED: /* rejected (or sent back to pending) since its trust was read */
        snprintf(r->state, sizeof r->state, "not accepted");
        return INGEST_NOT_ACCEPTED;
    case STORE_STALE: return INGEST_STALE;
    case STORE_NOT_FOUND: return INGEST_UNKNOWN;
    default: return store_failed(s, st);
    }
}

/* Stores a round's k readings, of different devices (round[j] is ready[at[j]], whose result is
 * r[at[j]]). */
static void store_round(struct store *s, const struct reading_new *round, const size_t *at, size_t k,
                        struct ingest_result *r)
{
    enum store_status status[ROUND_MAX];
    store_readings_add(s, round, k, status);
    for (size_t j = 0; j < k; j++) {
        r[at[j]].outcome = stored(s, status[j], &r[at[j]]);
        r[at[j]].seqn = round[j].seqn;
    }
}

/* Stores n readings, r[i] getting ready[i]'s outcome and SEQN: in rounds of different devices
 * (store_readings_add()), a device's later readings in later rounds, so that each device's are
 * taken in the order given. */
static void store_readings(struct store *s, const struct reading_new *ready, size_t n, struct ingest_result *r)
{
    struct reading_new round[ROUND_MAX];
    size_t at[ROUND_MAX], k = 0;
    for (size_t i = 0; i < n; i++) {
        bool again = false; /* the device's next reading: the next round */
        for (size_t j = 0; j < k && !again; j++)
            again = strcmp(round[j].deviceid, ready[i].deviceid) == 0;
        if (again || k == ROUND_MAX) {
            store_round(s, round, at, k, r);
            k = 0;
        }
        round[k] = ready[i];
        at[k++] = i;
    }
    if (k > 0)
        store_round(s, round, at, k, r);
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
    struct e2ee_msg *msg;
    struct reading_new ready;
    if (open_reading(config, deviceid, t, body, len, now, proved, r, &msg, &ready) == INGEST_STORED)
        store_readings(s, &ready, 1, r);
    e2ee_msg_free(msg);
}

/* ingest_batch()'s work space: per reading its device's trust, its opened message, and the
 * readings ready to be stored with where their results go. */
struct batch {
    const char **ids;
    struct device_trust *trust;
    enum store_status *found;
    struct e2ee_msg **msg;
    struct reading_new *ready;
    struct ingest_result *stored;
    size_t *item;
};

static void batch_free(struct batch *b, size_t n)
{
    if (b->trust)
        explicit_bzero(b->trust, n * sizeof *b->trust);
    for (size_t i = 0; b->msg && i < n; i++)
        e2ee_msg_free(b->msg[i]);
    free(b->ids);
    free(b->trust);
    free(b->found);
    free(b->msg);
    free(b->ready);
    free(b->stored);
    free(b->item);
}

void ingest_batch(struct store *s, const struct config *config, struct ingest_item *items, size_t n)
{
    struct batch b = {calloc(n, sizeof *b.ids), calloc(n, sizeof *b.trust), calloc(n, sizeof *b.found),
                      calloc(n, sizeof *b.msg), calloc(n, sizeof *b.ready), calloc(n, sizeof *b.stored),
                      calloc(n, sizeof *b.item)};
    bool have = b.ids && b.trust && b.found && b.msg && b.ready && b.stored && b.item;
    for (size_t i = 0; i < n; i++) {
        items[i].result = (struct ingest_result){.outcome = INGEST_STORE_FAILED};
        if (have)
            b.ids[i] = items[i].deviceid;
    }
    if (have)
        store_devices_trust(s, b.ids, n, b.trust, b.found);
    size_t k = 0; /* readings ready */
    for (size_t i = 0; have && i < n; i++) {
        struct ingest_item *it = &items[i];
        if (b.found[i] != STORE_OK)
            it->result.outcome = b.found[i] == STORE_NOT_FOUND ? INGEST_UNKNOWN : store_failed(s, b.found[i]);
        else if (open_reading(config, it->deviceid, &b.trust[i], it->body, it->len, it->now, it->proved,
                              &it->result, &b.msg[i], &b.ready[k]) == INGEST_STORED)
            b.item[k++] = i;
    }
    if (k > 0)
        store_readings(s, b.ready, k, b.stored);
    for (size_t j = 0; j < k; j++) {
        items[b.item[j]].result.outcome = b.stored[j].outcome;
        items[b.item[j]].result.seqn = b.stored[j].seqn;
    }
    batch_free(&b, n);
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
