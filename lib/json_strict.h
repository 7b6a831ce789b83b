/* Strict JSON (RFC 8259) on top of json-c: json-c alone, even in strict mode, takes NaN,
 * Infinity, 1., 007, single-quoted names, raw control characters and bad UTF-8, and keeps only
 * the last of duplicate names. Used for every JSON text that comes from outside. */
#ifndef PROVD_JSON_STRICT_H
#define PROVD_JSON_STRICT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define JSON_DEPTH 32 /* nesting accepted at most */

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. json-c's
 * JSON_TOKENER_VALIDATE_UTF8 lets all three through, so it is not enough on its own. */
bool json_strict_utf8_valid(const char *s, size_t n);

/* Parses s[0..n) as exactly one strict JSON text, or returns NULL. s[n] must be '\0': it
 * ends a top-level number or literal, which json-c otherwise waits on. *members gets the
 * number of members the top-level object has as written, so that a caller can refuse
 * duplicate names by comparing it with json_object_object_length(). */
struct json_object *json_strict_parse(const char *s, size_t n, size_t *members);

#endif
