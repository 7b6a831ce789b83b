/* provd-alerts: the deployment's one alert sweeper and sender (ARCHITECTURE.md "Alerts"). While it
 * holds the lead (store_alert_lead()), it judges the devices whose liveness may have changed
 * (store_alert_sweep(), which writes the alerts) and POSTs the outbox to PROVD_ALERT_WEBHOOK, in
 * order per subject, retrying with backoff. Every other copy waits to take over. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_payload.h"
#include "app.h"
#include "isotime.h"
#include "log.h"
#include "validate.h"
#include "webhook.h"

#define SWEEP_BATCH   1000 /* devices judged per transaction */
#define SEND_BATCH    64   /* alerts read from the outbox at once */
#define URL_MAX       2048
#define EXIT_CONFIG   78 /* EX_CONFIG, as provd's */

struct alert_config {
    const char *webhook; /* PROVD_ALERT_WEBHOOK: http:// or https:// URL */
    const char *secret;  /* PROVD_ALERT_SECRET: signs each body; NULL: unsigned */
    int64_t sweep_ms;    /* PROVD_ALERT_SWEEP_MS (5000): between two rounds */
    int64_t retry_max_s; /* PROVD_ALERT_RETRY_MAX_S (300): the longest wait between two attempts */
};

/* An alert read from the outbox, its body made, waiting to be sent. */
struct outgoing {
    int64_t id, attempts;
    char id_text[ALERT_ID_LEN + 1];
    char subject[DEVICE_ID_MAX + 1]; /* for the log: a device's id, cut if longer */
    char *body;
};

