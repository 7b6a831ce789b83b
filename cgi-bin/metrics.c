/* The shared counters (metrics.h) and their exposition. One file per host, mapped by each worker:
 * a fixed layout behind a header that names it, counted into with atomic adds, so no lock is held
 * on a request's path and a worker killed in the middle of an add leaves nothing half-done. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0), "64-bit atomic adds on shared memory");

/* Request durations: few fixed buckets, from a heartbeat's 304 (well under a millisecond) to a
 * long CSV export; above the last, only +Inf. */
static const int64_t bucket_micros[] = {1000, 5000, 25000, 100000, 500000, 2500000};
static const char *const bucket_le[] = {"0.001", "0.005", "0.025", "0.1", "0.5", "2.5"};
#define BUCKETS (sizeof bucket_micros / sizeof bucket_micros[0])
_Static_assert(BUCKETS == sizeof bucket_le / sizeof bucket_le[0], "a label per bucket");

#define CODE_CLASSES 5 /* 1xx .. 5xx */
#define NO_ROUTE_SLOT (METRICS_ROUTES_MAX - 1)

struct counters {
    uint64_t requests[METRICS_ROUTES_MAX][CODE_CLASSES];
    /* Not cumulative: slot i counts durations in (bound i-1, bound i], the last slot those above
     * every bound; the exposition sums them up. */
    uint64_t duration[METRICS_ROUTES_MAX][BUCKETS + 1];
    uint64_t duration_micros[METRICS_ROUTES_MAX];
    uint64_t readings[METRICS_READING__COUNT];
    uint64_t registrations;
    uint64_t polls[METRICS_POLL__COUNT];
};

/* The fleet's gauges as last counted (metrics_fleet_kept()). A seqlock: seq is odd while a writer
 * writes, readers copy and check it did not move; writers take turns by writing_since, which a
 * writer killed mid-write leaves set: WRITER_GONE_S later another writer takes over. */
struct kept_fleet {
    int64_t seq;
    int64_t writing_since;   /* Unix s; 0: nobody writes */
    int64_t recount_claimed; /* Unix s until which one worker counts again */
    int64_t counted_at;      /* Unix s; 0: never counted */
    int64_t count_micros;    /* what that count took */
    int64_t fleet[sizeof(struct store_fleet) / sizeof(int64_t)];
};
_Static_assert(sizeof(struct store_fleet) % sizeof(int64_t) == 0, "store_fleet is int64_t fields");
#define WRITER_GONE_S 5

#define MAGIC   "provdmet"
#define VERSION 2

/* The file: this header, then the counters. layout fingerprints what the slots mean (the route
 * names, the buckets): a file of another binary is made anew rather than misread. */
struct shared {
    char magic[8];
    uint32_t version;
    uint32_t size; /* sizeof (struct shared) */
    uint64_t layout;
    struct counters c;
    struct kept_fleet kept;
};

struct metrics {
    struct shared *shared;
};

static const char *const reading_results[METRICS_READING__COUNT] = {"accepted", "replay", "unreadable",
                                                                   "refused"};
static const char *const poll_answers[METRICS_POLL__COUNT] = {"304", "200"};

/* FNV-1a over the route names and the buckets. */
static uint64_t layout_of(void)
{
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < router_route_count(); i++)
        for (const char *p = router_route_name(i); ; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
            if (!*p)
                break;
        }
    for (size_t i = 0; i < BUCKETS; i++)
        h = (h ^ (uint64_t)bucket_micros[i]) * 1099511628211ULL;
    return h;
}

static void header_set(struct shared *sh, uint64_t layout)
{
    memcpy(sh->magic, MAGIC, sizeof sh->magic);
    sh->version = VERSION;
    sh->size = sizeof *sh;
    sh->layout = layout;
}

static bool header_is(const struct shared *sh, uint64_t layout)
{
    return memcmp(sh->magic, MAGIC, sizeof sh->magic) == 0 && sh->version == VERSION &&
           sh->size == sizeof *sh && sh->layout == layout;
}

