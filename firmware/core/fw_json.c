/* fw_json.c: the bounded JSON reader. One iterative scanner validates values (nesting tracked in
 * a bit stack, so depth is capped and nothing recurses); lookups return spans of the input. */
#include "fw_json.h"

#include <stdbool.h>
#include <string.h>

struct scan {
    const char *p;
    const char *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool at(const struct scan *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool skip_digits(struct scan *s)
{
    const char *start = s->p;

    while (s->p < s->end && is_digit(*s->p))
        s->p++;
    return s->p > start;
}

/* At '"': consumes the string, checking escapes and rejecting raw control characters. */
static bool scan_string(struct scan *s)
{
    s->p++;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;

        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return false;
        switch (*s->p++) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': break;
        case 'u': {
            int i;

            for (i = 0; i < 4; i++, s->p++)
                if (s->p >= s->end || !is_hex(*s->p))
                    return false;
            break;
        }
        default: return false;
        }
    }
    return false;
}

static bool scan_number(struct scan *s)
{
    if (at(s, '-'))
        s->p++;
    if (at(s, '0'))
        s->p++;
    else if (!skip_digits(s))
        return false;
    if (at(s, '.')) {
        s->p++;
        if (!skip_digits(s))
            return false;
    }
    if (at(s, 'e') || at(s, 'E')) {
        s->p++;
        if (at(s, '+') || at(s, '-'))
            s->p++;
        if (!skip_digits(s))
            return false;
    }
    return true;
}

static bool scan_word(struct scan *s, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* Consumes a scalar, or only the opening bracket of a container; reports the value's type. */
static bool scan_token(struct scan *s, enum fw_json_type *type)
{
    if (s->p >= s->end)
        return false;
    switch (*s->p) {
    case '{':
        s->p++;
        *type = FW_JSON_OBJECT;
        return true;
    case '[':
        s->p++;
        *type = FW_JSON_ARRAY;
        return true;
    case '"': *type = FW_JSON_STRING; return scan_string(s);
    case 't': *type = FW_JSON_BOOL; return scan_word(s, "true");
    case 'f': *type = FW_JSON_BOOL; return scan_word(s, "false");
    case 'n': *type = FW_JSON_NULL; return scan_word(s, "null");
    default: *type = FW_JSON_NUMBER; return scan_number(s);
    }
}

/* `"name" :` of an object member; the name's span (without quotes) goes to *name if asked. */
static bool scan_name(struct scan *s, struct fw_json_value *name)
{
    const char *start;

    skip_ws(s);
    if (!at(s, '"'))
        return false;
    start = s->p;
    if (!scan_string(s))
        return false;
    if (name) {
        name->text = start + 1;
        name->len = (size_t)(s->p - start) - 2;
        name->type = FW_JSON_STRING;
    }
    skip_ws(s);
    if (!at(s, ':'))
        return false;
    s->p++;
    return true;
}

/* After a value inside containers: closes the containers that end here, or steps past ',' to
 * the next element. Returns false on a syntax error; *depth is 0 once the outermost closed. */
static bool next_element(struct scan *s, uint32_t objects, unsigned *depth)
{
    while (*depth > 0) {
        bool object = (objects >> (*depth - 1)) & 1u;

        skip_ws(s);
        if (at(s, ',')) {
            s->p++;
            return !object || scan_name(s, NULL);
        }
        if (!at(s, object ? '}' : ']'))
            return false;
        s->p++;
        (*depth)--;
    }
    return true;
}

/* Consumes one complete value of any nesting up to FW_JSON_MAX_DEPTH. */
static bool scan_value(struct scan *s, enum fw_json_type *type)
{
    uint32_t objects = 0; /* bit d set: nesting level d is an object, clear: an array */
    unsigned depth = 0;
    bool first = true;

    for (;;) {
        enum fw_json_type t;

        skip_ws(s);
        if (!scan_token(s, &t))
            return false;
        if (first) {
            *type = t;
            first = false;
        }
        if (t == FW_JSON_OBJECT || t == FW_JSON_ARRAY) {
            if (depth == FW_JSON_MAX_DEPTH)
                return false;
            if (t == FW_JSON_OBJECT)
                objects |= 1u << depth;
            else
                objects &= ~(1u << depth);
            depth++;
            skip_ws(s);
            if (at(s, t == FW_JSON_OBJECT ? '}' : ']')) {
                s->p++;
                depth--;
            } else if (t == FW_JSON_ARRAY || scan_name(s, NULL)) {
                continue;
            } else {
                return false;
            }
        }
        if (!next_element(s, objects, &depth))
            return false;
        if (depth == 0)
            return true;
    }
}

enum fw_json_result fw_json_parse(const char *json, size_t len, struct fw_json_value *out)
{
    struct scan s = {json, json + len};
    const char *start;

    skip_ws(&s);
    start = s.p;
    if (!scan_value(&s, &out->type))
        return FW_JSON_INVALID;
    out->text = start;
    out->len = (size_t)(s.p - start);
    skip_ws(&s);
    return s.p == s.end ? FW_JSON_OK : FW_JSON_INVALID;
}

enum fw_json_result fw_json_get(const char *json, size_t len, const char *key, struct fw_json_value *out)
{
    struct scan s = {json, json + len};
    size_t key_len = strlen(key);
    bool found = false;

    skip_ws(&s);
    if (!at(&s, '{'))
        return FW_JSON_INVALID;
    s.p++;
    skip_ws(&s);
    if (at(&s, '}')) {
        s.p++;
    } else {
        for (;;) {
            struct fw_json_value name, value;

            if (!scan_name(&s, &name))
                return FW_JSON_INVALID;
            skip_ws(&s);
            value.text = s.p;
            if (!scan_value(&s, &value.type))
                return FW_JSON_INVALID;
            value.len = (size_t)(s.p - value.text);
            if (name.len == key_len && memcmp(name.text, key, key_len) == 0) {
                if (found)
                    return FW_JSON_INVALID;
                found = true;
                *out = value;
            }
            skip_ws(&s);
            if (at(&s, '}')) {
                s.p++;
                break;
            }
            if (!at(&s, ','))
                return FW_JSON_INVALID;
            s.p++;
        }
    }
    skip_ws(&s);
    if (s.p != s.end)
        return FW_JSON_INVALID;
    return found ? FW_JSON_OK : FW_JSON_NOT_FOUND;
}

enum fw_json_result fw_json_uint32(const struct fw_json_value *v, uint32_t *out)
{
    uint32_t n = 0;
    size_t i;

    if (v->type != FW_JSON_NUMBER || v->len == 0 || (v->text[0] == '0' && v->len > 1))
        return FW_JSON_INVALID;
    for (i = 0; i < v->len; i++) {
        uint32_t digit;

        if (!is_digit(v->text[i]))
            return FW_JSON_INVALID;
        digit = (uint32_t)(v->text[i] - '0');
        if (n > (UINT32_MAX - digit) / 10)
            return FW_JSON_INVALID;
        n = n * 10 + digit;
    }
    *out = n;
    return FW_JSON_OK;
}