struct batch {
    int count;
    bool short_of_memory;
    struct outgoing item[SEND_BATCH];
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static bool url_acceptable(const char *url)
{
    size_t n = strlen(url);
    if (n > URL_MAX || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return false;
    return true;
}

static bool ms_from_env(const char *name, const char *fallback, int64_t min, int64_t max, int64_t *out,
                        char *err, size_t err_len)
{
    const char *v = getenv(name);
    if (parse_int_range(v && *v ? v : fallback, min, max, out))
        return true;
    snprintf(err, err_len, "%s must be a whole number from %lld to %lld", name, (long long)min, (long long)max);
    return false;
}

static bool alert_config_from_env(struct alert_config *c, char *err, size_t err_len)
{
    c->webhook = getenv("PROVD_ALERT_WEBHOOK");
    if (!c->webhook || !url_acceptable(c->webhook)) {
        snprintf(err, err_len, "PROVD_ALERT_WEBHOOK must be an http:// or https:// URL of at most %d bytes",
                 URL_MAX);
        return false;
    }
    c->secret = getenv("PROVD_ALERT_SECRET");
    if (c->secret && !*c->secret)
        c->secret = NULL;
    return ms_from_env("PROVD_ALERT_SWEEP_MS", "5000", 100, 3600000, &c->sweep_ms, err, err_len) &&
           ms_from_env("PROVD_ALERT_RETRY_MAX_S", "300", 1, 86400, &c->retry_max_s, err, err_len);
}

/* Seconds before attempt number attempt + 1 of an alert: 1, 2, 4 ... up to max. */
static int64_t backoff_s(int64_t attempt, int64_t max)
{
    int64_t wait = attempt >= 31 ? max : (int64_t)1 << (attempt > 0 ? attempt - 1 : 0);
    return wait < max ? wait : max;
}

static void take(const struct alert *a, void *user_data)
{
    struct batch *b = user_data;
    if (b->count == SEND_BATCH)
        return;
    struct outgoing *o = &b->item[b->count];
    o->body = alert_payload_alloc(a);
    if (!o->body) {
        b->short_of_memory = true;
        return;
    }
    o->id = a->id;
    o->attempts = a->attempts;
    alert_id_text(a, o->id_text);
    snprintf(o->subject, sizeof o->subject, "%s", a->subject);
    b->count++;
}

static void log_store(struct store *s, const char *what)
{
    log_event("error", "database", NULL, NULL, "%s: %s", what, store_errmsg(s));
}

/* Sends the batch in order; the first alert the receiver does not take now is rescheduled and
 * ends the batch (the receiver is likely down: the rest wait for the next round). Returns whether
 * every alert was dealt with. */
static bool send_batch(struct store *s, struct webhook *w, const struct alert_config *c, struct batch *b)
{
    bool all = true;
    for (int i = 0; i < b->count && all && !stopping; i++) {
        struct outgoing *o = &b->item[i];
        char why[160];
        enum webhook_result r = webhook_post(w, o->body, o->id_text, why, sizeof why);
        enum store_status st;
        if (r == WEBHOOK_RETRY) {
            int64_t wait = backoff_s(o->attempts + 1, c->retry_max_s);
            log_event("warn", "alert_retry", NULL, o->subject, "alert %s not delivered (%s): attempt %lld, next in %lld s",
                      o->id_text, why, (long long)o->attempts + 1, (long long)wait);
            st = store_alert_retry(s, o->id, isotime_now() + wait);
            all = false;
        } else {
            if (r == WEBHOOK_REFUSED)
                log_event("error", "alert_refused", NULL, o->subject, "alert %s dropped: %s", o->id_text, why);
            st = store_alert_done(s, o->id, r == WEBHOOK_SENT);
        }
        if (st != STORE_OK && st != STORE_NOT_FOUND) {
            log_store(s, "alert outbox");
            all = false;
        }
    }
    for (int i = 0; i < b->count; i++)
        free(b->item[i].body);
    return all;
}

/* One round as the sweeper: every device due judged, then the outbox sent. Returns whether more
 * alerts may be due at once (a full batch went out). */
static bool round_once(struct store *s, struct webhook *w, const struct config *config,
                       const struct alert_config *c)
{
    int judged = 0;
    enum store_status st;
    do
        st = store_alert_sweep(s, isotime_now(), config->poll_interval, SWEEP_BATCH, &judged);
    while (st == STORE_OK && judged >= SWEEP_BATCH && !stopping);
    if (st != STORE_OK)
        log_store(s, "alert sweep");

    static struct batch b;
    b.count = 0;
    b.short_of_memory = false;
    if ((st = store_alert_due(s, isotime_now(), SEND_BATCH, take, &b)) != STORE_OK) {
        log_store(s, "alerts due");
        b.short_of_memory = false;
    }
    if (b.short_of_memory)
        log_event("error", "alerts", NULL, NULL, "out of memory for an alert's body");
    return send_batch(s, w, c, &b) && b.count == SEND_BATCH;
}

static void pause_ms(int64_t ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (!stopping && nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

int main(void)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: a signal ends a pause */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct config config;
    struct alert_config c;
    char err[256];
    if (!config_from_env(&config, err, sizeof err) || !alert_config_from_env(&c, err, sizeof err)) {
        fprintf(stderr, "provd-alerts: %s\n", err);
        return EXIT_CONFIG;
    }
    struct store *s = store_open(config.db_path, err, sizeof err);
    if (!s) {
        fprintf(stderr, "provd-alerts: cannot open the database: %s\n", err);
        return 1;
    }
    struct webhook *w = webhook_new(c.webhook, c.secret);
    if (!w) {
        fprintf(stderr, "provd-alerts: cannot set up libcurl\n");
        store_free(s);
        return 1;
    }
    bool leading = false;
    while (!stopping) {
        enum store_status st = store_alert_lead(s);
        if (st == STORE_OK && !leading)
            log_event("info", "alerts_lead", NULL, NULL, "this process sweeps and sends the alerts");
        else if (st != STORE_OK && leading)
            log_event("warn", "alerts_lead", NULL, NULL, "the lead is lost; waiting to take it again");
        if (st != STORE_OK && st != STORE_STALE)
            log_store(s, "alerts lead");
        leading = st == STORE_OK;
        if (!(leading && round_once(s, w, &config, &c)))
            pause_ms(c.sweep_ms);
    }
    webhook_free(w);
    store_free(s);
    return 0;
}
