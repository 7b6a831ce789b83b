/* Telemetry In -> provd over HTTP: one libcurl easy handle per forward in one multi handle,
 * whose sockets and timer the daemon's poll() loop watches; one slot per BLE connection. */
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

/* One connection's forward: in flight while easy is set, then its result. */
struct slot {
    const void *conn; /* NULL: free */
    CURL *easy;
    char id[TELEMETRY_ID_MAX + 1];
    size_t body_len;
    size_t answer_len; /* bytes the server sent; only BRIDGE_ANSWER_MAX kept */
    uint8_t answer[BRIDGE_ANSWER_MAX];
    char error[CURL_ERROR_SIZE];
    size_t result_len; /* 0: no forward finished yet */
    char result[GATT_MAX_VALUE_LEN];
};

struct watched {
    curl_socket_t fd;
    short events;
};

struct bridge {
    char server[BRIDGE_SERVER_MAX + 1];
    long timeout_ms;
    void (*done)(void *user_data, void *conn);
    void (*log)(void *user_data, const char *line);
    void *user_data;

    CURLM *multi;
    struct curl_slist *headers;
    uint64_t deadline; /* libcurl's timer, monotonic ms */
    size_t n_watched;
    struct watched watched[BRIDGE_MAX_SOCKETS];
    size_t n_slots;
    struct slot slots[];
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
    struct slot *s = user_data;
    size_t len = size * n, room = BRIDGE_ANSWER_MAX - s->answer_len;

    /* Past the cap the answer is read and dropped, so the status still arrives. */
    if (room > 0) {
        memcpy(s->answer + s->answer_len, data, len < room ? len : room);
        s->answer_len += len < room ? len : room;
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

struct bridge *bridge_new(const struct bridge_config *cfg)
{
    struct bridge *b;

    if (!cfg->server || !bridge_server_ok(cfg->server) || !cfg->done || !cfg->log || cfg->max_conns == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (!(b = calloc(1, sizeof(*b) + cfg->max_conns * sizeof(b->slots[0]))))
        return NULL;
    strcpy(b->server, cfg->server);
    /* "http://host/" and "http://host" name the same API root */
    for (size_t n = strlen(b->server); n > 0 && b->server[n - 1] == '/'; n--)
        b->server[n - 1] = '\0';
    b->timeout_ms = cfg->timeout_ms ? (long)cfg->timeout_ms : BRIDGE_TIMEOUT_MS;
    b->done = cfg->done;
    b->log = cfg->log;
    b->user_data = cfg->user_data;
    b->deadline = NO_DEADLINE;
    b->n_slots = cfg->max_conns;
    b->multi = curl_multi_init();
    b->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!b->multi || !b->headers ||
        curl_multi_setopt(b->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_SOCKETDATA, b) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_TIMERDATA, b) != CURLM_OK ||
        curl_multi_setopt(b->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cfg->max_conns) != CURLM_OK) {
        bridge_free(b);
        errno = ENOMEM;
        return NULL;
    }
    return b;
}

static void slot_stop(struct bridge *b, struct slot *s)
{
    if (!s->easy)
        return;
    curl_multi_remove_handle(b->multi, s->easy);
    curl_easy_cleanup(s->easy);
    s->easy = NULL;
}

void bridge_free(struct bridge *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_slots; i++)
        slot_stop(b, &b->slots[i]);
    curl_multi_cleanup(b->multi);
    curl_slist_free_all(b->headers);
    free(b);
}

/* The slot of conn (NULL: a free slot), or b->n_slots when there is none. */
static size_t slot_index(const struct bridge *b, const void *conn)
{
    size_t i;

    for (i = 0; i < b->n_slots && b->slots[i].conn != conn; i++)
        ;
    return i;
}