/* Whether fd is still the file at path (not one unlinked by a worker that made it anew). */
static bool still_at(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The shared counters of path under its flock(): mapped as they are, or made in an empty file;
 * a file of another layout is unlinked and NULL returned with *again set. */
static struct shared *map_locked(int fd, const char *path, uint64_t layout, bool *again)
{
    struct stat st;
    *again = false;
    if (!still_at(fd, path)) {
        *again = true;
        return NULL;
    }
    if (fstat(fd, &st) != 0)
        return NULL;
    bool empty = st.st_size == 0;
    if (!empty && st.st_size != (off_t)sizeof(struct shared)) {
        *again = unlink(path) == 0;
        return NULL;
    }
    if (empty && ftruncate(fd, sizeof(struct shared)) != 0)
        return NULL;
    struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (sh == MAP_FAILED)
        return NULL;
    if (empty)
        header_set(sh, layout);
    if (header_is(sh, layout))
        return sh;
    munmap(sh, sizeof *sh);
    *again = unlink(path) == 0;
    return NULL;
}

static struct shared *map_file(const char *path, uint64_t layout, char *err, size_t err_len)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            break;
        bool again = false;
        struct shared *sh = NULL;
        if (flock(fd, LOCK_EX) == 0) {
            sh = map_locked(fd, path, layout, &again);
            /* Unlocked by hand: the mapping holds the open file, and so its lock, past close(). */
            flock(fd, LOCK_UN);
        }
        int saved = errno;
        close(fd); /* the mapping stays */
        errno = saved;
        if (sh || !again) {
            if (!sh)
                break;
            return sh;
        }
    }
    snprintf(err, err_len, "PROVD_METRICS_FILE %.200s: %s", path, strerror(errno));
    return NULL;
}

