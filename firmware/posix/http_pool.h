/* http_pool.h: the HTTP requests of many simulated devices over a bounded set of keep-alive
 * connections: libcurl multi, one easy handle per connection, a FIFO of requests waiting for one. */
#ifndef HTTP_POOL_H
#define HTTP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_platform.h"

#define HTTP_POOL_MAX_CONNECTIONS 1024
#define HTTP_POOL_BASE_MAX        256 /* longest server base URL */

struct http_pool;

struct http_result {
    const struct fw_http_request *req;
    int status;          /* HTTP status or FW_HTTP_NETWORK_ERROR */
    size_t body_len;     /* the full length, even past req->resp_cap (then cut off) */
    uint64_t latency_us; /* from http_pool_submit() to the answer, waiting time included */
    int64_t server_time; /* the answer's X-Provd-Time header; 0: none */
};

/* Called once per submitted request, from http_pool_run(); may submit again. */
typedef void (*http_done_fn)(void *owner, const struct http_result *res, void *user_data);

/* A streamed request's body (req->stream) as it arrives, with the answer's status and its
 * Content-Range start (-1: none). Returns 0 to go on, -1 to stop the transfer: its answer is then
 * FW_HTTP_NETWORK_ERROR. Nothing of a streamed body goes to req->resp_body. */
typedef int (*http_body_fn)(void *owner, int status, int64_t range_start, const uint8_t *data, size_t len,
                            void *user_data);

struct http_pool_config {
    const char *base_url; /* scheme://host[:port], no trailing slash; paths are appended */
    unsigned connections; /* 1..HTTP_POOL_MAX_CONNECTIONS requests in flight at once */
    size_t max_waiting;   /* requests queued beyond those (e.g. one per device) */
    long timeout_ms;      /* whole request, connection included */
    http_body_fn body;    /* streamed bodies go here (NULL: stream requests are refused) */
    void *body_data;      /* its user_data */
};

/* Whether url is an http:// or https:// base of at most HTTP_POOL_BASE_MAX characters, without
 * spaces, control characters or a trailing slash. */
bool http_pool_base_ok(const char *url);

/* NULL on a bad configuration or without memory (curl_global_init() is the caller's). */
struct http_pool *http_pool_new(const struct http_pool_config *cfg);
void http_pool_free(struct http_pool *pool);

/* Queues a request; req (and everything it points to) is borrowed until its answer. Only GET
 * and POST. Returns 0, or -1 when the queue is full or the request cannot be expressed. */
int http_pool_submit(struct http_pool *pool, const struct fw_http_request *req, void *owner);

/* Starts waiting requests on free connections, waits up to timeout_ms for network activity or
 * libcurl's own timers, and hands each finished request to done. Returns 0, or -1 when libcurl
 * itself fails. */
int http_pool_run(struct http_pool *pool, int timeout_ms, http_done_fn done, void *user_data);

/* Requests submitted and not yet answered (waiting or in flight). */
size_t http_pool_pending(const struct http_pool *pool);

#endif
