/* fw_le.h: 32-bit little-endian numbers in the core's storage records, byte by byte (no
 * casting of buffers, whatever the device's alignment and byte order). */
#ifndef FW_LE_H
#define FW_LE_H

#include <stdint.h>

static inline void fw_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t fw_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
