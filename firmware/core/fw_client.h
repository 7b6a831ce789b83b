/* fw_client.h: the device client core: register, poll for configuration, send encrypted
 * telemetry. Clock-driven and non-blocking, so one device loop or an event loop of thousands can host it.
 *
 * Driving it:
 *   - call fw_step(ctx, now_ms) when the time it last returned has come, after every
 *     fw_http_done() and after fw_submit_reading(); now_ms is any monotonic millisecond clock;
 *   - fw_step() starts at most one HTTP request at a time through platform->http_start();
 *     the host answers with fw_http_done() (from inside http_start() too, for blocking ports);
 *   - nothing inside ever sleeps; memory is allocated once, by fw_new().
 */
#ifndef FW_CLIENT_H
#define FW_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "fw_envelope.h"
#include "fw_platform.h"

/* fw_step(): nothing to do until fw_http_done() (a request is out) or ever (refused). */
#define FW_NEVER UINT64_MAX
/* Largest server response body the core reads (the device's configuration lives in it). */
#ifndef FW_RX_MAX
#define FW_RX_MAX 2048
#endif
#define FW_TX_MAX     1024
#define FW_ID_MAX     64
#define FW_IPADDR_MAX 45
#define FW_SSID_MAX   32
#define FW_SERVER_MAX 256 /* fw_config.server */
#define FW_PATH_MAX   256 /* a request's path and query */

struct fw_config {
    const char *device_id;      /* 1-64 of [A-Za-z0-9._:-], e.g. the MAC address */
    const char *ipaddr;         /* reported at registration, up to FW_IPADDR_MAX bytes */
    const char *ssid;           /* up to FW_SSID_MAX bytes */
    struct fw_envelope_key key; /* the device key and envelope version for telemetry */
    uint32_t applied_cfgsn;     /* the configuration the device already runs (0: none) */
    uint32_t poll_interval_s;   /* until the server says otherwise; 0 means 60 */
    /* 1: sign every call with the key (fw_auth.h) and take only sealed configurations, as a
     * keyed device must; needs the platform's sha256 and aes_gcm_decrypt. */
    int sign;
    /* The device's base URL ("http://host:port"): an update offered as an absolute URL must be
     * on it. NULL: only URLs relative to the server are taken. */
    const char *server;
};

enum fw_event {
    FW_EV_REGISTERED,     /* 201 or 200 to the registration */
    FW_EV_REFUSED,        /* 403 to the registration: the client stops */
    FW_EV_POLL_OK,        /* 200 to a poll */
    FW_EV_POLL_UNCHANGED, /* 304 to a poll */
    FW_EV_CONFIG_APPLIED,
    FW_EV_CONFIG_FAILED, /* the callback refused it; it comes again with the next poll */
    FW_EV_READING_ACCEPTED,
    FW_EV_READING_REFUSED, /* dropped: the server will not take it */
    FW_EV_UPDATE_BOOTING,  /* an image was stored, verified and is being booted */
    FW_EV_UPDATE_FAILED,   /* a stored image failed its SHA-256 or could not be booted */
    FW_EV_RETRY,           /* a request failed; the next try waits for a backoff */
};

struct fw_app {
    void *user_data;
    /* A configuration with a higher cfgsn: `data` is the raw JSON text of the server's "data",
     * NUL-terminated, valid during the call. Return 0 once applied: only then is cfgsn reported
     * as applied; otherwise it is offered again after the next poll. */
    int (*apply_config)(void *user_data, uint32_t cfgsn, const char *data, size_t len);
    void (*event)(void *user_data, enum fw_event ev); /* optional */
};

enum fw_state {
    FW_STATE_UNREGISTERED,
    FW_STATE_REGISTERED,
    FW_STATE_REFUSED,
    FW_STATE_REBOOTING, /* image_boot() simulated a restart: the host starts a new context */
};

struct fw_ctx;

/* Copies what it needs from the three structs; reads the SEQN record from storage.
 * Returns NULL on an invalid configuration or platform, or without memory. */
struct fw_ctx *fw_new(const struct fw_config *cfg, const struct fw_platform *plat, const struct fw_app *app);
void fw_free(struct fw_ctx *ctx);

/* Does what is due at now_ms; returns the time to be called again, or FW_NEVER. */
uint64_t fw_step(struct fw_ctx *ctx, uint64_t now_ms);

/* The answer to the request in flight; the body is already in req->resp_body. Only records it
 * (fw_step() acts on it). Returns 0, or -1 if no request is waiting for an answer. */
int fw_http_done(struct fw_ctx *ctx, const struct fw_http_response *resp);

/* A piece of a streamed answer (req->stream: a firmware image), in order, before fw_http_done():
 * the HTTP status, the first byte's offset from Content-Range (-1 without one) and the bytes.
 * Returns 0 to go on, -1 to stop the transfer (the host then ends it and answers as it ended). */
int fw_http_body(struct fw_ctx *ctx, int status, int64_t range_start, const uint8_t *data, size_t len);

/* Queues one reading to send: a JSON object's text, e.g. {"data":{"value":300}}, at most
 * FW_READING_MAX bytes; the core adds "SEQN". One reading is held at a time.
 * Returns 0, or -1 if it is not a JSON object, too long, or a reading is still pending. */
int fw_submit_reading(struct fw_ctx *ctx, const char *json, size_t len);

enum fw_state fw_get_state(const struct fw_ctx *ctx);
uint32_t fw_applied_cfgsn(const struct fw_ctx *ctx);
/* The version the device runs, as it reports it ("" for a device without updates). */
const char *fw_running_version(const struct fw_ctx *ctx);

#endif
