/* The policy of device calls (ARCHITECTURE.md "Device trust"): which must carry a proof, the
 * proof checked against the device's secret, and the one answer every refused call gets. */
#ifndef PROVD_DEVICE_TRUST_H
#define PROVD_DEVICE_TRUST_H

#include "app.h"

#define DEVICE_CALL_REFUSED "device authentication failed" /* the 401's message */

/* What a device call showed of its caller. */
struct device_caller {
    bool known;            /* the device exists: trust holds its row's facts */
    bool proved;           /* the call carried a valid, fresh proof */
    struct device_trust trust;
};

enum device_call_kind {
    DEVICE_CALL_READ,      /* a heartbeat: a proof may be replayed within its window */
    DEVICE_CALL_WRITE,     /* a registration: a proof changes state once (store_device_signed()) */
    DEVICE_CALL_READING,   /* telemetry: the proof is optional here; ingest.c decides by envelope */
};

/* Checks the call's proof, if any, and whether the device's calls of this kind must carry one.
 * true: the handler goes on (c says what was shown: c->known, the device was read into c->trust);
 * false: res holds the answer (the uniform 401, or a database failure). An unknown device's
 * unsigned call passes (the handler answers it) but under PROVD_DEVICE_AUTH=required. An unsigned
 * reading passes unread (ingest.c decides by its envelope). */
bool device_call_check(struct app *app, const struct request *req, enum device_call_kind kind,
                       struct response *res, struct device_caller *c);
/* device_call_check() for a call whose store call reads the device's trust with what it serves
 * (enum store_caller, of device_store_caller(): a heartbeat, an image download): an unsigned call
 * under the optional policy, and a signed one when proved_after (the store call can take
 * STORE_CALLER_TO_PROVE: a heartbeat with If-None-Match, a download), go on without the device
 * being read (c: nothing known or proved). The store checks an unsigned caller itself (the
 * handler turns STORE_UNPROVED into device_call_refuse()); a signed one's proof is checked by
 * device_read_prove() against the trust the store's read gave. */
bool device_read_check(struct app *app, const struct request *req, bool proved_after, struct response *res,
                       struct device_caller *c);
enum store_caller device_store_caller(const struct request *req, const struct device_caller *c);
/* The check of device_call_check() (a read's: DEVICE_CALL_READ), against the trust t the store's
 * read gave (NULL: an unknown device). */
bool device_read_prove(struct app *app, const struct request *req, struct response *res,
                       struct device_caller *c, const struct device_trust *t);
/* The secret a device's calls are checked with: its own key, else the fleet key; NULL: none. */
const char *device_secret(const struct app *app, const struct device_trust *t);
/* The one answer to every refused device call (bad, stale, replayed or missing proof, downgrade):
 * 401, a fixed body, and the server's clock for a device to sign with. */
void device_call_refuse(struct app *app, struct response *res);
/* The end of a device's call: its secret wiped; a proved call's answer gets the server's clock. */
void device_call_finish(struct app *app, struct response *res, struct device_caller *c);
/* An Arduino update client's call (GET /api/ota) for deviceid, whose trust t the store's read gave,
 * which can carry nothing but HTTP Basic: where a proof would be needed (as device_call_check()
 * decides), the Authorization must be the device id and device_ota_password() of its secret.
 * true: go on (c says what was shown); false: res holds the uniform 401. */
bool device_basic_check(struct app *app, const struct request *req, const char *deviceid,
                        const struct device_trust *t, struct response *res, struct device_caller *c);
/* Adds the server's clock (DEVICE_AUTH_TIME_HEADER) to an answer. */
void device_call_time(struct app *app, struct response *res);

#endif