/* The easy handle of one forward; -EIO when libcurl refuses an option. */
static int slot_start(struct bridge *b, struct slot *s, const struct telemetry_frame *f)
{
    char url[BRIDGE_SERVER_MAX + TELEMETRY_ID_MAX + 32];

    /* The id was validated by telemetry_frame_parse: it needs no escaping in a path. */
    snprintf(url, sizeof(url), "%s/api/devices/%s/telemetry", b->server, f->id);
    if (!(s->easy = curl_easy_init()))
        return -ENOMEM;
    if (curl_easy_setopt(s->easy, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)f->body_len) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_COPYPOSTFIELDS, f->body) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, b->headers) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "provd-ble-agent") != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_answer) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->error) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, b->timeout_ms) != CURLE_OK ||
        curl_multi_add_handle(b->multi, s->easy) != CURLM_OK) {
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
        return -EIO;
    }
    return 0;
}

int bridge_forward(struct bridge *b, void *conn, const uint8_t *value, size_t len)
{
    struct telemetry_frame f;
    size_t i;
    int err;

    if (telemetry_frame_parse(value, len, &f) < 0)
        return -EINVAL;
    if ((i = slot_index(b, conn)) < b->n_slots && b->slots[i].easy)
        return -EBUSY;
    if (i == b->n_slots && (i = slot_index(b, NULL)) == b->n_slots)
        return -ENOSPC;
    struct slot *s = &b->slots[i];

    memset(s, 0, sizeof(*s));
    if ((err = slot_start(b, s, &f)) < 0)
        return err;
    s->conn = conn;
    memcpy(s->id, f.id, sizeof(s->id));
    s->body_len = f.body_len;
    return 0;
}

/* The transfer on s ended: its result replaces the last one, and the daemon hears of it. */
static void slot_finish(struct bridge *b, struct slot *s, CURLcode code)
{
    long status = 0;
    char why[CURL_ERROR_SIZE + 64];
    int n;

    if (code == CURLE_OK) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        say(b, "forwarded: device %s, %zu bytes, HTTP %ld", s->id, s->body_len, status);
        n = telemetry_result_format((int)status, s->answer, s->answer_len, s->result, sizeof(s->result));
    } else {
        /* As an HTTP gateway would answer: 504 when provd was too slow, else 502. */
        status = code == CURLE_OPERATION_TIMEDOUT ? 504 : 502;
        snprintf(why, sizeof(why), "ble-agent could not reach provd: %s",
                 s->error[0] ? s->error : curl_easy_strerror(code));
        say(b, "forward failed: device %s: %s", s->id, why + strlen("ble-agent "));
        n = telemetry_result_format((int)status, (const uint8_t *)why, strlen(why), s->result,
                                    sizeof(s->result));
    }
    slot_stop(b, s);
    s->result_len = n > 0 ? (size_t)n : 0;
    b->done(b->user_data, (void *)s->conn);
}

int bridge_result(const struct bridge *b, const void *conn, uint8_t *buf, size_t cap)
{
    size_t i = slot_index(b, conn);
    const struct slot *s = i < b->n_slots ? &b->slots[i] : NULL;
    const char *state = s && s->easy ? "forwarding" : "no forward yet";

    if (s && !s->easy && s->result_len) {
        if (s->result_len > cap)
            return -ENOSPC;
        memcpy(buf, s->result, s->result_len);
        return (int)s->result_len;
    }
    return telemetry_result_format(0, (const uint8_t *)state, strlen(state), (char *)buf, cap);
}

void bridge_drop(struct bridge *b, const void *conn)
{
    size_t i = conn ? slot_index(b, conn) : b->n_slots;

    if (i == b->n_slots)
        return;
    slot_stop(b, &b->slots[i]);
    memset(&b->slots[i], 0, sizeof(b->slots[i]));
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

int bridge_timeout_ms(const struct bridge *b)
{
    uint64_t now = mono_ms();

    if (b->deadline == NO_DEADLINE)
        return -1;
    return b->deadline <= now ? 0 : (int)(b->deadline - now);
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
        struct slot *s;

        if (msg->msg == CURLMSG_DONE &&
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s) == CURLE_OK)
            slot_finish(b, s, msg->data.result);
    }
}
