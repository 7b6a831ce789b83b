/* fleet.c: the simulated fleet's event loop. Each device is one timer in a heap (the earlier of
 * its fw_step() deadline and its next reading); answers from the HTTP pool step it at once. */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw_openssl.h"
#include "fw_posix.h"
#include "http_pool.h"
#include "mono_clock.h"
#include "timer_heap.h"

#define TICK_MS 1000u
/* Timers fired before the HTTP side gets its turn again (a whole fleet booting at once). */
#define TIMERS_PER_TURN 2048u

struct sim {
    struct fw_posix_device plat;
    struct fw_ctx *ctx;
    struct fleet *fleet;
    size_t index;
    uint64_t step_at;    /* what fw_step() last returned */
    uint64_t reading_at; /* when the next reading is made; FW_NEVER: none */
    uint32_t readings;   /* made so far */
    bool registered;
    bool unconfirmed; /* the last telemetry attempt got no clear answer */
    bool fails_updates; /* its updated boots come back with the old version (--fail-update) */
    char id[FW_ID_MAX + 1];
    char ipaddr[16];
};

struct fleet {
    struct fleet_options opt;
    struct fw_posix_host host;
    struct timer_heap *timers;
    struct sim *sims;
    struct fleet_stats st;
};

static uint64_t now_ms(void)
{
    return mono_us() / 1000u;
}

/* The simulated device takes whatever configuration it is given. */
static int apply_config(void *user_data, uint32_t cfgsn, const char *data, size_t len)
{
    (void)user_data;
    (void)cfgsn;
    (void)data;
    (void)len;
    return 0;
}

static void on_event(void *user_data, enum fw_event ev)
{
    struct sim *s = user_data;
    struct fleet_stats *st = &s->fleet->st;

    switch (ev) {
    case FW_EV_REGISTERED:
        st->registered += !s->registered;
        s->registered = true;
        break;
    case FW_EV_REFUSED: st->reg_refused++; break;
    case FW_EV_POLL_UNCHANGED:
        st->not_modified++;
        /* fall through */
    case FW_EV_POLL_OK: st->polls++; break;
    case FW_EV_CONFIG_APPLIED: st->configs_applied++; break;
    case FW_EV_CONFIG_FAILED: break;
    case FW_EV_READING_ACCEPTED:
        st->accepted++;
        s->unconfirmed = false;
        break;
    case FW_EV_READING_REFUSED:
        st->refused++;
        s->unconfirmed = false;
        break;
    case FW_EV_UPDATE_BOOTING: st->updates_booted++; break;
    case FW_EV_UPDATE_FAILED: st->updates_failed++; break;
    case FW_EV_RETRY:
        /* Requests refused while shutting down are not the server's failures. */
        st->retries += !s->fleet->host.offline;
        break;
    }
}

static void schedule(struct fleet *f, struct sim *s)
{
    uint64_t t = s->step_at < s->reading_at ? s->step_at : s->reading_at;

    if (t == FW_NEVER)
        timer_heap_remove(f->timers, s->index);
    else
        timer_heap_set(f->timers, s->index, t);
}

static int sim_boot(struct fleet *f, struct sim *s);

/* The device booted a verified image: a new context, as after a restart, that runs the new
 * version, or still the old one when this device fails its updates (the bootloader went back). */
static void reboot(struct fleet *f, struct sim *s, uint64_t now)
{
    struct fw_posix_firmware *fw = &s->plat.fw;

    fw_free(s->ctx);
    s->ctx = NULL;
    if (s->fails_updates) {
        f->st.rolled_back++;
    } else {
        memcpy(fw->running, fw->booting, sizeof fw->running);
        f->st.updated++;
    }
    fw->booting[0] = '\0';
    if (sim_boot(f, s) != 0) {
        s->step_at = FW_NEVER; /* out of memory: this device stays off */
        return;
    }
    s->step_at = fw_step(s->ctx, now);
}

static void step(struct fleet *f, struct sim *s, uint64_t now)
{
    s->step_at = fw_step(s->ctx, now);
    if (fw_get_state(s->ctx) == FW_STATE_REBOOTING)
        reboot(f, s, now);
    schedule(f, s);
}

