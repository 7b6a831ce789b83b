/* fw_str.c: bounded text building for request paths, JSON bodies and envelopes,
 * including the base64 encoder (the device has no library for it). */
#include "fw_str.h"

#include <string.h>

void fw_str_init(struct fw_str *s, char *buf, size_t cap)
{
    s->buf = buf;
    s->cap = cap;
    s->len = 0;
    s->overflow = cap == 0;
    if (cap > 0)
        buf[0] = '\0';
}

/* Reserves len bytes (plus the NUL) and returns where to write them, or NULL once full. */
static char *reserve(struct fw_str *s, size_t len)
{
    char *at;

    if (s->overflow || len >= s->cap - s->len) {
        s->overflow = true;
        return NULL;
    }
    at = s->buf + s->len;
    s->len += len;
    s->buf[s->len] = '\0';
    return at;
}

void fw_str_putn(struct fw_str *s, const char *text, size_t len)
{
    char *at = reserve(s, len);

    if (at)
        memcpy(at, text, len);
}

void fw_str_put(struct fw_str *s, const char *text)
{
    fw_str_putn(s, text, strlen(text));
}

void fw_str_put_u32(struct fw_str *s, uint32_t v)
{
    char digits[10];
    size_t n = 0;

    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    fw_str_putn(s, digits + sizeof digits - n, n);
}

void fw_str_put_json_string(struct fw_str *s, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p;

    fw_str_put(s, "\"");
    for (p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            fw_str_putn(s, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            fw_str_putn(s, esc, 6);
        } else {
            fw_str_putn(s, (const char *)p, 1);
        }
    }
    fw_str_put(s, "\"");
}

void fw_str_put_base64(struct fw_str *s, const uint8_t *data, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t group = (uint32_t)data[i] << 16;
        char out[4];

        if (left > 1)
            group |= (uint32_t)data[i + 1] << 8;
        if (left > 2)
            group |= data[i + 2];
        out[0] = alphabet[group >> 18];
        out[1] = alphabet[(group >> 12) & 63];
        out[2] = left > 1 ? alphabet[(group >> 6) & 63] : '=';
        out[3] = left > 2 ? alphabet[group & 63] : '=';
        fw_str_putn(s, out, 4);
    }
}

bool fw_str_ok(const struct fw_str *s)
{
    return !s->overflow;
}
