/* JSON written straight into a response body, value by value, for answers of many rows:
 * json-c builds a tree of allocated objects first, about 40 allocations per listed device. */
#ifndef PROVD_JSON_OUT_H
#define PROVD_JSON_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

#define JSON_OUT_DEPTH 8 /* nested arrays and objects at most; deeper opens are ignored */

struct json_out {
    struct response *res;
    int depth;
    bool after_key;                     /* the next value is that key's: no comma before it */
    bool has_items[JSON_OUT_DEPTH + 1]; /* per open level: a comma goes before the next item */
};

/* Starts the body of res over, answering status. */
void json_out_start(struct json_out *out, struct response *res, int status);
void json_out_open_object(struct json_out *out);
void json_out_close_object(struct json_out *out);
void json_out_open_array(struct json_out *out);
void json_out_close_array(struct json_out *out);
/* The name of the next member of the open object. */
void json_out_key(struct json_out *out, const char *key);
void json_out_string(struct json_out *out, const char *s);
void json_out_int(struct json_out *out, int64_t v);
void json_out_bool(struct json_out *out, bool v);
void json_out_null(struct json_out *out);
/* Text that is already valid JSON (a stored configuration or reading), written as is. */
void json_out_raw(struct json_out *out, const char *json_text);
/* A time as an ISO-8601 UTC string. */
void json_out_isotime(struct json_out *out, int64_t unix_seconds);

/* A member of the open object: its key, then the value as above. */
void json_out_member_string(struct json_out *out, const char *key, const char *s);
void json_out_member_int(struct json_out *out, const char *key, int64_t v);
void json_out_member_bool(struct json_out *out, const char *key, bool v);
void json_out_member_raw(struct json_out *out, const char *key, const char *json_text);
void json_out_member_isotime(struct json_out *out, const char *key, int64_t unix_seconds);

#endif
