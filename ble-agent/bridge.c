/* Telemetry In -> provd over HTTP: frames from the spool, one libcurl easy handle per forward in
 * one multi handle whose sockets and timer the daemon's poll() loop watches; per-device order and
 * backoff; the Telemetry Result of each BLE connection's latest frame. */
#include "bridge.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gatt_db.h"
#include "telemetry_frame.h"

#define NO_DEADLINE UINT64_MAX

/* One transfer: in flight while easy is set. */
struct forward {
    CURL *easy;
    int64_t seq;
    char id[TELEMETRY_ID_MAX + 1];
    size_t body_len;
    size_t answer_len; /* bytes the server sent; only BRIDGE_ANSWER_MAX kept */
    uint8_t answer[BRIDGE_ANSWER_MAX];
    char error[CURL_ERROR_SIZE];
};

/* One connection's Telemetry Result. */
struct result {
    const void *conn;  /* NULL: free */
    int64_t seq;       /* the latest frame written on conn while it waits; 0 once it ended */
    size_t result_len; /* 0: no frame of conn ended yet */
    char result[GATT_MAX_VALUE_LEN];
};

/* A device whose oldest frame failed: no attempt before next_ms (NO_DEADLINE while one runs). */
struct backoff {
    char id[TELEMETRY_ID_MAX + 1];
    unsigned failures;
    uint64_t next_ms;
};

struct watched {
    curl_socket_t fd;
    short events;
};

struct bridge {
    char server[BRIDGE_SERVER_MAX + 1];
    long timeout_ms;
    unsigned retry_min_ms;
    struct spool *spool;
    void (*done)(void *user_data, void *conn);
    void (*log)(void *user_data, const char *line);
    void *user_data;

    CURLM *multi;
    struct curl_slist *headers;
    uint64_t deadline; /* libcurl's timer, monotonic ms */
    size_t n_watched;
    struct watched watched[BRIDGE_MAX_SOCKETS];
    bool rescan; /* the spool may hold a frame that can start now */
    char cursor[TELEMETRY_ID_MAX + 1]; /* the device started last: the next pass begins after it */
    struct forward forwards[BRIDGE_MAX_IN_FLIGHT];
    /* At most one entry per device in the spool, so bounded by the spool's frame limit. */
    struct backoff *backoffs;
    size_t n_backoffs, cap_backoffs;
    size_t n_results;
    struct result results[];
};

/*
 * How libcurl runs inside our poll() loop. curl_multi_poll() and curl_multi_wait() block in
 * their own poll (with a zero timeout they would only be a busy loop), and curl_multi_fdset()
 * is for select() and cannot name descriptors >= FD_SETSIZE. So we use the event interface:
 * CURLMOPT_SOCKETFUNCTION tells us which socket to watch for what (kept in b->watched and
 * handed to poll() by bridge_pollfds), CURLMOPT_TIMERFUNCTION when libcurl wants to be called
 * back (b->deadline, folded into poll()'s timeout), and curl_multi_socket_action() then does
 * only the work that is ready. No call waits, so HCI traffic is never held up by HTTP.
 */

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 2, 3))) static void say(struct bridge *b, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    b->log(b->user_data, line);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *user_data, void *socket_data)
{
    struct bridge *b = user_data;
    size_t i;

    (void)easy;
    (void)socket_data;
    for (i = 0; i < b->n_watched && b->watched[i].fd != fd; i++)
        ;
    if (what == CURL_POLL_REMOVE) {
        if (i < b->n_watched)
            b->watched[i] = b->watched[--b->n_watched];
        return 0;
    }
    /* A socket past the table is not watched: its transfer then ends at its timeout. Returning
     * -1 instead would make libcurl give up the whole multi handle. */
    if (i == b->n_watched) {
        if (i == BRIDGE_MAX_SOCKETS)
            return 0;
        b->n_watched++;
    }
    b->watched[i].fd = fd;
    b->watched[i].events =
        (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    return 0;
}

/* libcurl must not be re-entered from here: the loop calls it when the deadline passes. */
static int on_timer(CURLM *multi, long timeout_ms, void *user_data)
{
    struct bridge *b = user_data;

    (void)multi;
    b->deadline = timeout_ms < 0 ? NO_DEADLINE : mono_ms() + (uint64_t)timeout_ms;
    return 0;
}

static size_t on_answer(char *data, size_t size, size_t n, void *user_data)
{
    struct forward *f = user_data;
    size_t len = size * n, room = BRIDGE_ANSWER_MAX - f->answer_len;

    /* Past the cap the answer is read and dropped, so the status still arrives. */
    if (room > 0) {
        memcpy(f->answer + f->answer_len, data, len < room ? len : room);
        f->answer_len += len < room ? len : room;
    }
    return len;
}

bool bridge_server_ok(const char *url)
{
    size_t n = strlen(url);

    if (n > BRIDGE_SERVER_MAX || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return false;
    /* Printable ASCII less what RFC 3986 never allows unescaped (so Gateway Info's JSON
     * needs no escapes either) */
    for (size_t i = 0; i < n; i++)
        if (url[i] <= ' ' || url[i] > '~' || strchr("\"<>\\^`{|}", url[i]))
            return false;
    return n > strlen("https://");
}

bool bridge_status_final(long status)
{
    return (status >= 200 && status < 300) || status == 400 || status == 403 || status == 404 || status == 409;
}

struct bridge *bridge_new(const struct bridge_config *cfg)
{
    struct bridge *b;

    if (!cfg->server || !bridge_server_ok(cfg->server) || !cfg->spool || !cfg->done || !cfg->log ||
        cfg->max_conns == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (!(b = calloc(1, sizeof(*b) + cfg->max_conns * sizeof(b->results[0]))))
        return NULL;
    strcpy(b->server, cfg->server);
    /* "http://host/" and "http://host" name the same API root */
    for (size_t n = strlen(b->server); n > 0 && b->server[n - 1] == '/'; n--)
        b->server[n - 1] = '\0';
    b->timeout_ms = cfg->timeout_ms ? (long)cfg->timeout_ms : BRIDGE_TIMEOUT_MS;
    b->retry_min_ms = cfg->retry_min_ms ? cfg->retry_min_ms : BRIDGE_RETRY_MIN_MS;
    b->spool = cfg->spool;
    b->done = cfg->done;
    b->log = cfg->log;
    b->user_data = cfg->user_data;
    b->deadline = NO_DEADLINE;
    b->rescan = true; /* frames a previous run left in the spool */
    b->n_results = cfg->max_conns;
    b->multi = curl_multi_init();
    b->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!b->multi || !b->headers ||
        curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, b) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, b) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)BRIDGE_MAX_IN_FLIGHT) != CURLM_OK) {
        bridge_free(b);
        errno = ENOMEM;
        return NULL;
    }
    return b;
}

