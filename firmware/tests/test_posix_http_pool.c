/* test_posix_http_pool.c: devsim's HTTP pool against a small HTTP/1.1 keep-alive server in a
 * child process: answers, headers and bodies, oversized bodies cut off, the connection bound,
 * streamed bodies with their Content-Range, and a stream its consumer stops. */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "http_pool.h"

#define MAX_CONNS 16
#define REQ_MAX   4096
#define BIG_BODY  5000

struct conn {
    int fd;
    size_t len;
    char buf[REQ_MAX];
};

/* The server's own counters, reported at GET /stats. */
static int accepted_total, open_max;

static void reply(int fd, int status, const char *body, size_t len)
{
    char head[128];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n", status, len);

    if (write(fd, head, (size_t)n) != n || write(fd, body, len) != (ssize_t)len)
        _exit(3);
}

/* /image: BIG_BODY bytes (byte i is i % 251), from N on with a 206 when the request has
 * "Range: bytes=N-". */
static void reply_image(int fd, const char *request)
{
    const char *range = strcasestr(request, "\r\nRange: bytes=");
    size_t from = range ? strtoul(range + 15, NULL, 10) : 0, i;
    char head[160], body[BIG_BODY];
    int n;

    for (i = 0; i < BIG_BODY; i++)
        body[i] = (char)(i % 251);
    if (range)
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 206 X\r\nContent-Range: bytes %zu-%d/%d\r\nContent-Length: %zu\r\n\r\n", from,
                     BIG_BODY - 1, BIG_BODY, BIG_BODY - from);
    else
        n = snprintf(head, sizeof head, "HTTP/1.1 200 X\r\nContent-Length: %d\r\n\r\n", BIG_BODY);
    if (write(fd, head, (size_t)n) != n || write(fd, body + from, BIG_BODY - from) != (ssize_t)(BIG_BODY - from))
        _exit(3);
}

/* Answers one complete request at the start of c->buf; returns its length, or 0 if incomplete.
 * /small: "hello"; /big: BIG_BODY bytes; /image: see reply_image(); /status/N: status N; /echo:
 * the request itself, 201. */
static size_t answer(struct conn *c)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), path[64] = "", body[BIG_BODY];
    const char *cl;
    size_t head, total, body_len = 0;
    int status;

    if (!end)
        return 0;
    *end = '\0';
    head = (size_t)(end - c->buf) + 4;
    cl = strcasestr(c->buf, "\r\nContent-Length:");
    total = head + (cl ? strtoul(cl + 17, NULL, 10) : 0);
    *end = '\r';
    if (c->len < total)
        return 0;
    sscanf(c->buf, "%*s %63s", path);
    if (strcmp(path, "/small") == 0) {
        reply(c->fd, 200, "hello", 5);
    } else if (strcmp(path, "/image") == 0) {
        *end = '\0';
        reply_image(c->fd, c->buf);
        *end = '\r';
    } else if (strcmp(path, "/big") == 0) {
        memset(body, 'b', sizeof body);
        reply(c->fd, 200, body, sizeof body);
    } else if (strncmp(path, "/status/", 8) == 0) {
        status = atoi(path + 8);
        reply(c->fd, status, "{}", 2);
    } else if (strcmp(path, "/echo") == 0) {
        reply(c->fd, 201, c->buf, total);
    } else {
        body_len = (size_t)snprintf(body, sizeof body, "accepted=%d max=%d", accepted_total, open_max);
        reply(c->fd, 200, body, body_len);
    }
    return total;
}

static void serve(int lfd)
{
    static struct conn conns[MAX_CONNS];
    struct pollfd p[MAX_CONNS + 1];
    int n = 0, i;

    for (;;) {
        p[0] = (struct pollfd){lfd, POLLIN, 0};
        for (i = 0; i < n; i++)
            p[i + 1] = (struct pollfd){conns[i].fd, POLLIN, 0};
        if (poll(p, (nfds_t)n + 1, -1) < 0)
            _exit(2);
        for (i = n - 1; i >= 0; i--) {
            struct conn *c = &conns[i];
            ssize_t r;
            size_t used;

            if (!p[i + 1].revents)
                continue;
            r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (r <= 0) {
                close(c->fd);
                conns[i] = conns[--n];
                continue;
            }
            c->len += (size_t)r;
            while ((used = answer(c)) > 0) {
                memmove(c->buf, c->buf + used, c->len - used);
                c->len -= used;
            }
        }
        if ((p[0].revents & POLLIN) && n < MAX_CONNS) {
            conns[n].fd = accept(lfd, NULL, NULL);
            conns[n].len = 0;
            if (conns[n].fd >= 0) {
                n++;
                accepted_total++;
                if (n > open_max)
                    open_max = n;
            }
        }
    }
}

struct server {
    pid_t pid;
    char base[64];
};

static int start_server(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);

    if (!s || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", ntohs(a.sin_port));
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0)
        serve(lfd);
    close(lfd);
    *state = s;
    return 0;
}

static int stop_server(void **state)
{
    struct server *s = *state;

    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    free(s);
    return 0;
}

