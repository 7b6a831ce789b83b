/* Tests of the Telemetry In -> provd bridge against a small HTTP server in the test's own poll()
 * loop: the request sent, results per connection, cut answers, refusals, errors and timeouts. */
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

#define FRAME(s) ((const uint8_t *)(s)), strlen(s)

/* A one-connection-at-a-time HTTP server: reads a whole request, answers `reply` (or nothing
 * when mute) and closes. */
struct server {
    int listen_fd, client;
    char url[64];
    char request[4096];
    size_t request_len;
    int requests;
    const char *reply;
};

struct fixture {
    struct server srv;
    struct bridge *bridge;
    int conn_a, conn_b, conn_c; /* their addresses stand for BLE connections */
    void *done_conn;
    int done_count;
    char last_log[256];
};

static void server_open(struct server *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);

    s->client = -1;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(s->listen_fd >= 0);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/", ntohs(sa.sin_port));
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
        s->requests++;
        if (!s->reply)
            return; /* mute: keep the connection open, never answer */
        assert_int_equal(write(s->client, s->reply, strlen(s->reply)), (ssize_t)strlen(s->reply));
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

/* The daemon's loop in miniature: runs bridge and server until `done_count` reaches want. */
static void run_until_done(struct fixture *f, int want, unsigned ms)
{
    uint64_t end = mono_ms() + ms;

    while (f->done_count < want) {
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

static void on_done(void *user_data, void *conn)
{
    struct fixture *f = user_data;

    f->done_conn = conn;
    f->done_count++;
}

static void on_log(void *user_data, const char *line)
{
    snprintf(((struct fixture *)user_data)->last_log, 256, "%s", line);
}

static struct bridge *bridge_for(struct fixture *f, const char *server, unsigned timeout_ms, size_t max_conns)
{
    struct bridge_config cfg = {.server = server,
                                .timeout_ms = timeout_ms,
                                .max_conns = max_conns,
                                .done = on_done,
                                .log = on_log,
                                .user_data = f};

    return bridge_new(&cfg);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    server_open(&f->srv);
    f->bridge = bridge_for(f, f->srv.url, 2000, 2);
    assert_non_null(f->bridge);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bridge_free(f->bridge);
    if (f->srv.client >= 0)
        close(f->srv.client);
    close(f->srv.listen_fd);
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

static void forward_and_result(void **state)
{
    struct fixture *f = *state;
    char text[513];

    f->srv.reply = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                   "Content-Length: 24\r\nConnection: close\r\n\r\n{\"status\":\"OK\",\"seqn\":1}";
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"no forward yet\"}");
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("dev-1\n{\"v\":2}")), 0);
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"forwarding\"}");
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("dev-1\n{\"v\":3}")), -EBUSY);
    run_until_done(f, 1, 3000);

    assert_ptr_equal(f->done_conn, &f->conn_a);
    assert_int_equal(f->srv.requests, 1);
    assert_true(!strncmp(f->srv.request, "POST /api/devices/dev-1/telemetry HTTP/1.1\r\n", 44));
    assert_non_null(strstr(f->srv.request, "\r\nContent-Type: application/json\r\n"));
    assert_string_equal(f->srv.request + f->srv.request_len - 7, "{\"v\":2}");
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":201,"
                              "\"body\":\"{\\\"status\\\":\\\"OK\\\",\\\"seqn\\\":1}\"}");
    assert_string_equal(f->last_log, "forwarded: device dev-1, 7 bytes, HTTP 201");
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
    f->srv.reply = reply;
    assert_int_equal(bridge_forward(f->bridge, &f->conn_b, FRAME("d\n{}")), 0);
    run_until_done(f, 1, 3000);
    assert_int_equal(result(f, &f->conn_b, text), 512);
    assert_int_equal(result_status(f, &f->conn_b, body, sizeof(body)), 400);
    assert_int_equal(strlen(body), 512 - strlen("{\"status\":400,\"body\":\"\"}"));
    assert_int_equal(strspn(body, "x"), strlen(body));
}

/* Frames that must not reach the server, and the connection limit. */
static void refusals(void **state)
{
    struct fixture *f = *state;
    char text[513];

    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("no newline")), -EINVAL);
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("../../admin\n{}")), -EINVAL);
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("a?b=1\n{}")), -EINVAL);
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("dev\n")), -EINVAL);
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("d\n{}")), 0);
    assert_int_equal(bridge_forward(f->bridge, &f->conn_b, FRAME("d\n{}")), 0);
    assert_int_equal(bridge_forward(f->bridge, &f->conn_c, FRAME("d\n{}")), -ENOSPC);
    /* A dropped connection's forward is abandoned and its slot free again */
    bridge_drop(f->bridge, &f->conn_a);
    result(f, &f->conn_a, text);
    assert_string_equal(text, "{\"status\":0,\"body\":\"no forward yet\"}");
    assert_int_equal(bridge_forward(f->bridge, &f->conn_c, FRAME("d\n{}")), 0);
    f->srv.reply = "HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    run_until_done(f, 2, 3000);
    assert_int_equal(f->srv.requests, 2);
    assert_ptr_not_equal(f->done_conn, &f->conn_a);
}

static void unreachable_is_502(void **state)
{
    struct fixture *f = *state;
    char body[600];

    /* The test server's port, closed: connection refused */
    close(f->srv.listen_fd);
    f->srv.listen_fd = -1;
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("dev-1\n{}")), 0);
    run_until_done(f, 1, 3000);
    assert_int_equal(result_status(f, &f->conn_a, body, sizeof(body)), 502);
    assert_true(!strncmp(body, "ble-agent could not reach provd: ", 33));
    assert_true(!strncmp(f->last_log, "forward failed: device dev-1: could not reach provd", 51));
}

static void slow_server_is_504(void **state)
{
    struct fixture *f = *state;
    char body[600];
    uint64_t started = mono_ms();

    bridge_free(f->bridge);
    f->bridge = bridge_for(f, f->srv.url, 300, 2);
    assert_int_equal(bridge_forward(f->bridge, &f->conn_a, FRAME("dev-1\n{}")), 0);
    run_until_done(f, 1, 3000);
    assert_int_equal(f->srv.requests, 1);
    assert_int_equal(result_status(f, &f->conn_a, body, sizeof(body)), 504);
    assert_true(mono_ms() - started >= 300 && mono_ms() - started < 1500);
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
    assert_null(bridge_for(f, "file:///etc/passwd", 0, 1));
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(forward_and_result), T(long_answer_cut),    T(refusals),
        T(unreachable_is_502), T(slow_server_is_504), T(server_urls),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    curl_global_cleanup();
    return failed;
}