static void forward_stop(struct bridge *b, struct forward *f)
{
    if (!f->easy)
        return;
    curl_multi_remove_handle(b->multi, f->easy);
    curl_easy_cleanup(f->easy);
    f->easy = NULL;
}

void bridge_free(struct bridge *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < BRIDGE_MAX_IN_FLIGHT; i++)
        forward_stop(b, &b->forwards[i]);
    curl_multi_cleanup(b->multi);
    curl_slist_free_all(b->headers);
    free(b->backoffs);
    free(b);
}

/* ---- backoff per device ---- */

static struct backoff *backoff_find(const struct bridge *b, const char *id)
{
    for (size_t i = 0; i < b->n_backoffs; i++)
        if (!strcmp(b->backoffs[i].id, id))
            return &b->backoffs[i];
    return NULL;
}

static void backoff_clear(struct bridge *b, const char *id)
{
    struct backoff *e = backoff_find(b, id);

    if (e)
        *e = b->backoffs[--b->n_backoffs];
}

/* One more failure of id's oldest frame: the milliseconds until its next attempt. */
static unsigned backoff_bump(struct bridge *b, const char *id)
{
    struct backoff *e = backoff_find(b, id);
    unsigned wait = b->retry_min_ms;

    if (!e) {
        if (b->n_backoffs == b->cap_backoffs) {
            size_t cap = b->cap_backoffs ? 2 * b->cap_backoffs : 8;
            struct backoff *grown = realloc(b->backoffs, cap * sizeof(*grown));

            /* Without memory the device is retried at the next rescan instead. */
            if (!grown)
                return 0;
            b->backoffs = grown;
            b->cap_backoffs = cap;
        }
        e = &b->backoffs[b->n_backoffs++];
        memset(e, 0, sizeof(*e));
        memcpy(e->id, id, sizeof(e->id));
    }
    for (unsigned i = 0; i < e->failures && wait < BRIDGE_RETRY_MAX_MS; i++)
        wait *= 2;
    if (wait > BRIDGE_RETRY_MAX_MS)
        wait = BRIDGE_RETRY_MAX_MS;
    e->failures++;
    e->next_ms = mono_ms() + wait;
    return wait;
}

/* The earliest attempt a backoff allows, NO_DEADLINE when none waits. */
static uint64_t backoff_next(const struct bridge *b)
{
    uint64_t next = NO_DEADLINE;

    for (size_t i = 0; i < b->n_backoffs; i++)
        if (b->backoffs[i].next_ms < next)
            next = b->backoffs[i].next_ms;
    return next;
}

/* ---- starting forwards ---- */

