/* Writes JSON text into a response body, with RFC 8259 string escaping (json-c's escaping is
 * internal to its serializer: it has no call that writes one string into a caller's buffer). */
#include "json_out.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "isotime.h"

void json_out_start(struct json_out *out, struct response *res, int status)
{
    memset(out, 0, sizeof *out);
    out->res = res;
    response_body_start(res, status);
}

static void put(struct json_out *out, const char *bytes, size_t len)
{
    response_body_append(out->res, bytes, len);
}

/* Before every value and key: a comma unless it is the first item of its level or a key's value. */
static void next_item(struct json_out *out)
{
    if (out->after_key) {
        out->after_key = false;
        return;
    }
    if (out->has_items[out->depth])
        put(out, ",", 1);
    out->has_items[out->depth] = true;
}

static void open_level(struct json_out *out, const char *bracket)
{
    next_item(out);
    put(out, bracket, 1);
    if (out->depth < JSON_OUT_DEPTH)
        out->has_items[++out->depth] = false;
}

static void close_level(struct json_out *out, const char *bracket)
{
    put(out, bracket, 1);
    if (out->depth > 0)
        out->depth--;
}

void json_out_open_object(struct json_out *out)
{
    open_level(out, "{");
}

void json_out_close_object(struct json_out *out)
{
    close_level(out, "}");
}

void json_out_open_array(struct json_out *out)
{
    open_level(out, "[");
}

void json_out_close_array(struct json_out *out)
{
    close_level(out, "]");
}

/* A quoted string: quote, backslash and control characters escaped; other bytes (UTF-8,
 * checked when it was stored) go out as they are, in runs. */
static void put_quoted(struct json_out *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(out, "\"", 1);
    const char *run = s, *p = s;
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(out, run, (size_t)(p - run));
        char esc[6] = {'\\', (char)c};
        size_t len = 2;
        switch (c) {
        case '"':
        case '\\': break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        put(out, esc, len);
        run = p + 1;
    }
    put(out, run, (size_t)(p - run));
    put(out, "\"", 1);
}

void json_out_key(struct json_out *out, const char *key)
{
    next_item(out);
    put_quoted(out, key);
    put(out, ":", 1);
    out->after_key = true;
}

void json_out_string(struct json_out *out, const char *s)
{
    next_item(out);
    put_quoted(out, s);
}

void json_out_int(struct json_out *out, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, v);
    next_item(out);
    put(out, text, (size_t)n);
}

void json_out_bool(struct json_out *out, bool v)
{
    next_item(out);
    put(out, v ? "true" : "false", v ? 4 : 5);
}

void json_out_null(struct json_out *out)
{
    next_item(out);
    put(out, "null", 4);
}

void json_out_raw(struct json_out *out, const char *json_text)
{
    next_item(out);
    put(out, json_text, strlen(json_text));
}

void json_out_isotime(struct json_out *out, int64_t unix_seconds)
{
    char text[ISOTIME_LEN + 1];
    isotime_format(unix_seconds, text);
    json_out_string(out, text);
}

void json_out_member_string(struct json_out *out, const char *key, const char *s)
{
    json_out_key(out, key);
    json_out_string(out, s);
}

void json_out_member_int(struct json_out *out, const char *key, int64_t v)
{
    json_out_key(out, key);
    json_out_int(out, v);
}

void json_out_member_bool(struct json_out *out, const char *key, bool v)
{
    json_out_key(out, key);
    json_out_bool(out, v);
}

void json_out_member_raw(struct json_out *out, const char *key, const char *json_text)
{
    json_out_key(out, key);
    json_out_raw(out, json_text);
}

void json_out_member_isotime(struct json_out *out, const char *key, int64_t unix_seconds)
{
    json_out_key(out, key);
    json_out_isotime(out, unix_seconds);
}
