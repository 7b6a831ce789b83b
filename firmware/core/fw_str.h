/* fw_str.h: a bounded text builder over a caller's buffer (no allocation).
 * Overflow is sticky: append freely, then check fw_str_ok() once at the end. */
#ifndef FW_STR_H
#define FW_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fw_str {
    char *buf;
    size_t cap; /* including the terminating NUL */
    size_t len;
    bool overflow;
};

void fw_str_init(struct fw_str *s, char *buf, size_t cap);
void fw_str_putn(struct fw_str *s, const char *text, size_t len);
void fw_str_put(struct fw_str *s, const char *text);
void fw_str_put_u32(struct fw_str *s, uint32_t v);
/* A JSON string literal: quotes added, '"', '\\' and control characters escaped. */
void fw_str_put_json_string(struct fw_str *s, const char *text);
/* Standard base64 (RFC 4648, with padding). */
void fw_str_put_base64(struct fw_str *s, const uint8_t *data, size_t len);
bool fw_str_ok(const struct fw_str *s);

#endif
