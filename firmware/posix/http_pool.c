/* http_pool.c: libcurl multi with CURLMOPT_MAX_TOTAL_CONNECTIONS = the number of easy handles,
 * each reused for request after request, so the pool never opens more sockets than that. */
#include "http_pool.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mono_clock.h"

#define URL_MAX    (HTTP_POOL_BASE_MAX + 256)
#define HEADER_MAX 256

struct slot {
    struct http_pool *pool;
    CURL *easy;
    struct curl_slist *headers;
    const struct fw_http_request *req;
    void *owner;
    uint64_t submitted_us;
    size_t body_len;
    int64_t server_time; /* X-Provd-Time of the answer so far; 0: none */
    int64_t range_start; /* its Content-Range start; -1: none */
    bool refused;        /* the stream's consumer stopped the transfer */
    struct slot *next_free;
    char url[URL_MAX];
};

struct waiting {
    const struct fw_http_request *req;
    void *owner;
    uint64_t submitted_us;
};

struct http_pool {
    CURLM *multi;
    char base[HTTP_POOL_BASE_MAX + 1];
    long timeout_ms;
    http_body_fn body;
    void *body_data;
    unsigned n_slots;
    struct slot *slots;
    struct slot *free_slots;
    unsigned busy;
    /* Ring of requests waiting for a slot. */
    struct waiting *queue;
    size_t q_cap, q_head, q_len;
};

/* A streamed body goes to the pool's consumer, piece by piece, never into memory here. */
static size_t on_stream(struct slot *s, char *data, size_t len)
{
    long code = 0;

    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    s->body_len += len;
    if (s->pool->body(s->owner, (int)code, s->range_start, (const uint8_t *)data, len, s->pool->body_data) != 0) {
        s->refused = true;
        return 0;
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *user_data)
{
    struct slot *s = user_data;
    size_t len = size * n, room;

    if (s->req->stream)
        return on_stream(s, data, len);

    room = s->body_len < s->req->resp_cap ? s->req->resp_cap - s->body_len : 0;
    memcpy(s->req->resp_body + s->body_len, data, len < room ? len : room);
    s->body_len += len;
    /* Past the buffer the answer is refused anyway: stop reading it (the write error ends
     * the transfer, and the length already says "too large"). */
    return s->body_len > s->req->resp_cap ? 0 : len;
}

/* The number after `name` (lower case, with its colon and any prefix such as "bytes ") in a header
 * line: whole digits, at most 12, followed by `end` (or the line's end when end is '\r'); -1 when
 * the line is another header or the number is malformed. */
static int64_t header_number(const char *data, size_t len, const char *name, char end)
{
    size_t i = strlen(name);
    int64_t v = 0;
    int digits = 0;

    if (len <= i || strncasecmp(data, name, i) != 0)
        return -1;
    while (i < len && data[i] == ' ')
        i++;
    for (; i < len && data[i] >= '0' && data[i] <= '9' && digits < 12; i++, digits++)
        v = v * 10 + (data[i] - '0');
    if (digits == 0 || i == len)
        return -1;
    return data[i] == end || (end == '\r' && data[i] == '\n') ? v : -1;
}

/* Keeps the headers the core reads: X-Provd-Time (whole Unix seconds) and, for a streamed image,
 * where a 206's Content-Range ("bytes N-M/T") starts. */
static size_t on_header(char *data, size_t size, size_t n, void *user_data)
{
    struct slot *s = user_data;
    size_t len = size * n;
    int64_t v;

    if (len > 5 && strncmp(data, "HTTP/", 5) == 0)
        s->range_start = -1; /* a new answer (after a 1xx, say) */
    else if ((v = header_number(data, len, "x-provd-time:", '\r')) >= 0)
        s->server_time = v;
    else if ((v = header_number(data, len, "content-range: bytes", '-')) >= 0)
        s->range_start = v;
    return len;
}

static int slot_init(struct http_pool *pool, struct slot *s)
{
    s->easy = curl_easy_init();
    if (!s->easy)
        return -1;
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, pool->timeout_ms);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, pool->timeout_ms);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "provd-devsim/1");
    curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    s->pool = pool;
    s->next_free = pool->free_slots;
    pool->free_slots = s;
    return 0;
}

