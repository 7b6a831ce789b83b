/* The request a handler reads and the response it fills, independent of FastCGI so that the
 * router and handlers run the same under libfcgi, in unit tests and in the fuzzer. */
#ifndef PROVD_HTTP_H
#define PROVD_HTTP_H

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BODY_MAX 16384 /* the largest request body read; nginx refuses larger ones first */

struct request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* decoded, without the query */
    const char *query;         /* raw query string, "" when none */
    const char *authorization; /* header values; NULL when absent */
    const char *if_match;
    const char *if_none_match;
    const char *device_auth; /* X-Provd-Auth: a device's proof (device_auth.h) */
    const char *remote_addr; /* the client's address as nginx saw it; NULL when not given */
    const char *body; /* body_len bytes and then a '\0' */
    size_t body_len;
    const char *deviceid; /* the {id} of the route, set (and validated) by the router */
    const char *version;  /* the {version} of the route (a firmware version), likewise */
    int64_t rollout;      /* the {rollout} of the route (a rollout's id), likewise */
    bool metrics_allowed; /* nginx says the client's address may scrape without a token */
    char **params;        /* every FastCGI parameter, "NAME=value"; NULL-terminated; NULL: none */
};

/* The FastCGI parameter name (a header: "HTTP_USER_AGENT"), NULL when absent. */
const char *request_param(const struct request *req, const char *name);

/* Where a streamed response goes (the FastCGI output stream in provd); NULL: into body. */
typedef void (*response_sink_fn)(void *sink_data, const char *bytes, size_t len);

struct response {
    int status;
    char headers[1024]; /* extra header lines, each ending in \r\n */
    size_t headers_len;
    char *body; /* owned; reused from one request to the next */
    size_t body_len, body_cap;
    response_sink_fn sink;
    void *sink_data;
    bool streaming;   /* headers are out: the rest goes straight to the sink */
    bool body_failed; /* out of memory while writing the body: it stays empty, status 500 */
    const char *content_type; /* of the body; NULL: application/json */
};

void response_init(struct response *res);
void response_free(struct response *res);
/* Makes the response ready for the next request, keeping its buffer. */
void response_reset(struct response *res);
void response_header(struct response *res, const char *name, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* Serializes obj as the JSON body and releases it. */
void response_json(struct response *res, int status, struct json_object *obj);
void response_empty(struct response *res, int status);
/* A body written piece by piece (json_out.h): start over with a status, then append. */
void response_body_start(struct response *res, int status);
void response_body_append(struct response *res, const char *bytes, size_t len);
/* {"status":"OK","message":...} */
void response_ok(struct response *res, int status, const char *message);
/* {"status":"NOK","message":...} */
void response_error(struct response *res, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
const char *http_reason(int status);

/* Streaming, for answers too large to hold (CSV exports): sends the status and headers, then
 * each write goes out at once. Without a sink, everything collects in body (unit tests). */
void response_stream_begin(struct response *res, int status, const char *content_type);
void response_stream_write(struct response *res, const char *bytes, size_t len);
/* The status line and headers as FastCGI wants them; content_type NULL: none. */
void response_write_head(const struct response *res, const char *content_type,
                         void (*put)(void *data, const char *bytes, size_t len), void *data);

/* Query parameters: 1 and the decoded value in out; 0 when absent; -1 when malformed or
 * longer than out_len - 1 bytes. */
int query_param(const char *query, const char *name, char *out, size_t out_len);
/* ?order=asc|desc: *descending is set (fallback when absent); false when it is malformed. */
bool query_order(const char *query, bool fallback, bool *descending);
/* Appends "&name=value" (or "?name=value" to a bare path), percent-encoding the value. */
bool query_append(char *url, size_t url_len, const char *name, const char *value);

/* A time as an ISO-8601 UTC JSON string. */
struct json_object *json_isotime_new(int64_t unix_seconds);

#endif
