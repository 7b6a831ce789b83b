/* Tests of the Telemetry In -> provd bridge with a real spool and a small HTTP server in the
 * test's own poll() loop: the request sent, results per connection, cut answers, refusals, a full
 * spool, retries and backoff, definitive answers, per-device order, frames of an earlier run. */
#define _GNU_SOURCE /* memmem, strcasestr, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "bridge.h"
#include "test_dirs.h"

#define FRAME(s) ((const uint8_t *)(s)), strlen(s)

/* A one-connection-at-a-time HTTP server: reads a whole request, answers replies[i] for the
 * i-th request (the last one again after the list; none when mute) and closes. Keeps the last
 * request and the body of each. */
enum { MAX_REQUESTS = 16 };

struct server {
    int listen_fd, client;
    uint16_t port;
    char url[64];
    char request[4096];
    size_t request_len;
    int requests;
    char bodies[MAX_REQUESTS][64];
    const char *replies[MAX_REQUESTS];
};

struct fixture {
    struct server srv;
    char dir[64];
    struct spool *spool;
    struct bridge *bridge;
    int conn_a, conn_b; /* their addresses stand for BLE connections */
    void *done_conn;
    int done_count;
    char log[4096]; /* every line, one after the other */
};

/* Listens on port (0: any free one). */
static void server_open(struct server *s, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons(port)};
    socklen_t len = sizeof(sa);
    int one = 1;

    s->client = -1;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(s->listen_fd >= 0);
    assert_int_equal(setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->listen_fd, 8), 0);
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/", s->port);
}

static void server_close(struct server *s)
{
    if (s->client >= 0)
        close(s->client);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->client = s->listen_fd = -1;
}

static const char *reply_for(const struct server *s, int i)
{
    if (i >= MAX_REQUESTS)
        i = MAX_REQUESTS - 1;
    while (i > 0 && !s->replies[i])
        i--;
    return s->replies[i];
}

/* Whether request holds the headers and the Content-Length bytes after them. */
static bool request_complete(const struct server *s)
{
    const char *end = memmem(s->request, s->request_len, "\r\n\r\n", 4);
    const char *cl = strcasestr(s->request, "Content-Length: ");

    return end && cl && (size_t)(end + 4 - s->request) + strtoul(cl + 16, NULL, 10) == s->request_len;
}