bool http_pool_base_ok(const char *url)
{
    size_t n = strlen(url), i;

    if (n > HTTP_POOL_BASE_MAX || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return false;
    for (i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return false;
    return url[n - 1] != '/';
}

struct http_pool *http_pool_new(const struct http_pool_config *cfg)
{
    struct http_pool *pool;
    unsigned i;

    if (!cfg->base_url || !http_pool_base_ok(cfg->base_url) || cfg->connections == 0 ||
        cfg->connections > HTTP_POOL_MAX_CONNECTIONS || cfg->max_waiting == 0 || cfg->timeout_ms <= 0)
        return NULL;
    pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    strcpy(pool->base, cfg->base_url);
    pool->timeout_ms = cfg->timeout_ms;
    pool->body = cfg->body;
    pool->body_data = cfg->body_data;
    pool->n_slots = cfg->connections;
    pool->q_cap = cfg->max_waiting;
    pool->multi = curl_multi_init();
    pool->slots = calloc(cfg->connections, sizeof *pool->slots);
    pool->queue = calloc(cfg->max_waiting, sizeof *pool->queue);
    if (!pool->multi || !pool->slots || !pool->queue)
        goto fail;
    curl_multi_setopt(pool->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cfg->connections);
    curl_multi_setopt(pool->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cfg->connections);
    curl_multi_setopt(pool->multi, CURLMOPT_MAXCONNECTS, (long)cfg->connections);
    for (i = 0; i < cfg->connections; i++)
        if (slot_init(pool, &pool->slots[i]) != 0)
            goto fail;
    return pool;
fail:
    http_pool_free(pool);
    return NULL;
}

void http_pool_free(struct http_pool *pool)
{
    unsigned i;

    if (!pool)
        return;
    for (i = 0; pool->slots && i < pool->n_slots; i++) {
        struct slot *s = &pool->slots[i];

        if (!s->easy)
            continue;
        if (s->req)
            curl_multi_remove_handle(pool->multi, s->easy);
        curl_easy_cleanup(s->easy);
        curl_slist_free_all(s->headers);
    }
    if (pool->multi)
        curl_multi_cleanup(pool->multi);
    free(pool->slots);
    free(pool->queue);
    free(pool);
}

int http_pool_submit(struct http_pool *pool, const struct fw_http_request *req, void *owner)
{
    if (pool->q_len == pool->q_cap || (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) ||
        strlen(pool->base) + strlen(req->path) >= URL_MAX || (req->stream && !pool->body))
        return -1;
    pool->queue[(pool->q_head + pool->q_len++) % pool->q_cap] = (struct waiting){req, owner, mono_us()};
    return 0;
}

/* "Name: value" for every header of the request, and an empty Expect: (no 100-continue pause). */
static int build_headers(struct slot *s)
{
    const struct fw_http_request *req = s->req;
    char line[HEADER_MAX];
    struct curl_slist *l;
    size_t i;

    s->headers = curl_slist_append(NULL, "Expect:");
    if (!s->headers)
        return -1;
    for (i = 0; i < req->n_headers; i++) {
        int n = snprintf(line, sizeof line, "%s: %s", req->headers[i].name, req->headers[i].value);

        if (n < 0 || (size_t)n >= sizeof line || strpbrk(line, "\r\n"))
            return -1;
        l = curl_slist_append(s->headers, line);
        if (!l)
            return -1;
        s->headers = l;
    }
    return 0;
}

static int slot_start(struct http_pool *pool, struct slot *s, const struct waiting *w)
{
    const struct fw_http_request *req = w->req;
    CURL *e = s->easy;

    s->req = req;
    s->owner = w->owner;
    s->submitted_us = w->submitted_us;
    s->body_len = 0;
    s->server_time = 0;
    s->range_start = -1;
    s->refused = false;
    snprintf(s->url, sizeof s->url, "%s%s", pool->base, req->path);
    if (build_headers(s) != 0)
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    return curl_multi_add_handle(pool->multi, e) == CURLM_OK ? 0 : -1;
}

/* Gives a slot back and reports its request's answer. */
static void slot_finish(struct http_pool *pool, struct slot *s, int status, http_done_fn done,
                        void *user_data)
{
    struct http_result res = {s->req, status, s->body_len, mono_us() - s->submitted_us, s->server_time};
    void *owner = s->owner;

    curl_slist_free_all(s->headers);
    s->headers = NULL;
    s->req = NULL;
    s->owner = NULL;
    s->next_free = pool->free_slots;
    pool->free_slots = s;
    pool->busy--;
    done(owner, &res, user_data);
}

/* Moves waiting requests onto free slots; one that cannot start is answered as a network error. */
static void pump(struct http_pool *pool, http_done_fn done, void *user_data)
{
    while (pool->q_len > 0 && pool->free_slots) {
        struct slot *s = pool->free_slots;
        struct waiting w = pool->queue[pool->q_head];

        pool->q_head = (pool->q_head + 1) % pool->q_cap;
        pool->q_len--;
        pool->free_slots = s->next_free;
        pool->busy++;
        if (slot_start(pool, s, &w) != 0)
            slot_finish(pool, s, FW_HTTP_NETWORK_ERROR, done, user_data);
    }
}

static void collect(struct http_pool *pool, http_done_fn done, void *user_data)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(pool->multi, &left))) {
        struct slot *s;
        long code = 0;
        int status = FW_HTTP_NETWORK_ERROR;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        /* A body cut off for being too large still carries its status: the core refuses it by length. */
        if (code > 0 && (msg->data.result == CURLE_OK ||
                         (msg->data.result == CURLE_WRITE_ERROR && !s->req->stream && s->body_len > s->req->resp_cap)))
            status = (int)code;
        curl_multi_remove_handle(pool->multi, msg->easy_handle);
        slot_finish(pool, s, status, done, user_data);
    }
}

int http_pool_run(struct http_pool *pool, int timeout_ms, http_done_fn done, void *user_data)
{
    int running;

    pump(pool, done, user_data);
    if (curl_multi_poll(pool->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK ||
        curl_multi_perform(pool->multi, &running) != CURLM_OK)
        return -1;
    collect(pool, done, user_data);
    return 0;
}

size_t http_pool_pending(const struct http_pool *pool)
{
    return pool->q_len + pool->busy;
}
