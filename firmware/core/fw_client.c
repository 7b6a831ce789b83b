/* fw_client.c: the client state machine: one request at a time, chosen by fw_step() from what is
 * due (register, poll, telemetry, a firmware image), failures retried after an exponential backoff
 * with jitter. */
#include "fw_client.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_auth.h"
#include "fw_json.h"
#include "fw_seqn.h"
#include "fw_str.h"
#include "fw_update.h"

#define BACKOFF_BASE_MS 1000u
#define BACKOFF_MAX_MS  300000u
#define DEFAULT_POLL_S  60u
#define MAX_POLL_S      86400u
/* A synchronous host answers inside http_start(): fw_step() handles that many in one call. */
#define MAX_ROUNDS 4
/* 409s in a row for fresh SEQNs before a reading is given up (each skips twice as far). */
#define MAX_REPLAY_SKIPS 20

#if defined(__GNUC__)
#define FW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FW_PRINTF(f, a)
#endif

enum request { REQ_NONE, REQ_REGISTER, REQ_POLL, REQ_TELEMETRY, REQ_IMAGE };

struct reading {
    bool pending;
    bool has_seqn;
    bool uncertain; /* an attempt with this SEQN may have been stored (no clear answer) */
    unsigned skips; /* 409s answered by skipping ahead */
    bool refetched; /* a 400 sent the device for its SEQN epoch once (see on_telemetry()) */
    uint32_t seqn;
    size_t len;
    char text[FW_READING_MAX];
};

struct fw_ctx {
    struct fw_platform plat;
    struct fw_app app;
    char id[FW_ID_MAX + 1];
    char ipaddr[FW_IPADDR_MAX + 1];
    char ssid[FW_SSID_MAX + 1];
    struct fw_envelope_key key;

    enum fw_state state;
    uint32_t applied_cfgsn;
    uint32_t poll_interval_ms;
    uint64_t poll_due;
    uint64_t retry_at; /* no request before this (backoff) */
    unsigned failures; /* in a row; reset by a successful poll or telemetry */
    struct fw_seqn seqn;
    struct reading reading;

    enum request inflight;
    bool answered;
    struct fw_http_response resp;
    struct fw_http_request req;
    struct fw_http_header headers[2];
    char path[FW_PATH_MAX];
    char etag[16];
    char tx[FW_TX_MAX];
    char rx[FW_RX_MAX + 1]; /* + a NUL after the config text handed to the application */
    struct fw_envelope_scratch scratch;

    /* Device trust (sign): the proof's keys and clock, the opened configuration, and the SEQN
     * epoch its v2 associated data names, "<id>" in epoch 0, else "<id>#<epoch>". */
    bool sign;
    bool has_epoch; /* a sealed configuration told it since boot */
    struct fw_auth auth;
    char aad[FW_ID_MAX + 12];
    char config[FW_RX_MAX + 1];

    /* Firmware updates (the platform has the image functions): the running version, reported
     * on every call, and the offered image's download. */
    bool updates;
    char running[FW_VERSION_MAX + 1];
    char server[FW_SERVER_MAX + 1];
    char range[32]; /* "bytes=N-" */
    struct fw_update update;
};

static void fw_log(const struct fw_ctx *ctx, enum fw_log_level level, const char *fmt, ...) FW_PRINTF(3, 4);