static void server_step(struct server *s, const struct pollfd *lfd, const struct pollfd *cfd)
{
    if ((lfd->revents & POLLIN) && s->client < 0) {
        s->client = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        s->request_len = 0;
    }
    if (s->client < 0 || !(cfd->revents & (POLLIN | POLLHUP)))
        return;
    ssize_t n = read(s->client, s->request + s->request_len, sizeof(s->request) - 1 - s->request_len);

    if (n > 0) {
        s->request_len += (size_t)n;
        s->request[s->request_len] = '\0';
    }
    if (n > 0 && request_complete(s)) {
        const char *body = strstr(s->request, "\r\n\r\n") + 4, *reply = reply_for(s, s->requests);

        if (s->requests < MAX_REQUESTS)
            snprintf(s->bodies[s->requests], sizeof(s->bodies[0]), "%s", body);
        s->requests++;
        if (!reply)
            return; /* mute: keep the connection open, never answer */
        assert_int_equal(write(s->client, reply, strlen(reply)), (ssize_t)strlen(reply));
    } else if (n != 0) {
        return;
    }
    close(s->client);
    s->client = -1;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The daemon's loop in miniature: runs bridge and server until done(f) holds; ms bounds a hang. */
static void run_until(struct fixture *f, bool (*done)(const struct fixture *f), unsigned ms)
{
    uint64_t end = mono_ms() + ms;

    while (!done(f)) {
        struct pollfd fds[2 + BRIDGE_MAX_SOCKETS] = {
            {.fd = f->srv.listen_fd, .events = POLLIN},
            {.fd = f->srv.client, .events = POLLIN},
        };
        size_t n = bridge_pollfds(f->bridge, fds + 2, BRIDGE_MAX_SOCKETS);
        int timeout = bridge_timeout_ms(f->bridge);

        assert_true(mono_ms() < end);
        assert_true(poll(fds, 2 + n, timeout < 0 || timeout > 50 ? 50 : timeout) >= 0);
        server_step(&f->srv, &fds[0], &fds[1]);
        bridge_process(f->bridge, fds + 2, n);
    }
}

static bool spool_empty(const struct fixture *f)
{
    return spool_frames(f->spool) == 0;
}

static bool two_failures(const struct fixture *f)
{
    const char *first = strstr(f->log, "forward failed: ");

    return first && strstr(first + 1, "forward failed: ");
}

static void on_done(void *user_data, void *conn)
{
    struct fixture *f = user_data;

    f->done_conn = conn;
    f->done_count++;
}

static void on_log(void *user_data, const char *line)
{
    struct fixture *f = user_data;
    size_t used = strlen(f->log);

    snprintf(f->log + used, sizeof(f->log) - used, "%s\n", line);
}

static struct bridge *bridge_for(struct fixture *f, const char *server, unsigned timeout_ms)
{
    struct bridge_config cfg = {.server = server,
                                .timeout_ms = timeout_ms,
                                .retry_min_ms = 20,
                                .max_conns = 2,
                                .spool = f->spool,
                                .done = on_done,
                                .log = on_log,
                                .user_data = f};

    return bridge_new(&cfg);
}

static struct spool *spool_in(struct fixture *f, size_t max_frames)
{
    const struct spool_limits limits = {1024 * 1024, max_frames};
    char path[96], why[200];

    snprintf(path, sizeof(path), "%s/spool.sqlite3", f->dir);
    spool_close(f->spool);
    assert_int_equal(spool_open(path, &limits, &f->spool, why, sizeof(why)), 0);
    return f->spool;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    server_open(&f->srv, 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/ble-bridge-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    spool_in(f, 100);
    f->bridge = bridge_for(f, f->srv.url, 2000);
    assert_non_null(f->bridge);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    bridge_free(f->bridge);
    spool_close(f->spool);
    server_close(&f->srv);
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* Telemetry Result of conn, NUL-terminated, into out (GATT_MAX_VALUE_LEN + 1 bytes). */
static int result(struct fixture *f, const void *conn, char *out)
{
    int n = bridge_result(f->bridge, conn, (uint8_t *)out, 512);

    assert_true(n > 0);
    out[n] = '\0';
    return n;
}

/* Status and body of a Telemetry Result. */
static int result_status(struct fixture *f, const void *conn, char *body, size_t cap)
{
    char text[513];
    struct json_object *o, *v;

    result(f, conn, text);
    assert_non_null(o = json_tokener_parse(text));
    assert_true(json_object_object_get_ex(o, "body", &v));
    snprintf(body, cap, "%s", json_object_get_string(v));
    assert_true(json_object_object_get_ex(o, "status", &v));
    int status = json_object_get_int(v);

    json_object_put(o);
    return status;
}

#define CREATED                                                                                                \
    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"                                               \
    "Content-Length: 24\r\nConnection: close\r\n\r\n{\"status\":\"OK\",\"seqn\":1}"
#define UNAVAILABLE "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define TOO_MANY "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define CONFLICT "HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define NOT_FOUND "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static void forward_and_result(void **state)
{
    struct fixture *f = *state;
    char text[513];

    f->srv.replies[0] = CREATED;
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"no forward yet\"}");
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("dev-1\n{\"v\":2}")), 0);
    /* On disk before bridge_submit returned */
    assert_int_equal(spool_frames(f->spool), 1);
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"queued\"}");
    run_until(f, spool_empty, 3000);

    assert_int_equal(f->done_count, 1);
    assert_ptr_equal(f->done_conn, &f->conn_a);
    assert_int_equal(f->srv.requests, 1);
    assert_true(!strncmp(f->srv.request, "POST /api/devices/dev-1/telemetry HTTP/1.1\r\n", 44));
    assert_non_null(strstr(f->srv.request, "\r\nContent-Type: application/json\r\n"));
    assert_string_equal(f->srv.bodies[0], "{\"v\":2}");
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":201,"
                              "\"body\":\"{\\\"status\\\":\\\"OK\\\",\\\"seqn\\\":1}\"}");
    assert_string_equal(f->log, "forwarded: device dev-1, 7 bytes, HTTP 201\n");
    /* Another connection has its own result */
    result(f, &f->conn_b, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"no forward yet\"}");
}

/* A server answer longer than the attribute is cut; the status survives. */
static void long_answer_cut(void **state)
{
    struct fixture *f = *state;
    static char reply[2200];
    char body[600], text[513];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 400 Bad Request\r\nContent-Length: 2000\r\n"
                     "Connection: close\r\n\r\n");

    memset(reply + n, 'x', 2000);
    f->srv.replies[0] = reply;
    assert_int_equal(bridge_submit(f->bridge, &f->conn_b, FRAME("d\n{}")), 0);
    run_until(f, spool_empty, 3000);
    assert_int_equal(result(f, &f->conn_b, text), 512);
    assert_int_equal(result_status(f, &f->conn_b, body, sizeof(body)), 400);
    assert_int_equal(strlen(body), 512 - strlen("{\"status\":400,\"body\":\"\"}"));
    assert_int_equal(strspn(body, "x"), strlen(body));
    assert_string_equal(f->log, "forwarded: device d, 2 bytes, HTTP 400\n");
}