/* A reading like a sensor's: a value that moves a little with every sample. */
static void make_reading(struct fleet *f, struct sim *s, uint64_t now)
{
    uint64_t every = (uint64_t)f->opt.telemetry_every_s * 1000u;
    char text[64];
    int n;

    n = snprintf(text, sizeof text, "{\"data\":{\"value\":%u}}",
                 (unsigned)((s->index * 37u + s->readings * 11u) % 1000u));
    s->readings++;
    if (fw_submit_reading(s->ctx, text, (size_t)n) != 0)
        f->st.skipped++;
    s->reading_at += every;
    if (s->reading_at <= now)
        s->reading_at = now + every;
}

static void wake(struct fleet *f, struct sim *s, uint64_t now)
{
    if (now >= s->reading_at)
        make_reading(f, s, now);
    step(f, s, now);
}

static bool is_telemetry(const struct fw_http_request *req)
{
    size_t n = strlen(req->path);

    return n >= 10 && strcmp(req->path + n - 10, "/telemetry") == 0;
}

/* A piece of a firmware image on its way to the device's core (hashed there, never kept). */
static int on_image_body(void *owner, int status, int64_t range_start, const uint8_t *data, size_t len,
                         void *user_data)
{
    struct sim *s = owner;
    struct fleet *f = user_data;

    if (status == 200 || status == 206)
        f->st.image_bytes += len;
    return fw_http_body(s->ctx, status, range_start, data, len);
}

static void on_answer(void *owner, const struct http_result *res, void *user_data)
{
    struct sim *s = owner;
    struct fleet *f = user_data;
    struct fw_http_response resp = {res->status, res->body_len, res->server_time};

    f->st.requests++;
    f->st.network_errors += res->status == FW_HTTP_NETWORK_ERROR;
    latency_add(&f->st.latency, res->latency_us);
    latency_add(&f->st.window, res->latency_us);
    if (is_telemetry(res->req) && (res->status == FW_HTTP_NETWORK_ERROR || res->status >= 500))
        s->unconfirmed = true;
    fw_http_done(s->ctx, &resp);
    step(f, s, now_ms());
}

/* The device's context, as at a boot. Returns 0, or -1 when it is not valid or without memory. */
static int sim_boot(struct fleet *f, struct sim *s)
{
    const struct fleet_options *o = &f->opt;
    struct fw_platform plat = fw_posix_platform(&s->plat);
    struct fw_app app = {s, apply_config, on_event};
    struct fw_config cfg = {s->id, s->ipaddr, "devsim", o->key, 0, o->interval_s, o->sign, o->server};

    s->ctx = fw_new(&cfg, &plat, &app);
    return s->ctx ? 0 : -1;
}

/* Whether the device is one of the --fail-update share: by FNV-1a of its id, so the same
 * devices fail in every run. */
static bool fails_updates(const char *id, unsigned pct)
{
    uint32_t h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 16777619u;
    return h % 100u < pct;
}

static int sim_init(struct fleet *f, struct sim *s, size_t i, char *err, size_t err_len)
{
    const struct fleet_options *o = &f->opt;

    s->fleet = f;
    s->index = i;
    snprintf(s->id, sizeof s->id, "%s%04zu", o->id_prefix, i);
    snprintf(s->ipaddr, sizeof s->ipaddr, "10.%zu.%zu.%zu", ((i + 1) >> 16) & 255, ((i + 1) >> 8) & 255,
             (i + 1) & 255);
    s->fails_updates = fails_updates(s->id, o->fail_update_pct);
    if (fw_posix_device_init(&s->plat, &f->host, s->id, s, o->firmware_version) != 0) {
        snprintf(err, err_len, "%s: cannot read its state file in %s: %m", s->id, o->state_dir);
        return -1;
    }
    if (sim_boot(f, s) != 0) {
        snprintf(err, err_len, "%s: not a valid device (id, key or interval) or out of memory", s->id);
        return -1;
    }
    return 0;
}

struct fleet *fleet_new(const struct fleet_options *opt, char *err, size_t err_len)
{
    struct http_pool_config pc = {opt->server, opt->connections, opt->devices, FLEET_REQUEST_TIMEOUT_MS, on_image_body,
                                  NULL};
    struct fleet *f;
    size_t i;