static void fw_log(const struct fw_ctx *ctx, enum fw_log_level level, const char *fmt, ...)
{
    char msg[128];
    va_list ap;

    if (!ctx->plat.log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->plat.log(ctx->plat.user_data, level, msg);
}

static void emit(const struct fw_ctx *ctx, enum fw_event ev)
{
    if (ctx->app.event)
        ctx->app.event(ctx->app.user_data, ev);
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    size_t i;

    if (n == 0 || n > FW_ID_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* Copies a NUL-terminated string into a field of `cap` bytes; false if it does not fit. */
static bool copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : cap;

    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static bool platform_complete(const struct fw_platform *p)
{
    return p->http_start && p->random && p->aes_cbc_encrypt && p->aes_gcm_encrypt && p->store_read &&
           p->store_write;
}

/* Whether an update-capable platform has every update function. */
static bool update_ops_complete(const struct fw_update_ops *u)
{
    return u->running_version && u->image_begin && u->image_write && u->image_finish && u->image_boot &&
           u->record_read && u->record_write;
}

/* The running version from the platform; false when it has none that can be reported. */
static bool read_running(struct fw_ctx *ctx)
{
    int n = ctx->plat.update->running_version(ctx->plat.user_data, ctx->running, sizeof ctx->running);

    if (n < 0 || (size_t)n >= sizeof ctx->running || !fw_version_valid(ctx->running, (size_t)n))
        return false;
    ctx->running[n] = '\0';
    return true;
}

struct fw_ctx *fw_new(const struct fw_config *cfg, const struct fw_platform *plat, const struct fw_app *app)
{
    struct fw_ctx *ctx;
    uint32_t poll_s = cfg->poll_interval_s ? cfg->poll_interval_s : DEFAULT_POLL_S;

    if (!platform_complete(plat) || (plat->update && !update_ops_complete(plat->update)) || !app->apply_config ||
        !cfg->device_id || !valid_id(cfg->device_id) || fw_envelope_key_valid(&cfg->key) != 0 || poll_s > MAX_POLL_S)
        return NULL;
    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->plat = *plat;
    ctx->app = *app;
    ctx->key = cfg->key;
    if (!copy_text(ctx->id, sizeof ctx->id, cfg->device_id) ||
        !copy_text(ctx->ipaddr, sizeof ctx->ipaddr, cfg->ipaddr) ||
        !copy_text(ctx->ssid, sizeof ctx->ssid, cfg->ssid) ||
        (cfg->server && !copy_text(ctx->server, sizeof ctx->server, cfg->server))) {
        free(ctx);
        return NULL;
    }
    ctx->updates = plat->update != NULL;
    if (ctx->updates && !read_running(ctx)) {
        free(ctx);
        return NULL;
    }
    ctx->sign = cfg->sign != 0;
    if (ctx->sign && fw_auth_init(&ctx->auth, plat, cfg->key.key, cfg->key.key_len) != 0) {
        free(ctx);
        return NULL;
    }
    memcpy(ctx->aad, ctx->id, strlen(ctx->id) + 1);
    ctx->state = FW_STATE_UNREGISTERED;
    ctx->applied_cfgsn = cfg->applied_cfgsn;
    ctx->poll_interval_ms = poll_s * 1000u;
    if (fw_seqn_boot(&ctx->seqn, plat) != 0)
        fw_log(ctx, FW_LOG_WARN, "seqn: cannot store a reservation yet");
    if (ctx->updates)
        fw_update_boot(&ctx->update, plat);
    return ctx;
}

void fw_free(struct fw_ctx *ctx)
{
    free(ctx);
}

enum fw_state fw_get_state(const struct fw_ctx *ctx)
{
    return ctx->state;
}

uint32_t fw_applied_cfgsn(const struct fw_ctx *ctx)
{
    return ctx->applied_cfgsn;
}

const char *fw_running_version(const struct fw_ctx *ctx)
{
    return ctx->running;
}

/* Exponential from BACKOFF_BASE_MS, capped at BACKOFF_MAX_MS, then a random point in its upper
 * half ("equal jitter"): a fleet that failed together does not retry together. */
static uint32_t backoff_ms(const struct fw_ctx *ctx)
{
    uint32_t delay = BACKOFF_BASE_MS;
    uint8_t rnd[4];
    unsigned i;

    for (i = 1; i < ctx->failures && delay < BACKOFF_MAX_MS; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    if (ctx->plat.random(ctx->plat.user_data, rnd, sizeof rnd) != 0)
        return delay;
    return delay / 2 +
           ((uint32_t)rnd[0] | (uint32_t)rnd[1] << 8 | (uint32_t)rnd[2] << 16 | (uint32_t)rnd[3] << 24) %
               (delay / 2 + 1);
}

static void fail(struct fw_ctx *ctx, uint64_t now, const char *what)
{
    uint32_t delay;

    if (ctx->failures < 64)
        ctx->failures++;
    delay = backoff_ms(ctx);
    ctx->retry_at = now + delay;
    fw_log(ctx, FW_LOG_WARN, "%s; retry %u in %lu ms", what, ctx->failures, (unsigned long)delay);
    emit(ctx, FW_EV_RETRY);
}

/* 401: the proof was refused (the device's idea of the server's clock is off) and nothing was
 * stored; the answer told the clock, so the next try may pass. */
static bool retryable(int status)
{
    return status == FW_HTTP_NETWORK_ERROR || status == 401 || status == 429 || status >= 500;
}

/* The registration body {"ipaddr":...,"ssid":...[,"fw":...]} into tx. */
static bool build_register(struct fw_ctx *ctx, struct fw_str *body)
{
    fw_str_put(body, "{\"ipaddr\":");
    fw_str_put_json_string(body, ctx->ipaddr);
    fw_str_put(body, ",\"ssid\":");
    fw_str_put_json_string(body, ctx->ssid);
    if (ctx->updates) {
        fw_str_put(body, ",\"fw\":");
        fw_str_put_json_string(body, ctx->running);
    }
    fw_str_put(body, "}");
    return fw_str_ok(body);
}

/* "&fw=<running version>": of a version's characters only '+' needs encoding in a query. */
static void put_fw_query(const struct fw_ctx *ctx, struct fw_str *path)
{
    const char *v;

    fw_str_put(path, "&fw=");
    for (v = ctx->running; *v; v++) {
        if (*v == '+')
            fw_str_put(path, "%2B");
        else
            fw_str_putn(path, v, 1);
    }
}

/* The query and If-None-Match of a poll: both carry the applied cfgsn (the server's ETag is
 * its cfgsn, so an unchanged configuration costs a 304 without a body). A signing device asks
 * for the whole sealed configuration until it has learned its SEQN epoch from one. */
static bool build_poll(struct fw_ctx *ctx, struct fw_str *path)
{
    struct fw_str etag;

    fw_str_put(path, "?cfgsn=");
    fw_str_put_u32(path, ctx->applied_cfgsn);
    if (ctx->updates)
        put_fw_query(ctx, path);
    if (ctx->sign && !ctx->has_epoch)
        return true;
    fw_str_init(&etag, ctx->etag, sizeof ctx->etag);
    fw_str_put(&etag, "\"");
    fw_str_put_u32(&etag, ctx->applied_cfgsn);
    fw_str_put(&etag, "\"");
    ctx->headers[0].name = "If-None-Match";
    ctx->headers[0].value = ctx->etag;
    return fw_str_ok(&etag);
}

/* The encrypted reading into tx; its SEQN is taken on the first attempt and kept for retries, so
 * a retransmission the server already stored is refused as a replay, not stored twice. */
static bool build_telemetry(struct fw_ctx *ctx, struct fw_str *path, struct fw_str *body)
{
    struct reading *r = &ctx->reading;

    fw_str_put(path, "/telemetry");
    if (!r->has_seqn) {
        if (fw_seqn_take(&ctx->seqn, &ctx->plat, &r->seqn) != 0)
            return false;
        r->has_seqn = true;
    }
    return fw_envelope_build(&ctx->plat, &ctx->key, ctx->aad, r->text, r->len, r->seqn, &ctx->scratch, body) ==
           0;
}

/* Signs (if the device does) and starts the request in ctx->req, whose method and body are
 * set, to ctx->path with the first n_headers of ctx->headers (0 or 1). */
static void send_request(struct fw_ctx *ctx, enum request kind, size_t n_headers, uint64_t now)
{
    ctx->req.path = ctx->path;
    ctx->req.headers = ctx->headers;
    ctx->req.n_headers = n_headers;
    ctx->req.stream = kind == REQ_IMAGE;
    if (ctx->sign) {
        if (fw_auth_sign(&ctx->auth, &ctx->plat, ctx->req.method, ctx->path, ctx->req.body, ctx->req.body_len,
                         now) != 0) {
            fail(ctx, now, "cannot sign request");
            return;
        }
        ctx->headers[n_headers].name = FW_AUTH_HEADER;
        ctx->headers[n_headers].value = ctx->auth.proof;
        ctx->req.n_headers = n_headers + 1;
    }
    ctx->req.resp_body = ctx->rx;
    ctx->req.resp_cap = FW_RX_MAX;
    ctx->inflight = kind;
    ctx->answered = false;
    if (ctx->plat.http_start(ctx->plat.user_data, &ctx->req) != 0 && !ctx->answered) {
        ctx->resp.status = FW_HTTP_NETWORK_ERROR;
        ctx->resp.body_len = 0;
        ctx->answered = true;
    }
}

/* Builds and starts a request to the device's resource; one that cannot even be built counts
 * as a failure. */
static void start(struct fw_ctx *ctx, enum request kind, uint64_t now)
{
    struct fw_str path, body;
    bool built;

    fw_str_init(&path, ctx->path, sizeof ctx->path);
    fw_str_init(&body, ctx->tx, sizeof ctx->tx);
    fw_str_put(&path, "/api/devices/");
    fw_str_put(&path, ctx->id);
    /* Requests with a body send JSON; a poll replaces this header with its If-None-Match. */
    ctx->headers[0].name = "Content-Type";
    ctx->headers[0].value = "application/json";
    if (kind == REQ_REGISTER)
        built = build_register(ctx, &body);
    else if (kind == REQ_POLL)
        built = build_poll(ctx, &path);
    else
        built = build_telemetry(ctx, &path, &body);
    if (!built || !fw_str_ok(&path)) {
        fail(ctx, now, "cannot build request");
        return;
    }
    ctx->req.method = kind == REQ_POLL ? "GET" : "POST";
    ctx->req.body = kind == REQ_POLL ? NULL : ctx->tx;
    ctx->req.body_len = kind == REQ_POLL ? 0 : body.len;
    send_request(ctx, kind, 1, now);
}

/* The stored image is complete: verify and boot it. Booting ends this context on a simulator
 * (FW_STATE_REBOOTING); on a device the platform restarts and never returns. */
static void install(struct fw_ctx *ctx, uint64_t now)
{
    if (fw_update_install(&ctx->update, &ctx->plat) == 0) {
        ctx->state = FW_STATE_REBOOTING;
        fw_log(ctx, FW_LOG_INFO, "firmware %s verified; rebooting into it", ctx->update.img.version);
        emit(ctx, FW_EV_UPDATE_BOOTING);
        return;
    }
    fw_log(ctx, FW_LOG_ERROR, "firmware %s failed verification or boot (try %u of %u)", ctx->update.img.version,
           (unsigned)ctx->update.tries, FW_UPDATE_MAX_TRIES);
    emit(ctx, FW_EV_UPDATE_FAILED);
    fail(ctx, now, "firmware update failed");
}

/* The next piece of the offered image: a GET of its URL from the first byte not yet stored
 * (Range), or, when all of it is stored already, its installation. */
static void start_image(struct fw_ctx *ctx, uint64_t now)
{
    struct fw_update *u = &ctx->update;
    struct fw_str range;

    if (fw_update_prepare(u, &ctx->plat) != 0) {
        fail(ctx, now, "cannot prepare to store the firmware image");
        return;
    }
    if (u->offset == u->img.size) {
        install(ctx, now);
        return;
    }
    memcpy(ctx->path, u->path, strlen(u->path) + 1);
    fw_str_init(&range, ctx->range, sizeof ctx->range);
    fw_str_put(&range, "bytes=");
    fw_str_put_u32(&range, u->offset);
    fw_str_put(&range, "-");
    ctx->headers[0].name = "Range";
    ctx->headers[0].value = ctx->range;
    ctx->req.method = "GET";
    ctx->req.body = NULL;
    ctx->req.body_len = 0;
    send_request(ctx, REQ_IMAGE, u->offset > 0, now);
}

int fw_http_body(struct fw_ctx *ctx, int status, int64_t range_start, const uint8_t *data, size_t len)
{
    if (ctx->inflight != REQ_IMAGE || ctx->answered)
        return -1;
    return fw_update_body(&ctx->update, &ctx->plat, status, range_start, data, len);
}

int fw_http_done(struct fw_ctx *ctx, const struct fw_http_response *resp)
{
    if (ctx->inflight == REQ_NONE || ctx->answered)
        return -1;
    ctx->resp = *resp;
    ctx->answered = true;
    return 0;
}

static void on_register(struct fw_ctx *ctx, uint64_t now, int status)
{
    if (status == 200 || status == 201) {
        ctx->state = FW_STATE_REGISTERED;
        ctx->poll_due = now;
        fw_log(ctx, FW_LOG_INFO, "registered (%d)", status);
        emit(ctx, FW_EV_REGISTERED);
    } else if (status == 403) {
        ctx->state = FW_STATE_REFUSED;
        fw_log(ctx, FW_LOG_ERROR, "registration refused (403); stopping");
        emit(ctx, FW_EV_REFUSED);
    } else {
        fail(ctx, now, "registration failed");
    }
}

/* A configuration {"cfgsn":N,"data":...,"poll_interval":S} in text (len bytes, room for a NUL
 * after): hands a newer one to the app. */
static bool apply_config(struct fw_ctx *ctx, char *text, size_t len)
{
    struct fw_json_value v, data = {"null", 4, FW_JSON_NULL};
    uint32_t cfgsn, interval_s;
    enum fw_json_result rc;

    if (fw_json_get(text, len, "cfgsn", &v) != FW_JSON_OK || fw_json_uint32(&v, &cfgsn) != FW_JSON_OK)
        return false;
    rc = fw_json_get(text, len, "poll_interval", &v);
    if (rc == FW_JSON_OK) {
        if (fw_json_uint32(&v, &interval_s) != FW_JSON_OK)
            return false;
        if (interval_s < 1)
            interval_s = 1;
        if (interval_s > MAX_POLL_S)
            interval_s = MAX_POLL_S;
        ctx->poll_interval_ms = interval_s * 1000u;
    } else if (rc != FW_JSON_NOT_FOUND) {
        return false;
    }
    if (cfgsn <= ctx->applied_cfgsn)
        return true;
    if (fw_json_get(text, len, "data", &v) == FW_JSON_OK) {
        data = v;
        text[(size_t)(data.text - text) + data.len] = '\0';
    }
    if (ctx->app.apply_config(ctx->app.user_data, cfgsn, data.text, data.len) == 0) {
        ctx->applied_cfgsn = cfgsn;
        fw_log(ctx, FW_LOG_INFO, "config %lu applied", (unsigned long)cfgsn);
        emit(ctx, FW_EV_CONFIG_APPLIED);
    } else {
        fw_log(ctx, FW_LOG_WARN, "config %lu not applied", (unsigned long)cfgsn);
        emit(ctx, FW_EV_CONFIG_FAILED);
    }
    return true;
}

/* The "firmware" offer of a configuration document, text (len bytes): the poll answer, or for a
 * signing device the opened sealed configuration, so that only the server can offer it an image
 * (its SHA-256 is what authenticates the bytes). Its absence withdraws an offer; a malformed one is
 * ignored, not the configuration beside it. Runs before the configuration is applied (which
 * writes into text). */
static void take_offer(struct fw_ctx *ctx, const char *text, size_t len)
{
    struct fw_json_value v;
    struct fw_image img;
    char path[FW_IMAGE_PATH_MAX + 1];

    if (!ctx->updates)
        return;
    if (fw_json_get(text, len, "firmware", &v) != FW_JSON_OK || v.type == FW_JSON_NULL) {
        fw_update_offer(&ctx->update, NULL, NULL);
        return;
    }
    if (fw_update_parse_offer(v.text, v.len, ctx->server[0] ? ctx->server : NULL, &img, path, sizeof path) != 0) {
        fw_log(ctx, FW_LOG_WARN, "malformed firmware offer ignored");
        fw_update_offer(&ctx->update, NULL, NULL);
        return;
    }
    if (!ctx->update.offered || strcmp(ctx->update.img.version, img.version) != 0)
        fw_log(ctx, FW_LOG_INFO, "firmware %s offered (%lu bytes)", img.version, (unsigned long)img.size);
    fw_update_offer(&ctx->update, &img, path);
}

/* A signing device's poll body {"cfgsn":N,"sealed":{...}}: the sealed configuration opened with
 * the device's key (it must name the same cfgsn), its SEQN epoch taken, then applied. */
static bool apply_sealed(struct fw_ctx *ctx, size_t len)
{
    struct fw_json_value v;
    uint32_t cfgsn, inner, epoch = 0;
    int n;
    struct fw_str aad;

    if (fw_json_get(ctx->rx, len, "cfgsn", &v) != FW_JSON_OK || fw_json_uint32(&v, &cfgsn) != FW_JSON_OK ||
        fw_json_get(ctx->rx, len, "sealed", &v) != FW_JSON_OK)
        return false;
    n = fw_auth_open_config(&ctx->auth, &ctx->plat, ctx->id, cfgsn, v.text, v.len, ctx->config, FW_RX_MAX);
    if (n < 0 || fw_json_get(ctx->config, (size_t)n, "cfgsn", &v) != FW_JSON_OK ||
        fw_json_uint32(&v, &inner) != FW_JSON_OK || inner != cfgsn ||
        fw_json_get(ctx->config, (size_t)n, "epoch", &v) != FW_JSON_OK || fw_json_uint32(&v, &epoch) != FW_JSON_OK)
        return false;
    fw_str_init(&aad, ctx->aad, sizeof ctx->aad);
    fw_str_put(&aad, ctx->id);
    if (epoch > 0) {
        fw_str_put(&aad, "#");
        fw_str_put_u32(&aad, epoch);
    }
    ctx->has_epoch = true;
    if (!fw_str_ok(&aad))
        return false;
    take_offer(ctx, ctx->config, (size_t)n);
    return apply_config(ctx, ctx->config, (size_t)n);
}

static void on_poll(struct fw_ctx *ctx, uint64_t now, int status, size_t len)
{
    if (status == 200 && !ctx->sign)
        take_offer(ctx, ctx->rx, len);
    if (status == 404) {
        ctx->state = FW_STATE_UNREGISTERED;
        fail(ctx, now, "device unknown to the server; registering again");
        return;
    }
    if (status == 200 && !(ctx->sign ? apply_sealed(ctx, len) : apply_config(ctx, ctx->rx, len))) {
        fail(ctx, now, "malformed poll response");
        return;
    }
    if (status != 200 && status != 304) {
        fail(ctx, now, "poll failed");
        return;
    }
    ctx->failures = 0;
    ctx->poll_due = now + ctx->poll_interval_ms;
    emit(ctx, status == 200 ? FW_EV_POLL_OK : FW_EV_POLL_UNCHANGED);
}

static void reading_done(struct fw_ctx *ctx, enum fw_event ev)
{
    ctx->reading.pending = false;
    emit(ctx, ev);
}

/* 409 to a SEQN never sent before: the server has seen higher ones (storage was lost or reset),
 * so jump ahead, twice as far each time, and send the reading again with a fresh SEQN. */
static void skip_ahead(struct fw_ctx *ctx, uint64_t now)
{
    struct reading *r = &ctx->reading;

    if (r->skips >= MAX_REPLAY_SKIPS) {
        fw_log(ctx, FW_LOG_ERROR, "reading refused as replay %u times; dropped", r->skips);
        reading_done(ctx, FW_EV_READING_REFUSED);
        return;
    }
    if (fw_seqn_skip(&ctx->seqn, &ctx->plat, 1u << r->skips) != 0) {
        fail(ctx, now, "cannot store a SEQN reservation");
        return;
    }
    r->skips++;
    r->has_seqn = false;
}

static void on_telemetry(struct fw_ctx *ctx, uint64_t now, int status)
{
    struct reading *r = &ctx->reading;

    if (status == 201) {
        ctx->failures = 0;
        reading_done(ctx, FW_EV_READING_ACCEPTED);
    } else if (status == 409 && r->uncertain) {
        fw_log(ctx, FW_LOG_INFO, "SEQN %lu stored by an earlier attempt", (unsigned long)r->seqn);
        reading_done(ctx, FW_EV_READING_ACCEPTED);
    } else if (status == 409) {
        skip_ahead(ctx, now);
    } else if (status == 404) {
        ctx->state = FW_STATE_UNREGISTERED;
        fail(ctx, now, "device unknown to the server; registering again");
    } else if (status == 400 && ctx->sign && !r->refetched) {
        /* An admin's seqn_reset began another epoch: its sealed configuration tells which. */
        r->refetched = true;
        ctx->has_epoch = false;
        ctx->poll_due = now;
        fail(ctx, now, "reading unreadable to the server; asking for the SEQN epoch");
    } else if (retryable(status)) {
        r->uncertain = r->uncertain || (status != 429 && status != 401);
        fail(ctx, now, "telemetry failed");
    } else {
        fw_log(ctx, FW_LOG_ERROR, "reading refused (%d); dropped", status);
        reading_done(ctx, FW_EV_READING_REFUSED);
    }
}

/* The end of an image transfer: install once all of it is stored; otherwise try again later
 * from where it stopped (a 416: the range is not there, start over). */
static void on_image(struct fw_ctx *ctx, uint64_t now, int status)
{
    struct fw_update *u = &ctx->update;
    bool ok = status == 200 || status == 206;

    if (fw_update_transfer_end(u, &ctx->plat) && ok) {
        ctx->failures = 0;
        install(ctx, now);
    } else if (status == 416) {
        fw_update_restart(u, &ctx->plat);
        fail(ctx, now, "image range refused; downloading from the start");
    } else if (ok || status == FW_HTTP_NETWORK_ERROR) {
        fw_log(ctx, FW_LOG_INFO, "image transfer broke off at %lu of %lu bytes", (unsigned long)u->offset,
               (unsigned long)u->img.size);
        fail(ctx, now, "image transfer incomplete");
    } else {
        fail(ctx, now, "image download failed");
    }
}

static void finish(struct fw_ctx *ctx, uint64_t now)
{
    enum request kind = ctx->inflight;
    int status = ctx->resp.status;
    size_t len = ctx->resp.body_len;

    ctx->inflight = REQ_NONE;
    ctx->answered = false;
    if (ctx->sign && fw_auth_clock(&ctx->auth, ctx->resp.server_time, now) && status == 401) {
        fw_log(ctx, FW_LOG_INFO, "clock taken from the server; signing again");
        return; /* the same request is due again at once */
    }
    if (kind == REQ_IMAGE) {
        on_image(ctx, now, status);
        return;
    }
    if (len > FW_RX_MAX) {
        fw_log(ctx, FW_LOG_ERROR, "response of %lu bytes is too large", (unsigned long)len);
        status = FW_HTTP_NETWORK_ERROR;
        len = 0;
    }
    if (kind == REQ_REGISTER)
        on_register(ctx, now, status);
    else if (kind == REQ_POLL)
        on_poll(ctx, now, status, len);
    else
        on_telemetry(ctx, now, status);
}

/* The request due at `now`, or REQ_NONE with *wake set to when something will be. */
static enum request due(const struct fw_ctx *ctx, uint64_t now, uint64_t *wake)
{
    if (now < ctx->retry_at) {
        *wake = ctx->retry_at;
        return REQ_NONE;
    }
    if (ctx->state == FW_STATE_UNREGISTERED)
        return REQ_REGISTER;
    if (now >= ctx->poll_due)
        return REQ_POLL;
    if (ctx->reading.pending)
        return REQ_TELEMETRY;
    if (ctx->updates && fw_update_wanted(&ctx->update, ctx->running))
        return REQ_IMAGE;
    *wake = ctx->poll_due;
    return REQ_NONE;
}

uint64_t fw_step(struct fw_ctx *ctx, uint64_t now_ms)
{
    int round;

    for (round = 0; round < MAX_ROUNDS; round++) {
        enum request kind;
        uint64_t wake;

        if (ctx->answered)
            finish(ctx, now_ms);
        if (ctx->inflight != REQ_NONE || ctx->state == FW_STATE_REFUSED || ctx->state == FW_STATE_REBOOTING)
            return FW_NEVER;
        kind = due(ctx, now_ms, &wake);
        if (kind == REQ_NONE)
            return wake;
        if (kind == REQ_IMAGE)
            start_image(ctx, now_ms);
        else
            start(ctx, kind, now_ms);
    }
    return now_ms;
}

int fw_submit_reading(struct fw_ctx *ctx, const char *json, size_t len)
{
    struct reading *r = &ctx->reading;
    struct fw_json_value v;

    if (r->pending || fw_json_parse(json, len, &v) != FW_JSON_OK || v.type != FW_JSON_OBJECT ||
        v.len > FW_READING_MAX)
        return -1;
    memcpy(r->text, v.text, v.len);
    r->len = v.len;
    r->pending = true;
    r->has_seqn = false;
    r->uncertain = false;
    r->skips = 0;
    r->refetched = false;
    return 0;
}