/* The index of a forward slot with no transfer, BRIDGE_MAX_IN_FLIGHT when all are taken. */
static size_t free_forward(const struct bridge *b)
{
    size_t i;

    for (i = 0; i < BRIDGE_MAX_IN_FLIGHT && b->forwards[i].easy; i++)
        ;
    return i;
}

static bool device_in_flight(const struct bridge *b, const char *id)
{
    for (size_t i = 0; i < BRIDGE_MAX_IN_FLIGHT; i++)
        if (b->forwards[i].easy && !strcmp(b->forwards[i].id, id))
            return true;
    return false;
}

/* The easy handle of one forward; -ENOMEM, or -EIO when libcurl refuses an option. */
static int forward_start(struct bridge *b, struct forward *f, const struct spool_frame *frame)
{
    char url[BRIDGE_SERVER_MAX + TELEMETRY_ID_MAX + 32];

    memset(f, 0, sizeof(*f));
    /* The id was validated (start_head): it needs no escaping in a path. */
    snprintf(url, sizeof(url), "%s/api/devices/%s/telemetry", b->server, frame->id);
    if (!(f->easy = curl_easy_init()))
        return -ENOMEM;
    if (curl_easy_setopt(f->easy, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_POSTFIELDSIZE, (long)frame->body_len) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_COPYPOSTFIELDS, frame->body) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, b->headers) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "provd-ble-agent") != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_answer) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->error) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, b->timeout_ms) != CURLE_OK ||
        curl_multi_add_handle(b->multi, f->easy) != CURLM_OK) {
        curl_easy_cleanup(f->easy);
        f->easy = NULL;
        return -EIO;
    }
    f->seq = frame->seq;
    snprintf(f->id, sizeof(f->id), "%s", frame->id);
    f->body_len = frame->body_len;
    return 0;
}

/* spool_heads callback: starts the device's oldest frame unless the device is in flight or
 * waiting; stops when every forward slot is taken. */
static bool start_head(void *user_data, const struct spool_frame *frame)
{
    struct bridge *b = user_data;
    size_t slot = free_forward(b);
    struct backoff *e;
    int err;

    if (slot == BRIDGE_MAX_IN_FLIGHT)
        return false;
    /* The spool is a file: what it says goes near a URL only once checked again. */
    if (!telemetry_id_valid((const uint8_t *)frame->id, strlen(frame->id))) {
        say(b, "spool: frame %lld has no valid device id: dropped", (long long)frame->seq);
        if (spool_remove(b->spool, frame->seq) < 0)
            say(b, "spool: %s", spool_error(b->spool));
        return true;
    }
    if (device_in_flight(b, frame->id))
        return true;
    if ((e = backoff_find(b, frame->id)) && e->next_ms > mono_ms())
        return true;
    if ((err = forward_start(b, &b->forwards[slot], frame)) < 0) {
        say(b, "forward failed: device %s: cannot start a transfer: %s; retry in %u ms", frame->id,
            strerror(-err), backoff_bump(b, frame->id));
        return true;
    }
    if (e)
        e->next_ms = NO_DEADLINE; /* set again by its outcome */
    memcpy(b->cursor, b->forwards[slot].id, sizeof(b->cursor));
    return true;
}

/* Starts what may start, the devices in turn from the one after the last started (so that a
 * device with a long queue takes no more than its share of the forwards). Backoffs still due
 * after a whole pass name devices that have no frame any more: they go, so that a due backoff
 * never spins the loop. */
static void pump(struct bridge *b)
{
    uint64_t now = mono_ms();

    if (!b->rescan)
        return;
    b->rescan = false;
    if (spool_heads(b->spool, b->cursor, start_head, b) < 0) {
        say(b, "spool: %s", spool_error(b->spool));
        return;
    }
    if (free_forward(b) == BRIDGE_MAX_IN_FLIGHT)
        return;
    for (size_t i = b->n_backoffs; i-- > 0;)
        if (b->backoffs[i].next_ms <= now)
            b->backoffs[i] = b->backoffs[--b->n_backoffs];
}

/* ---- results per connection ---- */

static struct result *result_find(const struct bridge *b, const void *conn)
{
    for (size_t i = 0; i < b->n_results; i++)
        if (b->results[i].conn == conn)
            return (struct result *)&b->results[i];
    return NULL;
}

int bridge_submit(struct bridge *b, void *conn, const uint8_t *value, size_t len)
{
    struct telemetry_frame tf;
    struct result *r;
    int64_t seq;
    int err;

    if (telemetry_frame_parse(value, len, &tf) < 0)
        return -EINVAL;
    if ((err = spool_put(b->spool, tf.id, tf.body, tf.body_len, &seq)) < 0) {
        if (err == -EIO)
            say(b, "spool: %s", spool_error(b->spool));
        return err;
    }
    b->rescan = true;
    /* A connection past max_conns still has its frame forwarded; only its result is not kept. */
    if (!(r = result_find(b, conn)) && (r = result_find(b, NULL)))
        r->conn = conn;
    if (r)
        r->seq = seq;
    return 0;
}