/* One request and its answer slot. */
struct call {
    struct fw_http_request req;
    struct http_result res;
    bool done;
    char body[1024];
};

static void on_done(void *owner, const struct http_result *res, void *user_data)
{
    struct call *c = owner;

    (void)user_data;
    assert_false(c->done);
    c->res = *res;
    c->done = true;
}

/* What a stream consumer saw; it stops the transfer once it has `stop_after` bytes (0: never). */
struct sink {
    int status;
    int64_t range_start;
    size_t len, stop_after;
    bool in_order; /* every byte was the one the server sends at its place */
};

static int on_stream(void *owner, int status, int64_t range_start, const uint8_t *data, size_t len,
                     void *user_data)
{
    struct sink *k = user_data;
    size_t first = range_start < 0 ? 0 : (size_t)range_start, i;

    (void)owner;
    k->status = status;
    k->range_start = range_start;
    for (i = 0; i < len; i++)
        k->in_order = k->in_order && data[i] == (uint8_t)((first + k->len + i) % 251);
    k->len += len;
    return k->stop_after && k->len >= k->stop_after ? -1 : 0;
}

static struct http_pool *new_pool(const char *base, unsigned connections, size_t waiting)
{
    struct http_pool_config cfg = {base, connections, waiting, 5000, NULL, NULL};
    struct http_pool *pool = http_pool_new(&cfg);

    assert_non_null(pool);
    return pool;
}

static void prepare(struct call *c, const char *method, const char *path)
{
    memset(c, 0, sizeof *c);
    c->req.method = method;
    c->req.path = path;
    c->req.resp_body = c->body;
    c->req.resp_cap = sizeof c->body - 1;
}

static void run_until_idle(struct http_pool *pool)
{
    int guard;

    for (guard = 0; guard < 500 && http_pool_pending(pool) > 0; guard++)
        assert_int_equal(http_pool_run(pool, 20, on_done, NULL), 0);
    assert_int_equal(http_pool_pending(pool), 0);
}

static void test_get_and_status(void **state)
{
    struct server *s = *state;
    struct http_pool *pool = new_pool(s->base, 2, 4);
    struct call ok, unavailable;

    prepare(&ok, "GET", "/small");
    prepare(&unavailable, "GET", "/status/503");
    assert_int_equal(http_pool_submit(pool, &ok.req, &ok), 0);
    assert_int_equal(http_pool_submit(pool, &unavailable.req, &unavailable), 0);
    assert_int_equal(http_pool_pending(pool), 2);
    run_until_idle(pool);
    assert_true(ok.done);
    assert_int_equal(ok.res.status, 200);
    assert_int_equal(ok.res.body_len, 5);
    assert_memory_equal(ok.body, "hello", 5);
    assert_ptr_equal(ok.res.req, &ok.req);
    assert_true(ok.res.latency_us > 0);
    assert_int_equal(unavailable.res.status, 503);
    http_pool_free(pool);
}

