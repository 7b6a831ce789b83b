/* Legacy advertising payloads (Core Supplement Part A 1): flags and service UUIDs in the
 * advertising data, the local name in the scan response. Pure. */
#ifndef ADV_DATA_H
#define ADV_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "bt_uuid.h"

enum {
    ADV_DATA_MAX = 31, /* legacy advertising and scan response payloads */
    /* AD types (Assigned Numbers 2.3) */
    AD_FLAGS = 0x01,
    AD_UUID16_SOME = 0x02,
    AD_UUID16_ALL = 0x03,
    AD_UUID128_SOME = 0x06,
    AD_UUID128_ALL = 0x07,
    AD_NAME_SHORT = 0x08,
    AD_NAME_COMPLETE = 0x09,
    AD_FLAG_GENERAL_DISC = 0x02,
    AD_FLAG_NO_BREDR = 0x04,
};

struct adv_data {
    uint8_t adv[ADV_DATA_MAX];
    size_t adv_len;
    uint8_t scan_rsp[ADV_DATA_MAX];
    size_t scan_rsp_len;
};

/* 128-bit UUIDs first, then 16-bit ones, each list marked incomplete when not all fit; the
 * name complete when it fits, else shortened at a UTF-8 character boundary. */
void adv_data_build(struct adv_data *out, const char *name, const struct bt_uuid *uuids, size_t n_uuids);

/* Finds AD type in an advertising payload: the field's data (borrowed) and length, or NULL.
 * Stops at the first malformed field. */
const uint8_t *adv_data_find(const uint8_t *data, size_t len, uint8_t type, size_t *field_len);

#endif