/* A frame's life ended with provd's answer (or our words for why): out of the spool, its
 * device's backoff reset, and the connection that wrote it last hears of it. */
static void frame_end(struct bridge *b, const struct forward *f, long status, const uint8_t *answer,
                      size_t answer_len)
{
    say(b, "forwarded: device %s, %zu bytes, HTTP %ld", f->id, f->body_len, status);
    if (spool_remove(b->spool, f->seq) < 0)
        say(b, "spool: %s (the frame will be sent again; provd answers 409)", spool_error(b->spool));
    backoff_clear(b, f->id);
    for (size_t i = 0; i < b->n_results; i++) {
        struct result *r = &b->results[i];
        int n;

        if (!r->conn || r->seq != f->seq)
            continue;
        n = telemetry_result_format((int)status, answer, answer_len, r->result, sizeof(r->result));
        r->result_len = n > 0 ? (size_t)n : 0;
        r->seq = 0;
        b->done(b->user_data, (void *)r->conn);
    }
}

/* The transfer of f ended: a definitive answer ends the frame, anything else waits and retries. */
static void forward_finish(struct bridge *b, struct forward *f, CURLcode code)
{
    long status = 0;
    unsigned wait;

    if (code == CURLE_OK)
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK && bridge_status_final(status)) {
        frame_end(b, f, status, f->answer, f->answer_len);
    } else {
        wait = backoff_bump(b, f->id);
        if (code == CURLE_OK)
            say(b, "forward failed: device %s: HTTP %ld; retry in %u ms", f->id, status, wait);
        else
            say(b, "forward failed: device %s: could not reach provd: %s; retry in %u ms", f->id,
                f->error[0] ? f->error : curl_easy_strerror(code), wait);
    }
    forward_stop(b, f);
    b->rescan = true;
}

int bridge_result(const struct bridge *b, const void *conn, uint8_t *buf, size_t cap)
{
    const struct result *r = conn ? result_find(b, conn) : NULL;
    const char *state = r && r->seq ? "queued" : "no forward yet";

    if (r && !r->seq && r->result_len) {
        if (r->result_len > cap)
            return -ENOSPC;
        memcpy(buf, r->result, r->result_len);
        return (int)r->result_len;
    }
    return telemetry_result_format(0, (const uint8_t *)state, strlen(state), (char *)buf, cap);
}

void bridge_drop(struct bridge *b, const void *conn)
{
    struct result *r = conn ? result_find(b, conn) : NULL;

    if (r)
        memset(r, 0, sizeof(*r));
}

size_t bridge_pollfds(const struct bridge *b, struct pollfd *fds, size_t cap)
{
    size_t n = b->n_watched < cap ? b->n_watched : cap;

    for (size_t i = 0; i < n; i++) {
        fds[i].fd = b->watched[i].fd;
        fds[i].events = b->watched[i].events;
        fds[i].revents = 0;
    }
    return n;
}

/* A backoff counts only while a forward slot is free: with none, a finishing transfer rescans. */
static uint64_t next_work_ms(const struct bridge *b)
{
    uint64_t next = b->deadline;
    uint64_t retry = free_forward(b) < BRIDGE_MAX_IN_FLIGHT ? backoff_next(b) : NO_DEADLINE;

    return retry < next ? retry : next;
}

int bridge_timeout_ms(const struct bridge *b)
{
    uint64_t now = mono_ms(), next = next_work_ms(b);

    if (b->rescan)
        return 0;
    if (next == NO_DEADLINE)
        return -1;
    return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

void bridge_process(struct bridge *b, const struct pollfd *fds, size_t n)
{
    int running, left;
    CURLMsg *msg;

    for (size_t i = 0; i < n; i++) {
        int ev = ((fds[i].revents & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0) |
                 ((fds[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
                 ((fds[i].revents & POLLERR) ? CURL_CSELECT_ERR : 0);

        if (ev)
            curl_multi_socket_action(b->multi, fds[i].fd, ev, &running);
    }
    if (b->deadline != NO_DEADLINE && b->deadline <= mono_ms()) {
        b->deadline = NO_DEADLINE;
        curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    while ((msg = curl_multi_info_read(b->multi, &left))) {
        struct forward *f;

        if (msg->msg == CURLMSG_DONE &&
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f) == CURLE_OK)
            forward_finish(b, f, msg->data.result);
    }
    if (free_forward(b) < BRIDGE_MAX_IN_FLIGHT && backoff_next(b) <= mono_ms())
        b->rescan = true;
    pump(b);
}