static void test_post_sends_headers_and_body(void **state)
{
    struct server *s = *state;
    struct http_pool *pool = new_pool(s->base, 1, 1);
    const struct fw_http_header headers[] = {{"Content-Type", "application/json"},
                                             {"If-None-Match", "\"3\""}};
    struct call c;

    prepare(&c, "POST", "/echo");
    c.req.headers = headers;
    c.req.n_headers = 2;
    c.req.body = "{\"a\":1}";
    c.req.body_len = 7;
    assert_int_equal(http_pool_submit(pool, &c.req, &c), 0);
    run_until_idle(pool);
    assert_int_equal(c.res.status, 201);
    assert_true(c.res.body_len < sizeof c.body);
    c.body[c.res.body_len] = '\0';
    assert_non_null(strstr(c.body, "POST /echo HTTP/1.1\r\n"));
    assert_non_null(strstr(c.body, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(c.body, "\r\nIf-None-Match: \"3\"\r\n"));
    assert_null(strcasestr(c.body, "Expect:")); /* no 100-continue round trip */
    assert_non_null(strstr(c.body, "\r\n\r\n{\"a\":1}"));
    http_pool_free(pool);
}

/* A body larger than the buffer: cut off, its status kept, its length past the capacity. */
static void test_oversized_body_is_cut_off(void **state)
{
    struct server *s = *state;
    struct http_pool *pool = new_pool(s->base, 1, 1);
    struct call c;

    prepare(&c, "GET", "/big");
    c.req.resp_cap = 64;
    c.body[64] = 'Z';
    assert_int_equal(http_pool_submit(pool, &c.req, &c), 0);
    run_until_idle(pool);
    assert_int_equal(c.res.status, 200);
    assert_true(c.res.body_len > 64);
    assert_int_equal(c.body[0], 'b');
    assert_int_equal(c.body[63], 'b');
    assert_int_equal(c.body[64], 'Z'); /* nothing written past resp_cap */
    http_pool_free(pool);
}

/* Twenty requests over two connections: all answered, and the server saw two connections at most. */
static void test_connections_are_bounded_and_reused(void **state)
{
    struct server *s = *state;
    struct http_pool *pool = new_pool(s->base, 2, 20);
    static struct call calls[20];
    struct call stats;
    int accepted = -1, max = -1;
    size_t i;

    for (i = 0; i < 20; i++) {
        prepare(&calls[i], "GET", "/small");
        assert_int_equal(http_pool_submit(pool, &calls[i].req, &calls[i]), 0);
    }
    run_until_idle(pool);
    for (i = 0; i < 20; i++)
        assert_int_equal(calls[i].res.status, 200);
    prepare(&stats, "GET", "/stats");
    assert_int_equal(http_pool_submit(pool, &stats.req, &stats), 0);
    run_until_idle(pool);
    stats.body[stats.res.body_len] = '\0';
    assert_int_equal(sscanf(stats.body, "accepted=%d max=%d", &accepted, &max), 2);
    assert_true(accepted >= 1 && accepted <= 2);
    assert_true(max <= 2);
    http_pool_free(pool);
}

static void test_refusals(void **state)
{
    struct server *s = *state;
    struct http_pool *pool = new_pool(s->base, 1, 1);
    struct call a, b, put;
    struct http_pool_config bad = {s->base, 0, 1, 1000, NULL, NULL};

    prepare(&a, "GET", "/small");
    prepare(&b, "GET", "/small");
    prepare(&put, "PUT", "/small");
    assert_int_equal(http_pool_submit(pool, &put.req, &put), -1); /* GET and POST only */
    prepare(&put, "GET", "/image");
    put.req.stream = 1;
    assert_int_equal(http_pool_submit(pool, &put.req, &put), -1); /* no stream consumer */
    assert_int_equal(http_pool_submit(pool, &a.req, &a), 0);
    assert_int_equal(http_pool_submit(pool, &b.req, &b), -1); /* the queue holds one */
    run_until_idle(pool);
    assert_int_equal(a.res.status, 200);
    assert_false(b.done);
    http_pool_free(pool);

    assert_null(http_pool_new(&bad));
    bad.connections = HTTP_POOL_MAX_CONNECTIONS + 1;
    assert_null(http_pool_new(&bad));
    bad.connections = 1;
    bad.base_url = "http://127.0.0.1:1/";
    assert_null(http_pool_new(&bad));
    bad.base_url = "ftp://127.0.0.1";
    assert_null(http_pool_new(&bad));
}

/* A streamed GET of /image, with "Range: <range>" unless NULL, whose body goes to k; its status.
 * Nothing of it reaches resp_body. */
static int stream_image(const char *base, struct sink *k, const char *range)
{
    struct http_pool_config cfg = {base, 1, 1, 5000, on_stream, k};
    struct http_pool *pool = http_pool_new(&cfg);
    const struct fw_http_header header = {"Range", range};
    struct call c;

    assert_non_null(pool);
    prepare(&c, "GET", "/image");
    c.req.stream = 1;
    c.req.headers = &header;
    c.req.n_headers = range != NULL;
    c.body[0] = 'Z';
    assert_int_equal(http_pool_submit(pool, &c.req, &c), 0);
    run_until_idle(pool);
    assert_int_equal(c.body[0], 'Z');
    http_pool_free(pool);
    return c.res.status;
}

/* A streamed body goes to the consumer with its status and Content-Range start; a consumer that
 * stops the transfer gets a network error. */
static void test_streamed_ranges(void **state)
{
    struct server *s = *state;
    struct sink whole = {0, 0, 0, 0, true}, tail = {0, 0, 0, 0, true}, stopped = {0, 0, 0, 1000, true};

    assert_int_equal(stream_image(s->base, &whole, NULL), 200);
    assert_int_equal(whole.status, 200);
    assert_int_equal(whole.range_start, -1);
    assert_int_equal(whole.len, BIG_BODY);
    assert_true(whole.in_order);

    assert_int_equal(stream_image(s->base, &tail, "bytes=1200-"), 206);
    assert_int_equal(tail.status, 206);
    assert_int_equal(tail.range_start, 1200);
    assert_int_equal(tail.len, BIG_BODY - 1200);
    assert_true(tail.in_order);

    assert_int_equal(stream_image(s->base, &stopped, NULL), FW_HTTP_NETWORK_ERROR);
    assert_true(stopped.len >= 1000); /* it was stopped after its first piece */
}

static void test_no_server_is_a_network_error(void **state)
{
    struct http_pool *pool = new_pool("http://127.0.0.1:1", 1, 1);
    struct call c;

    (void)state;
    prepare(&c, "GET", "/small");
    assert_int_equal(http_pool_submit(pool, &c.req, &c), 0);
    run_until_idle(pool);
    assert_true(c.done);
    assert_int_equal(c.res.status, FW_HTTP_NETWORK_ERROR);
    http_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_and_status, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_post_sends_headers_and_body, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_oversized_body_is_cut_off, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_connections_are_bounded_and_reused, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_refusals, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_streamed_ranges, start_server, stop_server),
        cmocka_unit_test(test_no_server_is_a_network_error),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