struct metrics *metrics_open(const char *path, char *err, size_t err_len)
{
    if (router_route_count() >= METRICS_ROUTES_MAX) {
        snprintf(err, err_len, "the route table has more routes than METRICS_ROUTES_MAX");
        return NULL;
    }
    struct metrics *m = malloc(sizeof *m);
    if (!m) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    uint64_t layout = layout_of();
    if (path) {
        m->shared = map_file(path, layout, err, err_len);
    } else {
        m->shared = mmap(NULL, sizeof *m->shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m->shared == MAP_FAILED) {
            snprintf(err, err_len, "cannot map the counters: %s", strerror(errno));
            m->shared = NULL;
        } else {
            header_set(m->shared, layout);
        }
    }
    if (!m->shared) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_close(struct metrics *m)
{
    if (!m)
        return;
    munmap(m->shared, sizeof *m->shared);
    free(m);
}

static void add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_request(struct metrics *m, int route, int status, int64_t micros)
{
    if (!m)
        return;
    int slot = route >= 0 && route < router_route_count() ? route : NO_ROUTE_SLOT;
    int code = status / 100 - 1;
    if (code < 0 || code >= CODE_CLASSES)
        code = CODE_CLASSES - 1; /* no status a handler sets; as a failure */
    if (micros < 0)
        micros = 0;
    size_t bucket = 0;
    while (bucket < BUCKETS && micros > bucket_micros[bucket])
        bucket++;
    struct counters *c = &m->shared->c;
    add(&c->requests[slot][code], 1);
    add(&c->duration[slot][bucket], 1);
    add(&c->duration_micros[slot], (uint64_t)micros);
}

void metrics_reading(struct metrics *m, enum metrics_reading r)
{
    if (m)
        add(&m->shared->c.readings[r], 1);
}

void metrics_registration(struct metrics *m)
{
    if (m)
        add(&m->shared->c.registrations, 1);
}

void metrics_poll(struct metrics *m, enum metrics_poll p)
{
    if (m)
        add(&m->shared->c.polls[p], 1);
}

/* ---- the kept count of the fleet ---- */

static int64_t load64(const int64_t *v)
{
    return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static void store64(int64_t *v, int64_t n)
{
    __atomic_store_n(v, n, __ATOMIC_RELEASE);
}

/* A copy of the kept count, consistent, into out: false when none is kept or a writer is at it. */
static bool read_kept(const struct kept_fleet *k, struct store_fleet *out, int64_t *counted_at, int64_t *micros)
{
    int64_t *to = (int64_t *)out;
    for (int attempt = 0; attempt < 3; attempt++) {
        int64_t seq = load64(&k->seq);
        if (seq & 1)
            continue;
        *counted_at = load64(&k->counted_at);
        *micros = load64(&k->count_micros);
        for (size_t i = 0; i < sizeof k->fleet / sizeof k->fleet[0]; i++)
            to[i] = __atomic_load_n(&k->fleet[i], __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (load64(&k->seq) == seq)
            return *counted_at > 0;
    }
    return false;
}

enum metrics_fleet_answer metrics_fleet_kept(struct metrics *m, int64_t now, struct store_fleet *out,
                                             int64_t *counted_at)
{
    int64_t micros;
    if (!m || !read_kept(&m->shared->kept, out, counted_at, &micros) || micros < METRICS_FLEET_CHEAP_MICROS)
        return METRICS_FLEET_COUNT;
    int64_t recount_after = micros * METRICS_FLEET_RECOUNT_FACTOR / 1000000;
    if (now - *counted_at < recount_after)
        return METRICS_FLEET_KEPT;
    /* One recount at a time; a worker that died at it leaves the claim to run out. */
    int64_t *claim = &m->shared->kept.recount_claimed;
    int64_t claimed = load64(claim);
    int64_t until = now + 2 * (micros / 1000000) + 10;
    if (claimed > now || !__atomic_compare_exchange_n(claim, &claimed, until, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return METRICS_FLEET_KEPT;
    return METRICS_FLEET_KEPT_RECOUNT;
}

void metrics_fleet_counted(struct metrics *m, const struct store_fleet *fleet, int64_t counted_at, int64_t micros)
{
    if (!m)
        return;
    struct kept_fleet *k = &m->shared->kept;
    int64_t since = load64(&k->writing_since);
    if ((since != 0 && counted_at - since < WRITER_GONE_S) ||
        !__atomic_compare_exchange_n(&k->writing_since, &since, counted_at, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return; /* another writes a count as fresh as this one */
    int64_t seq = load64(&k->seq) | 1; /* odd: also after a writer that died mid-write */
    store64(&k->seq, seq);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    store64(&k->counted_at, counted_at);
    store64(&k->count_micros, micros);
    const int64_t *from = (const int64_t *)fleet;
    for (size_t i = 0; i < sizeof k->fleet / sizeof k->fleet[0]; i++)
        __atomic_store_n(&k->fleet[i], from[i], __ATOMIC_RELAXED);
    store64(&k->seq, seq + 1);
    store64(&k->recount_claimed, 0);
    store64(&k->writing_since, 0);
}

/* ---- the exposition ---- */

static void line(struct response *res, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void line(struct response *res, const char *format, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    if (n > 0)
        response_body_append(res, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static void family(struct response *res, const char *name, const char *type, const char *help)
{
    line(res, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *slot_name(int slot)
{
    return slot == NO_ROUTE_SLOT ? "unmatched" : router_route_name(slot);
}

/* The slots in use: the route table's, then the one of requests no route matched. */
static bool next_slot(int *slot)
{
    ++*slot;
    if (*slot == router_route_count())
        *slot = NO_ROUTE_SLOT;
    return *slot <= NO_ROUTE_SLOT;
}

static void write_requests(const struct counters *c, struct response *res)
{
    family(res, "provd_requests_total", "counter", "Requests answered, by route and status class.");
    for (int slot = -1; next_slot(&slot);)
        for (int code = 0; code < CODE_CLASSES; code++) {
            uint64_t n = get(&c->requests[slot][code]);
            if (n > 0)
                line(res, "provd_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n", slot_name(slot), code + 1,
                     (unsigned long long)n);
        }
    family(res, "provd_request_duration_seconds", "histogram",
           "Time from a request's arrival at the worker to its answer, by route.");
    for (int slot = -1; next_slot(&slot);) {
        uint64_t counts[BUCKETS + 1], total = 0;
        for (size_t b = 0; b <= BUCKETS; b++)
            total += counts[b] = get(&c->duration[slot][b]);
        if (total == 0)
            continue;
        const char *name = slot_name(slot);
        uint64_t below = 0;
        for (size_t b = 0; b < BUCKETS; b++) {
            below += counts[b];
            line(res, "provd_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n", name, bucket_le[b],
                 (unsigned long long)below);
        }
        line(res, "provd_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name,
             (unsigned long long)total);
        uint64_t micros = get(&c->duration_micros[slot]);
        line(res, "provd_request_duration_seconds_sum{route=\"%s\"} %llu.%06llu\n", name,
             (unsigned long long)(micros / 1000000), (unsigned long long)(micros % 1000000));
        line(res, "provd_request_duration_seconds_count{route=\"%s\"} %llu\n", name, (unsigned long long)total);
    }
}

static void write_labelled(struct response *res, const char *name, const char *label, const char *const *values,
                           const uint64_t *counts, int n)
{
    for (int i = 0; i < n; i++)
        line(res, "%s{%s=\"%s\"} %llu\n", name, label, values[i], (unsigned long long)get(&counts[i]));
}

static void write_counters(const struct counters *c, struct response *res)
{
    write_requests(c, res);
    family(res, "provd_readings_total", "counter", "Telemetry readings received, by result.");
    write_labelled(res, "provd_readings_total", "result", reading_results, c->readings, METRICS_READING__COUNT);
    family(res, "provd_registrations_total", "counter", "Devices registered for the first time.");
    line(res, "provd_registrations_total %llu\n", (unsigned long long)get(&c->registrations));
    family(res, "provd_polls_total", "counter", "Heartbeat polls answered, by answer: 304 or 200 with the configuration.");
    write_labelled(res, "provd_polls_total", "answer", poll_answers, c->polls, METRICS_POLL__COUNT);
}

static void write_fleet(const struct store_fleet *f, int64_t counted_at, struct response *res)
{
    family(res, "provd_fleet_counted_timestamp_seconds", "gauge",
           "When the device gauges below were counted (a large fleet is counted now and then, not per scrape).");
    line(res, "provd_fleet_counted_timestamp_seconds %lld\n", (long long)counted_at);
    family(res, "provd_devices", "gauge", "Devices by state.");
    line(res, "provd_devices{state=\"pending\"} %lld\n", (long long)f->pending);
    line(res, "provd_devices{state=\"accepted\"} %lld\n", (long long)f->accepted);
    line(res, "provd_devices{state=\"rejected\"} %lld\n", (long long)f->rejected);
    family(res, "provd_devices_liveness", "gauge",
           "Devices by liveness: online (seen within 2 poll intervals + 10 s), overdue (within 5), offline.");
    line(res, "provd_devices_liveness{liveness=\"online\"} %lld\n", (long long)f->online);
    line(res, "provd_devices_liveness{liveness=\"overdue\"} %lld\n", (long long)f->overdue);
    line(res, "provd_devices_liveness{liveness=\"offline\"} %lld\n", (long long)f->offline);
    family(res, "provd_database_bytes", "gauge",
           "Bytes the database takes: SQLite's file and write-ahead log, or pg_database_size().");
    line(res, "provd_database_bytes %lld\n", (long long)f->database_bytes);
    family(res, "provd_rollouts", "gauge", "Firmware rollouts under way, by state.");
    line(res, "provd_rollouts{state=\"running\"} %lld\n", (long long)f->rollouts_running);
    line(res, "provd_rollouts{state=\"paused\"} %lld\n", (long long)f->rollouts_paused);
    family(res, "provd_alerts_pending", "gauge", "Alerts in the outbox, not delivered yet.");
    line(res, "provd_alerts_pending %lld\n", (long long)f->alerts_pending);
    family(res, "provd_alerts_sent_total", "counter", "Alerts the webhook took (2xx), for the whole deployment.");
    line(res, "provd_alerts_sent_total %lld\n", (long long)f->alerts_sent);
    family(res, "provd_alerts_failed_total", "counter",
           "Alerts the webhook refused for good (a 4xx) and that were dropped, for the whole deployment.");
    line(res, "provd_alerts_failed_total %lld\n", (long long)f->alerts_failed);
}

void metrics_write(const struct metrics *m, const struct store_fleet *fleet, int64_t counted_at, struct response *res)
{
    response_body_start(res, 200);
    res->content_type = "text/plain; version=0.0.4";
    static const struct counters none; /* a program without metrics (tests) */
    write_counters(m ? &m->shared->c : &none, res);
    if (fleet)
        write_fleet(fleet, counted_at, res);
    family(res, "provd_database_up", "gauge", "1 when the database answered this scrape's counts, else 0.");
    line(res, "provd_database_up %d\n", fleet != NULL);
}