/* Frames that must not reach the server or the spool, and a full spool. */
static void refusals(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("no newline")), -EINVAL);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("../../admin\n{}")), -EINVAL);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("a?b=1\n{}")), -EINVAL);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("dev\n")), -EINVAL);
    assert_int_equal(spool_frames(f->spool), 0);
    /* A spool of two frames: the third write is refused and stored nowhere */
    bridge_free(f->bridge);
    spool_in(f, 2);
    assert_non_null(f->bridge = bridge_for(f, f->srv.url, 2000));
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("d\n{1}")), 0);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("d\n{2}")), 0);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("d\n{3}")), -ENOSPC);
    assert_int_equal(spool_frames(f->spool), 2);
    f->srv.replies[0] = CREATED;
    run_until(f, spool_empty, 3000);
    assert_int_equal(f->srv.requests, 2);
    assert_string_equal(f->srv.bodies[0], "{1}");
    assert_string_equal(f->srv.bodies[1], "{2}");
}

/* 503 and 429 are retried, with backoff, until a definitive answer; the peer sees "queued"
 * meanwhile and one notification at the end. */
static void retried_until_definitive(void **state)
{
    struct fixture *f = *state;
    char text[513];

    f->srv.replies[0] = UNAVAILABLE;
    f->srv.replies[1] = TOO_MANY;
    f->srv.replies[2] = CREATED;
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("dev-1\n{1}")), 0);
    run_until(f, two_failures, 3000);
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"queued\"}");
    assert_int_equal(f->done_count, 0);
    run_until(f, spool_empty, 3000);
    assert_int_equal(f->srv.requests, 3);
    assert_int_equal(f->done_count, 1);
    assert_string_equal(f->log, "forward failed: device dev-1: HTTP 503; retry in 20 ms\n"
                                "forward failed: device dev-1: HTTP 429; retry in 40 ms\n"
                                "forwarded: device dev-1, 3 bytes, HTTP 201\n");
    assert_int_equal(result_status(f, &f->conn_a, text, sizeof(text)), 201);
}

/* 409 (already stored) and 404 end a frame as 2xx does: out of the spool, logged with the
 * status; the next frame of the device goes on. */
static void definitive_answers(void **state)
{
    struct fixture *f = *state;
    char body[600];

    assert_true(bridge_status_final(200) && bridge_status_final(201) && bridge_status_final(204));
    assert_true(bridge_status_final(400) && bridge_status_final(403) && bridge_status_final(404) &&
                bridge_status_final(409));
    assert_false(bridge_status_final(0) || bridge_status_final(301) || bridge_status_final(401) ||
                 bridge_status_final(408) || bridge_status_final(413) || bridge_status_final(429) ||
                 bridge_status_final(500) || bridge_status_final(502) || bridge_status_final(503));
    f->srv.replies[0] = CONFLICT;
    f->srv.replies[1] = NOT_FOUND;
    f->srv.replies[2] = CREATED;
    static const char *const frames[] = {"dev-1\n{1}", "dev-1\n{2}", "dev-1\n{3}"};

    for (size_t i = 0; i < 3; i++)
        assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME(frames[i])), 0);
    run_until(f, spool_empty, 3000);
    assert_int_equal(f->srv.requests, 3);
    assert_string_equal(f->log, "forwarded: device dev-1, 3 bytes, HTTP 409\n"
                                "forwarded: device dev-1, 3 bytes, HTTP 404\n"
                                "forwarded: device dev-1, 3 bytes, HTTP 201\n");
    /* The connection hears of its latest frame only */
    assert_int_equal(f->done_count, 1);
    assert_int_equal(result_status(f, &f->conn_a, body, sizeof(body)), 201);
}

/* One device's frames go in order, one at a time, and its retries hold back no other device. */
static void order_per_device(void **state)
{
    struct fixture *f = *state;

    f->srv.replies[0] = UNAVAILABLE;
    f->srv.replies[1] = CREATED;
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("d1\n{1}")), 0);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("d1\n{2}")), 0);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_b, FRAME("d2\n{3}")), 0);
    run_until(f, spool_empty, 3000);
    assert_int_equal(f->srv.requests, 4);
    /* The first request (whichever device it was for) got the 503; the other device's went on
     * while that one waited, and d1's frames arrived in order. */
    int last_1 = -1, at_2 = -1;

    for (int i = 0; i < 4; i++) {
        if (!strcmp(f->srv.bodies[i], "{1}"))
            last_1 = i;
        if (!strcmp(f->srv.bodies[i], "{2}"))
            at_2 = i;
    }
    assert_true(last_1 >= 0 && at_2 > last_1);
    assert_string_equal(f->srv.bodies[1], strcmp(f->srv.bodies[0], "{1}") ? "{1}" : "{3}");
}

