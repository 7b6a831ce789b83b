/* Telemetry In parsing and Telemetry Result formatting for the provd Gateway service: a strict
 * device-id check, and a JSON string encoder that cuts a server answer to fit one attribute. */
#include "telemetry_frame.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool id_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

bool telemetry_id_valid(const uint8_t *id, size_t len)
{
    if (len == 0 || len > TELEMETRY_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!id_char(id[i]))
            return false;
    return true;
}

int telemetry_frame_parse(const uint8_t *value, size_t len, struct telemetry_frame *out)
{
    const uint8_t *nl = memchr(value, '\n', len);

    if (!nl || !telemetry_id_valid(value, (size_t)(nl - value)) || nl + 1 == value + len)
        return -EINVAL;
    memcpy(out->id, value, (size_t)(nl - value));
    out->id[nl - value] = '\0';
    out->body = nl + 1;
    out->body_len = len - (size_t)(nl - value) - 1;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table 4), 0 when it is not one. */
static size_t utf8_len(const uint8_t *p, size_t avail)
{
    uint8_t lo = 0x80, hi = 0xbf;
    size_t n;

    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (p[0] == 0xe0)
        lo = 0xa0;
    else if (p[0] == 0xed)
        hi = 0x9f;
    else if (p[0] == 0xf0)
        lo = 0x90;
    else if (p[0] == 0xf4)
        hi = 0x8f;
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* The JSON text of the character at body[*i] into piece (at most 6 bytes, no NUL); advances *i. */
static size_t json_char(const uint8_t *body, size_t len, size_t *i, char *piece)
{
    uint8_t c = body[*i];
    size_t n;

    if (c == '"' || c == '\\') {
        piece[0] = '\\';
        piece[1] = (char)c;
        n = 2;
    } else if (c < 0x20 || c == 0x7f) {
        char hex[7];

        snprintf(hex, sizeof(hex), "\\u%04x", c);
        memcpy(piece, hex, 6);
        n = 6;
    } else if (c < 0x80) {
        piece[0] = (char)c;
        n = 1;
    } else if ((n = utf8_len(body + *i, len - *i)) > 0) {
        memcpy(piece, body + *i, n);
        *i += n;
        return n;
    } else {
        memcpy(piece, "\xef\xbf\xbd", 3); /* U+FFFD */
        n = 3;
    }
    (*i)++;
    return n;
}

int telemetry_result_format(int status, const uint8_t *body, size_t body_len, char *out, size_t cap)
{
    static const char tail[] = "\"}";
    int head = snprintf(out, cap, "{\"status\":%d,\"body\":\"", status);

    if (head < 0 || (size_t)head + sizeof(tail) - 1 > cap)
        return -ENOSPC;
    size_t pos = (size_t)head, room = cap - (sizeof(tail) - 1);
    char piece[6];

    for (size_t i = 0; i < body_len;) {
        size_t n = json_char(body, body_len, &i, piece);

        if (pos + n > room)
            break;
        memcpy(out + pos, piece, n);
        pos += n;
    }
    memcpy(out + pos, tail, sizeof(tail) - 1);
    return (int)(pos + sizeof(tail) - 1);
}
