/* The provd Gateway's Telemetry In frames ("device id\nenvelope") and Telemetry Result values
 * ({"status":N,"body":"..."}): the id is checked before it goes near a URL. Pure, no I/O. */
#ifndef TELEMETRY_FRAME_H
#define TELEMETRY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TELEMETRY_ID_MAX = 64 };

struct telemetry_frame {
    char id[TELEMETRY_ID_MAX + 1]; /* validated, NUL-terminated */
    const uint8_t *body;           /* points into the frame */
    size_t body_len;
};

/* 1 to TELEMETRY_ID_MAX bytes of [A-Za-z0-9._:-]. */
bool telemetry_id_valid(const uint8_t *id, size_t len);

/* Splits a Telemetry In value at its first newline: 0, or -EINVAL when there is no newline,
 * the id is not valid or the envelope is empty. */
int telemetry_frame_parse(const uint8_t *value, size_t len, struct telemetry_frame *out);

/* Writes {"status":<status>,"body":"<body as a JSON string>"} into out, without a NUL. The
 * body is cut at a character boundary so that the whole value fits in cap bytes; invalid UTF-8
 * becomes U+FFFD.
 * Returns the length, or -ENOSPC when cap cannot hold even an empty body. */
int telemetry_result_format(int status, const uint8_t *body, size_t body_len, char *out, size_t cap);

#endif
