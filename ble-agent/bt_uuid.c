/* Bluetooth UUIDs: construction from 16-bit values, wire bytes and text, and comparison
 * across the 16-bit and 128-bit forms (Core spec Vol 3 Part B 2.5.1). */
#include "bt_uuid.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "bt_bytes.h"

/* 00000000-0000-1000-8000-00805F9B34FB, little-endian; a 16-bit UUID goes in bytes 12..13. */
static const uint8_t base_uuid_le[16] = {
    0xfb, 0x34, 0x9b, 0x5f, 0x80, 0x00, 0x00, 0x80, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

struct bt_uuid bt_uuid16(uint16_t value)
{
    struct bt_uuid uuid = {.len = 2};

    put_le16(uuid.le, value);
    return uuid;
}

int bt_uuid_from_le(struct bt_uuid *uuid, const uint8_t *p, size_t len)
{
    if (len != 2 && len != 16)
        return -EINVAL;
    memset(uuid, 0, sizeof(*uuid));
    uuid->len = (uint8_t)len;
    memcpy(uuid->le, p, len);
    return 0;
}

int bt_uuid_parse(struct bt_uuid *uuid, const char *text)
{
    struct bt_uuid out = {.len = 16};
    size_t byte = 0;

    for (size_t i = 0; text[i] != '\0';) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return -EINVAL;
            i++;
            continue;
        }
        if (byte == 16)
            return -EINVAL;
        int hi = OPENSSL_hexchar2int((unsigned char)text[i]);
        int lo = hi < 0 ? -1 : OPENSSL_hexchar2int((unsigned char)text[i + 1]);
        if (lo < 0)
            return -EINVAL;
        /* The text is big-endian; the wire form is reversed. */
        out.le[15 - byte++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    if (byte != 16)
        return -EINVAL;
    *uuid = out;
    return 0;
}

static void to128(const struct bt_uuid *uuid, uint8_t out[16])
{
    if (uuid->len == 16) {
        memcpy(out, uuid->le, 16);
        return;
    }
    memcpy(out, base_uuid_le, 16);
    out[12] = uuid->le[0];
    out[13] = uuid->le[1];
}

bool bt_uuid_equal(const struct bt_uuid *a, const struct bt_uuid *b)
{
    uint8_t a128[16], b128[16];

    to128(a, a128);
    to128(b, b128);
    return memcmp(a128, b128, 16) == 0;
}

bool bt_uuid_is16(const struct bt_uuid *uuid, uint16_t value)
{
    struct bt_uuid v = bt_uuid16(value);

    return bt_uuid_equal(uuid, &v);
}
