/* Little-endian field access for Bluetooth wire bytes (HCI, L2CAP, ATT all use little-endian).
 * Callers check the buffer length first; these helpers only move bytes. */
#ifndef BT_BYTES_H
#define BT_BYTES_H

#include <stdint.h>

static inline uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

#endif
