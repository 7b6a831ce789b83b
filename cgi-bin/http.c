/* Response building (JSON bodies from json-c or json_out.c, into a reused buffer) and query
 * strings: percent-decoding is done by hand because libfcgi and json-c have none. */
#include "http.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"

void response_init(struct response *res)
{
    memset(res, 0, sizeof *res);
    res->status = 500;
}

void response_free(struct response *res)
{
    free(res->body);
    res->body = NULL;
}

void response_reset(struct response *res)
{
    res->status = 500;
    res->streaming = false;
    res->body_failed = false;
    res->content_type = NULL;
    res->headers_len = 0;
    res->headers[0] = '\0';
    res->body_len = 0;
}

void response_header(struct response *res, const char *name, const char *format, ...)
{
    size_t room = sizeof res->headers - res->headers_len;
    int n = snprintf(res->headers + res->headers_len, room, "%s: ", name);
    if (n < 0 || (size_t)n >= room)
        return;
    va_list ap;
    va_start(ap, format);
    int m = vsnprintf(res->headers + res->headers_len + n, room - n, format, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m + 2) >= room) {
        res->headers[res->headers_len] = '\0'; /* a header that does not fit is left out whole */
        return;
    }
    memcpy(res->headers + res->headers_len + n + m, "\r\n", 3);
    res->headers_len += n + m + 2;
}

/* Makes room for len more body bytes; false (and a 500 with no body, for the rest of the
 * response) when memory runs out. */
static bool body_reserve(struct response *res, size_t len)
{
    if (res->body_failed)
        return false;
    if (res->body_len + len + 1 > res->body_cap) {
        size_t cap = res->body_cap ? res->body_cap : 4096;
        while (cap < res->body_len + len + 1)
            cap *= 2;
        char *grown = realloc(res->body, cap);
        if (!grown) {
            res->status = 500;
            res->body_len = 0;
            res->body_failed = true;
            return false;
        }
        res->body = grown;
        res->body_cap = cap;
    }
    return true;
}

static void append_body(struct response *res, const char *data, size_t len)
{
    if (!body_reserve(res, len))
        return;
    memcpy(res->body + res->body_len, data, len);
    res->body_len += len;
    res->body[res->body_len] = '\0';
}

static void set_body(struct response *res, const char *data, size_t len)
{
    res->body_len = 0;
    res->body_failed = false;
    append_body(res, data, len);
}

void response_json(struct response *res, int status, struct json_object *obj)
{
    size_t len;
    const char *text =
        json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    res->status = status;
    set_body(res, text, len);
    json_object_put(obj);
}

void response_empty(struct response *res, int status)
{
    res->status = status;
    res->body_len = 0;
}

void response_body_start(struct response *res, int status)
{
    res->status = status;
    res->body_len = 0;
    res->body_failed = false;
}

void response_body_append(struct response *res, const char *bytes, size_t len)
{
    append_body(res, bytes, len);
}

static void status_message(struct response *res, int status, const char *ok, const char *message)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "status", json_object_new_string(ok));
    json_object_object_add(obj, "message", json_object_new_string(message));
    response_json(res, status, obj);
}

void response_ok(struct response *res, int status, const char *message)
{
    status_message(res, status, "OK", message);
}

void response_error(struct response *res, int status, const char *format, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, format);
    vsnprintf(message, sizeof message, format, ap);
    va_end(ap);
    status_message(res, status, "NOK", message);
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Client Error" : "Internal Server Error";
    }
}

void response_write_head(const struct response *res, const char *content_type,
                         void (*put)(void *data, const char *bytes, size_t len), void *data)
{
    char line[160];
    int n = snprintf(line, sizeof line, "Status: %d %s\r\n", res->status, http_reason(res->status));
    put(data, line, (size_t)n);
    if (content_type) {
        n = snprintf(line, sizeof line, "Content-Type: %s\r\n", content_type);
        put(data, line, (size_t)n);
    }
    put(data, res->headers, res->headers_len);
    put(data, "\r\n", 2);
}

void response_stream_begin(struct response *res, int status, const char *content_type)
{
    res->status = status;
    res->body_len = 0;
    if (res->sink) {
        response_write_head(res, content_type, res->sink, res->sink_data);
        res->streaming = true;
    }
}

void response_stream_write(struct response *res, const char *bytes, size_t len)
{
    if (res->streaming)
        res->sink(res->sink_data, bytes, len);
    else
        append_body(res, bytes, len);
}

/* Decodes one application/x-www-form-urlencoded value of len bytes into out. */
static int decode_value(const char *in, size_t len, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = OPENSSL_hexchar2int((unsigned char)in[i + 1]);
            int l = OPENSSL_hexchar2int((unsigned char)in[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return -1;
            c = (char)(h << 4 | l);
            i += 2;
        }
        if (o + 1 >= out_len)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 1;
}

const char *request_param(const struct request *req, const char *name)
{
    size_t len = strlen(name);
    for (char **p = req->params; p && *p; p++)
        if (strncmp(*p, name, len) == 0 && (*p)[len] == '=')
            return *p + len + 1;
    return NULL;
}

int query_param(const char *query, const char *name, char *out, size_t out_len)
{
    size_t name_len = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=')
            return decode_value(p + name_len + 1, len - name_len - 1, out, out_len);
        if (len == name_len && strncmp(p, name, name_len) == 0)
            return decode_value("", 0, out, out_len);
        p = end ? end + 1 : NULL;
    }
    return 0;
}

bool query_order(const char *query, bool fallback, bool *descending)
{
    char word[8];
    int has = query_param(query, "order", word, sizeof word);
    *descending = has > 0 ? strcmp(word, "desc") == 0 : fallback;
    return has == 0 || (has > 0 && (strcmp(word, "asc") == 0 || strcmp(word, "desc") == 0));
}

bool query_append(char *url, size_t url_len, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(url);
    int n = snprintf(url + o, url_len - o, "%c%s=", strchr(url, '?') ? '&' : '?', name);
    if (n < 0 || (size_t)n >= url_len - o)
        return false;
    o += n;
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        bool plain = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
                     strchr("-._~", *v);
        if (o + (plain ? 1 : 3) >= url_len)
            return false;
        if (plain) {
            url[o++] = (char)*v;
        } else {
            url[o++] = '%';
            url[o++] = hex[*v >> 4];
            url[o++] = hex[*v & 15];
        }
    }
    url[o] = '\0';
    return true;
}

struct json_object *json_isotime_new(int64_t unix_seconds)
{
    char text[ISOTIME_LEN + 1];
    isotime_format(unix_seconds, text);
    return json_object_new_string(text);
}
