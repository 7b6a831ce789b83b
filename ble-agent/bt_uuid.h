/* Bluetooth UUIDs as ATT carries them: 16-bit or 128-bit, little-endian on the wire.
 * A 16-bit UUID equals its 128-bit form on the Bluetooth Base UUID. */
#ifndef BT_UUID_H
#define BT_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A value type: len is 2 or 16, le holds the wire bytes (first len bytes used). */
struct bt_uuid {
    uint8_t len;
    uint8_t le[16];
};

struct bt_uuid bt_uuid16(uint16_t value);
/* Wire bytes to UUID; -EINVAL unless len is 2 or 16. */
int bt_uuid_from_le(struct bt_uuid *uuid, const uint8_t *p, size_t len);
/* Text form "2c8e0001-d233-4303-b2c5-87adc4ee163f" to a 128-bit UUID; -EINVAL if malformed. */
int bt_uuid_parse(struct bt_uuid *uuid, const char *text);
bool bt_uuid_equal(const struct bt_uuid *a, const struct bt_uuid *b);
bool bt_uuid_is16(const struct bt_uuid *uuid, uint16_t value);

#endif
