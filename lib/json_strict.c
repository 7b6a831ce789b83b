/* Strict JSON: a token scan that enforces RFC 8259 before json-c builds the tree. Written by
 * hand because json-c has no such mode and no other library here does it (see json_strict.h). */
#include "json_strict.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>

bool json_strict_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = (unsigned char)s[i];
        unsigned cp, min;
        size_t more, j;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            more = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            more = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= more)
            return false;
        for (j = 1; j <= more; j++) {
            unsigned cc = (unsigned char)s[i + j];

            if ((cc & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += more + 1;
    }
    return true;
}

/* What may follow a number or a literal. */
static bool json_delim(const char *s, size_t n, size_t i)
{
    return i == n || memchr(" \t\n\r,]}", s[i], 7) != NULL;
}

static size_t digits_end(const char *s, size_t n, size_t i)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* Index just past the string starting at s[i] == '"', or 0 if it breaks RFC 8259. */
static size_t json_string_end(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k;

        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (++i == n)
            return 0;
        if (s[i] != 'u') {
            if (!memchr("\"\\/bfnrt", s[i], 8))
                return 0;
            continue;
        }
        if (n - i <= 4)
            return 0;
        for (k = 1; k <= 4; k++)
            if (OPENSSL_hexchar2int((unsigned char)s[i + k]) < 0)
                return 0;
        i += 4;
    }
    return 0;
}

/* Index just past the number starting at s[i], or 0: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static size_t json_number_end(const char *s, size_t n, size_t i)
{
    size_t j;

    if (s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if ((j = digits_end(s, n, i)) > i)
        i = j;
    else
        return 0;
    if (i < n && s[i] == '.') {
        j = digits_end(s, n, i + 1);
        if (j == i + 1)
            return 0;
        i = j;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        j = digits_end(s, n, i);
        if (j == i)
            return 0;
        i = j;
    }
    return json_delim(s, n, i) ? i : 0;
}

static size_t json_literal_end(const char *s, size_t n, size_t i)
{
    static const char *const literals[] = {"true", "false", "null"};
    size_t k;

    for (k = 0; k < sizeof(literals) / sizeof(literals[0]); k++) {
        size_t len = strlen(literals[k]);

        if (n - i >= len && memcmp(s + i, literals[k], len) == 0 && json_delim(s, n, i + len))
            return i + len;
    }
    return 0;
}

/* json-c checks the structure, but even in strict mode it takes NaN, Infinity, 1., 007,
 * single-quoted names and raw control characters in strings; this scan enforces RFC 8259's
 * tokens. It also counts the top-level object's members as written (':' at depth 1), because
 * json-c keeps only the last of duplicate names. */
static bool json_tokens_valid(const char *s, size_t n, size_t *members)
{
    size_t i = 0, depth = 0;

    *members = 0;
    while (i < n) {
        char c = s[i];
        size_t next = i + 1;

        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            next = depth-- > 0 ? next : 0;
        else if (c == ':')
            *members += depth == 1;
        else if (c == '"')
            next = json_string_end(s, n, i);
        else if (c == '-' || (c >= '0' && c <= '9'))
            next = json_number_end(s, n, i);
        else if (c >= 'a' && c <= 'z')
            next = json_literal_end(s, n, i);
        else if (!memchr(" \t\n\r,", c, 5))
            return false;
        if (next == 0)
            return false;
        i = next;
    }
    return true;
}

struct json_object *json_strict_parse(const char *s, size_t n, size_t *members)
{
    struct json_tokener *tok;
    struct json_object *obj;

    if (n >= INT_MAX || !json_strict_utf8_valid(s, n) || !json_tokens_valid(s, n, members))
        return NULL;
    tok = json_tokener_new_ex(JSON_DEPTH);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, s, (int)n + 1);
    if (obj && json_tokener_get_parse_end(tok) != n) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}
