/* Device call policy (device_trust.h): PROVD_DEVICE_AUTH, the proof of device_auth.h checked
 * against the device's secret, the trust bits of its row, and the uniform 401. */
#include "device_trust.h"

#include <string.h>

#include "device_auth.h"

const char *device_secret(const struct app *app, const struct device_trust *t)
{
    return t->key[0] ? t->key : app->config.fleet_key;
}

void device_call_time(struct app *app, struct response *res)
{
    response_header(res, DEVICE_AUTH_TIME_HEADER, "%lld", (long long)app->now());
}

void device_call_finish(struct app *app, struct response *res, struct device_caller *c)
{
    if (c->proved && res->status != 401)
        device_call_time(app, res);
    explicit_bzero(c, sizeof *c);
}

void device_call_refuse(struct app *app, struct response *res)
{
    response_reset(res);
    device_call_time(app, res);
    response_error(res, 401, DEVICE_CALL_REFUSED);
}

/* Whether a call of this kind may have to carry a proof: all but telemetry, which decides by
 * envelope (ingest.c). */
static bool kind_takes_proof(enum device_call_kind kind)
{
    return kind != DEVICE_CALL_READING;
}

/* Whether the device's calls of this kind must carry a proof: under `required` all that take one;
 * else a keyed device's, or one that has signed before. */
static bool proof_needed(const struct app *app, const struct device_caller *c, enum device_call_kind kind)
{
    if (!kind_takes_proof(kind))
        return false;
    return app->config.device_auth == DEVICE_AUTH_REQUIRED ||
           (c->known && device_must_sign(c->trust.key[0], c->trust.trust));
}

/* The proof checked; the device marked as signing (once), and a state-changing proof used up. */
static enum store_status check_proof(struct app *app, const struct request *req, enum device_call_kind kind,
                                     const struct device_proof *proof, struct device_caller *c)
{
    const char *secret = c->known ? device_secret(app, &c->trust) : NULL;
    struct device_call call = {req->method, req->path, req->query, req->body, req->body_len};
    if (!secret || device_proof_check(secret, &call, proof, app->now()) != DEVICE_PROOF_OK)
        return STORE_STALE;
    bool writes = kind == DEVICE_CALL_WRITE;
    if (writes || !(c->trust.trust & DEVICE_TRUST_SIGNED)) {
        enum store_status st = store_device_signed(app->store, req->deviceid, proof->t, writes);
        if (st != STORE_OK)
            return st;
        c->trust.trust |= DEVICE_TRUST_SIGNED;
    }
    c->proved = true;
    return STORE_OK;
}

/* The call's proof, if it has one, parsed into *proof; false (res: the 401) when it does not parse. */
static bool parse_proof(struct app *app, const struct request *req, struct response *res,
                        struct device_proof *proof)
{
    if (!req->device_auth || device_proof_parse(req->device_auth, strlen(req->device_auth), proof))
        return true;
    device_call_refuse(app, res);
    return false;
}

/* The check once c says what the device's row holds (c->known, c->trust); proof: the call's,
 * parsed (parse_proof()), NULL when it has none. */
static bool decide(struct app *app, const struct request *req, enum device_call_kind kind,
                   const struct device_proof *proof, struct response *res, struct device_caller *c)
{
    enum store_status st;
    if (proof)
        st = check_proof(app, req, kind, proof, c);
    else
        st = proof_needed(app, c, kind) ? STORE_STALE : STORE_OK;
    if (st == STORE_STALE)
        device_call_refuse(app, res);
    else if (st != STORE_OK)
        respond_store_error(app, res, st);
    return st == STORE_OK;
}

bool device_call_check(struct app *app, const struct request *req, enum device_call_kind kind,
                       struct response *res, struct device_caller *c)
{
    struct device_proof proof;
    memset(c, 0, sizeof *c);
    if (!parse_proof(app, req, res, &proof)) /* refused before any lookup */
        return false;
    if (!req->device_auth && !kind_takes_proof(kind)) /* nothing the device's row could decide */
        return true;
    enum store_status st = store_device_trust(app->store, req->deviceid, &c->trust);
    if (st != STORE_OK && st != STORE_NOT_FOUND) {
        respond_store_error(app, res, st);
        return false;
    }
    c->known = st == STORE_OK;
    return decide(app, req, kind, req->device_auth ? &proof : NULL, res, c);
}

bool device_read_check(struct app *app, const struct request *req, bool proved_after, struct response *res,
                       struct device_caller *c)
{
    bool unchecked = req->device_auth ? proved_after : app->config.device_auth != DEVICE_AUTH_REQUIRED;
    if (!unchecked)
        return device_call_check(app, req, DEVICE_CALL_READ, res, c);
    memset(c, 0, sizeof *c);
    return true;
}

enum store_caller device_store_caller(const struct request *req, const struct device_caller *c)
{
    if (c->proved)
        return STORE_CALLER_PROVED;
    return req->device_auth ? STORE_CALLER_TO_PROVE : STORE_CALLER_UNSIGNED;
}

bool device_read_prove(struct app *app, const struct request *req, struct response *res,
                       struct device_caller *c, const struct device_trust *t)
{
    struct device_proof proof;
    if (!parse_proof(app, req, res, &proof))
        return false;
    c->known = t != NULL;
    if (t)
        c->trust = *t;
    return decide(app, req, DEVICE_CALL_READ, req->device_auth ? &proof : NULL, res, c);
}

bool device_basic_check(struct app *app, const struct request *req, const char *deviceid,
                        const struct device_trust *t, struct response *res, struct device_caller *c)
{
    memset(c, 0, sizeof *c);
    c->trust = *t;
    c->known = true;
    if (!proof_needed(app, c, DEVICE_CALL_READ))
        return true;
    const char *secret = device_secret(app, &c->trust);
    c->proved = secret && device_ota_basic_check(secret, deviceid, req->authorization);
    if (!c->proved) {
        device_call_refuse(app, res);
        explicit_bzero(c, sizeof *c);
    }
    return c->proved;
}