/* provd not listening: the frame waits, retried, whether or not its connection is still
 * there; once provd listens again it is delivered. */
static void unreachable_then_back(void **state)
{
    struct fixture *f = *state;
    uint16_t port = f->srv.port;
    char text[513];

    server_close(&f->srv);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("dev-1\n{}")), 0);
    run_until(f, two_failures, 3000);
    assert_true(!strncmp(f->log, "forward failed: device dev-1: could not reach provd: ", 53));
    assert_non_null(strstr(f->log, "; retry in 20 ms\n"));
    assert_int_equal(spool_frames(f->spool), 1);
    /* The peer leaves: its result is forgotten, its frame is not */
    bridge_drop(f->bridge, &f->conn_a);
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"no forward yet\"}");
    server_open(&f->srv, port);
    f->srv.replies[0] = CREATED;
    run_until(f, spool_empty, 5000);
    assert_int_equal(f->srv.requests, 1);
    assert_int_equal(f->done_count, 0);
}

/* Frames left in the spool by an earlier run go, without any new write; one whose id is no
 * device id (the spool is a file anyone with the rights may edit) never reaches a URL. */
static void earlier_run_forwarded(void **state)
{
    struct fixture *f = *state;
    int64_t seq, bad;

    bridge_free(f->bridge);
    assert_int_equal(spool_put(f->spool, "../admin", (const uint8_t *)"{0}", 3, &bad), 0);
    assert_int_equal(spool_put(f->spool, "dev-1", (const uint8_t *)"{1}", 3, &seq), 0);
    assert_non_null(f->bridge = bridge_for(f, f->srv.url, 2000));
    f->srv.replies[0] = CREATED;
    run_until(f, spool_empty, 3000);
    assert_int_equal(f->srv.requests, 1);
    assert_string_equal(f->srv.bodies[0], "{1}");
    char line[64];

    snprintf(line, sizeof(line), "spool: frame %lld has no valid device id: dropped\n", (long long)bad);
    assert_true(!strncmp(f->log, line, strlen(line)));
}

static bool timed_out(const struct fixture *f)
{
    return strstr(f->log, "imed out") != NULL;
}

/* A server that never answers: the forward times out and is retried. */
static void slow_server_retried(void **state)
{
    struct fixture *f = *state;

    bridge_free(f->bridge);
    f->bridge = bridge_for(f, f->srv.url, 300);
    assert_int_equal(bridge_submit(f->bridge, &f->conn_a, FRAME("dev-1\n{}")), 0);
    run_until(f, timed_out, 5000);
    assert_true(!strncmp(f->log, "forward failed: device dev-1: could not reach provd: ", 53));
    assert_int_equal(f->srv.requests, 1);
    assert_int_equal(spool_frames(f->spool), 1);
}

static void server_urls(void **state)
{
    struct fixture *f = *state;
    char longest[BRIDGE_SERVER_MAX + 2] = "http://";

    assert_true(bridge_server_ok("http://127.0.0.1:8080"));
    assert_true(bridge_server_ok("https://provd.example/base/"));
    memset(longest + 7, 'h', BRIDGE_SERVER_MAX - 7);
    assert_true(bridge_server_ok(longest));
    longest[BRIDGE_SERVER_MAX] = 'h';
    assert_false(bridge_server_ok(longest));
    assert_false(bridge_server_ok("ftp://host"));
    assert_false(bridge_server_ok("http://"));
    assert_false(bridge_server_ok("http://a b"));
    assert_false(bridge_server_ok("http://a\nb"));
    assert_false(bridge_server_ok("http://a\"b"));
    assert_false(bridge_server_ok("http://a\\b"));
    assert_false(bridge_server_ok("127.0.0.1:8080"));
    assert_null(bridge_for(f, "file:///etc/passwd", 0));
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(forward_and_result),    T(long_answer_cut),       T(refusals),
        T(retried_until_definitive), T(definitive_answers), T(order_per_device),
        T(unreachable_then_back), T(earlier_run_forwarded), T(slow_server_retried),
        T(server_urls),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    curl_global_cleanup();
    return failed;
}
