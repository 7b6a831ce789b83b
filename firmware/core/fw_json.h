/* fw_json.h: a small bounded JSON reader for the server's answers (the device has no json-c).
 * It validates a whole document without recursion and hands out spans of the input text. */
#ifndef FW_JSON_H
#define FW_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting accepted; deeper documents are invalid rather than a stack risk. */
#define FW_JSON_MAX_DEPTH 32

enum fw_json_result {
    FW_JSON_OK = 0,
    FW_JSON_NOT_FOUND,
    FW_JSON_INVALID,
};

enum fw_json_type {
    FW_JSON_NULL,
    FW_JSON_BOOL,
    FW_JSON_NUMBER,
    FW_JSON_STRING,
    FW_JSON_ARRAY,
    FW_JSON_OBJECT,
};

/* A value's raw text inside the document (borrowed; strings keep their quotes). */
struct fw_json_value {
    const char *text;
    size_t len;
    enum fw_json_type type;
};

/* Validates `json` as one complete JSON value (surrounding whitespace allowed); its span is
 * returned in *out. */
enum fw_json_result fw_json_parse(const char *json, size_t len, struct fw_json_value *out);

/* Finds member `key` of the top-level object. The key is compared with the member name's raw
 * text (no escapes are decoded). The whole document must be valid and the key must occur at
 * most once: a duplicate is FW_JSON_INVALID, since two readers could pick different ones. */
enum fw_json_result fw_json_get(const char *json, size_t len, const char *key, struct fw_json_value *out);

/* Reads a number that is a non-negative integer fitting in uint32_t (no fraction/exponent). */
enum fw_json_result fw_json_uint32(const struct fw_json_value *v, uint32_t *out);

#endif
