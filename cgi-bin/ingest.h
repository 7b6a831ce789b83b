/* Taking one telemetry reading: the device's state and key, the E2EE envelope opened, the SEQN
 * checked and the reading stored. The worker does this itself, or the stack's writer (writer.h)
 * does it for a batch of workers' readings (ingest_batch()). */
#ifndef PROVD_INGEST_H
#define PROVD_INGEST_H

#include <stdint.h>

#include "app.h"

enum ingest_outcome {
    INGEST_STORED,       /* 201 */
    INGEST_UNREADABLE,   /* 400: not an envelope this device's key opens, or no SEQN */
    INGEST_UNAUTHENTICATED, /* 401: v1 without the proof this device's calls need, or v1 after v2 */
    INGEST_NOT_ACCEPTED, /* 403: the device is pending or rejected */
    INGEST_NO_KEY,       /* 403: neither a device key nor a fleet key */
    INGEST_UNKNOWN,      /* 404 */
    INGEST_STALE,        /* 409: SEQN not above the last accepted one */
    INGEST_STORE_FAILED, /* 500 */
    INGEST_UNAVAILABLE,  /* 503: the database cannot be reached now */
    INGEST_IN_DOUBT,     /* 503: the stack's writer took it and stopped before answering */
    INGEST__COUNT
};

/* What the writer answers a worker (writer.h copies each field into its message). */
struct ingest_result {
    int32_t outcome; /* enum ingest_outcome */
    char state[16];  /* INGEST_NOT_ACCEPTED: the device's state */
    int64_t seqn;    /* INGEST_STORED, INGEST_STALE */
    /* INGEST_UNREADABLE: the enum e2ee_err, E2EE_OK when the JSON was wrong; INGEST_UNAUTHENTICATED:
     * 1 for v1 after v2, 0 for v1 without a proof */
    int32_t reason;
};

/* Takes the reading body (len bytes) of deviceid, received at now, into the store s. proved: the
 * call carried a valid proof (device_trust.h). A v2 envelope is its own proof; a v1 one needs
 * the call's when the device has signed before or PROVD_DEVICE_AUTH is required, and is
 * refused once the device has sent v2. */
void ingest_reading(struct store *s, const struct config *config, const char *deviceid, const char *body,
                    size_t len, int64_t now, bool proved, struct ingest_result *r);
/* ingest_reading() of a device whose trust t was read just before on s (device_call_check()). */
void ingest_reading_known(struct store *s, const struct config *config, const char *deviceid,
                          const struct device_trust *t, const char *body, size_t len, int64_t now, bool proved,
                          struct ingest_result *r);
/* A reading for ingest_batch(): ingest_reading()'s arguments, and its result. */
struct ingest_item {
    const char *deviceid;
    const char *body;
    size_t len;
    int64_t now;
    bool proved;
    struct ingest_result result;
};
/* Takes n readings, each as ingest_reading() does, with their devices read in one step
 * (store_devices_trust(): one statement on PostgreSQL) and the readings stored together
 * (store_readings_add(), in rounds of different devices, so that each device's readings are
 * taken in the order given): the stack's writer's batch. */
void ingest_batch(struct store *s, const struct config *config, struct ingest_item *items, size_t n);
/* Why a reading was unreadable or unauthenticated, for the log (never sent to the device: no
 * oracle). */
const char *ingest_reason(const struct ingest_result *r);
/* The answer to the device. */
void ingest_respond(const struct ingest_result *r, struct response *res);

#endif