    if (opt->devices == 0 || opt->devices > FLEET_MAX_DEVICES || strlen(opt->id_prefix) > FLEET_PREFIX_MAX) {
        snprintf(err, err_len, "1-%u devices and an id prefix of at most %d characters", FLEET_MAX_DEVICES,
                 FLEET_PREFIX_MAX);
        return NULL;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    f->opt = *opt;
    pc.body_data = f;
    f->st.devices = opt->devices;
    f->host.state_dir = opt->state_dir;
    f->host.verbose = opt->verbose;
    f->host.tty = isatty(STDERR_FILENO);
    f->host.pool = http_pool_new(&pc);
    f->timers = timer_heap_new(opt->devices);
    f->sims = calloc(opt->devices, sizeof *f->sims);
    if (!f->host.pool || !f->timers || !f->sims) {
        snprintf(err, err_len, "cannot set up %u devices over %u connections to %s", opt->devices,
                 opt->connections, opt->server);
        goto fail;
    }
    for (i = 0; i < opt->devices; i++)
        if (sim_init(f, &f->sims[i], i, err, err_len) != 0)
            goto fail;
    return f;
fail:
    fleet_free(f);
    return NULL;
}

void fleet_free(struct fleet *f)
{
    size_t i;

    if (!f)
        return;
    for (i = 0; f->sims && i < f->opt.devices; i++) {
        fw_free(f->sims[i].ctx);
        fw_posix_device_free(&f->sims[i].plat);
    }
    free(f->sims);
    timer_heap_free(f->timers);
    http_pool_free(f->host.pool);
    free(f);
}

/* Boots spread evenly over the ramp; each device's readings start at a random point of the
 * first period, so a fleet booted together does not report together. */
static void boot_all(struct fleet *f, uint64_t start)
{
    uint64_t every = (uint64_t)f->opt.telemetry_every_s * 1000u;
    size_t i;

    for (i = 0; i < f->opt.devices; i++) {
        struct sim *s = &f->sims[i];
        uint32_t r = 0;

        s->step_at = start + (uint64_t)f->opt.ramp_ms * i / f->opt.devices;
        s->reading_at = FW_NEVER;
        if (every) {
            fw_openssl_random((uint8_t *)&r, sizeof r);
            s->reading_at = s->step_at + r % every;
        }
        schedule(f, s);
    }
}

static void fire_due(struct fleet *f, uint64_t now)
{
    unsigned fired;
    size_t id;
    uint64_t when;

    for (fired = 0; fired < TIMERS_PER_TURN && timer_heap_peek(f->timers, &id, &when) && when <= now; fired++)
        wake(f, &f->sims[id], now);
}

/* How long the loop may wait: until the next timer, tick or the end, at most one tick. */
static int wait_ms(struct fleet *f, uint64_t now, uint64_t next_tick, uint64_t end)
{
    uint64_t until = next_tick;
    size_t id;
    uint64_t when;

    /* Draining, only the answers matter: neither the end nor the timers are waited for. */
    if (!f->host.offline) {
        if (end < until)
            until = end;
        if (timer_heap_peek(f->timers, &id, &when) && when < until)
            until = when;
    }
    return until <= now ? 0 : until - now > TICK_MS ? (int)TICK_MS : (int)(until - now);
}

int fleet_run(struct fleet *f, uint64_t duration_ms, const volatile sig_atomic_t *stop, fleet_tick_fn tick,
              void *user_data)
{
    uint64_t start = now_ms(), next_tick = start + TICK_MS;
    uint64_t end = duration_ms ? start + duration_ms : FW_NEVER;

    boot_all(f, start);
    for (;;) {
        uint64_t now = now_ms();

        if (!f->host.offline && (*stop || now >= end))
            f->host.offline = true;
        if (f->host.offline && http_pool_pending(f->host.pool) == 0)
            break;
        if (!f->host.offline)
            fire_due(f, now);
        if (http_pool_run(f->host.pool, wait_ms(f, now, next_tick, end), on_answer, f) != 0)
            return -1;
        now = now_ms();
        if (now >= next_tick) {
            f->st.in_flight = http_pool_pending(f->host.pool);
            tick(&f->st, now - start, user_data);
            latency_reset(&f->st.window);
            while (next_tick <= now)
                next_tick += TICK_MS;
        }
    }
    f->st.in_flight = 0;
    return 0;
}

const struct fleet_stats *fleet_stats(const struct fleet *f)
{
    return &f->st;
}

unsigned fleet_unregistered(const struct fleet *f)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < f->opt.devices; i++)
        n += !f->sims[i].ctx || fw_get_state(f->sims[i].ctx) != FW_STATE_REGISTERED;
    return n;
}

unsigned fleet_unconfirmed(const struct fleet *f)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < f->opt.devices; i++)
        n += f->sims[i].unconfirmed;
    return n;
}
