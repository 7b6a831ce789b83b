/* Advertising payload builder: AD structures (length, type, data) packed while they fit into
 * the 31 bytes of a legacy PDU. */
#include "adv_data.h"

#include <stdbool.h>
#include <string.h>

/* Appends the UUIDs of one width as one AD structure; fewer than all when space is short. */
static size_t put_uuids(uint8_t *buf, size_t used, const struct bt_uuid *uuids, size_t n, uint8_t width,
                        uint8_t type_all, uint8_t type_some)
{
    size_t room = ADV_DATA_MAX - used, count = 0, total = 0;

    for (size_t i = 0; i < n; i++)
        total += uuids[i].len == width;
    if (total == 0 || room < 2u + width)
        return used;
    uint8_t *field = buf + used;

    used += 2;
    for (size_t i = 0; i < n && ADV_DATA_MAX - used >= (size_t)width; i++) {
        if (uuids[i].len != width)
            continue;
        memcpy(buf + used, uuids[i].le, width);
        used += width;
        count++;
    }
    field[0] = (uint8_t)(1 + count * width);
    field[1] = count == total ? type_all : type_some;
    return used;
}

void adv_data_build(struct adv_data *out, const char *name, const struct bt_uuid *uuids, size_t n_uuids)
{
    size_t used = 0, name_len = strlen(name), room = ADV_DATA_MAX - 2;
    bool complete = name_len <= room;

    memset(out, 0, sizeof(*out));
    out->adv[used++] = 2;
    out->adv[used++] = AD_FLAGS;
    out->adv[used++] = AD_FLAG_GENERAL_DISC | AD_FLAG_NO_BREDR;
    used = put_uuids(out->adv, used, uuids, n_uuids, 16, AD_UUID128_ALL, AD_UUID128_SOME);
    used = put_uuids(out->adv, used, uuids, n_uuids, 2, AD_UUID16_ALL, AD_UUID16_SOME);
    out->adv_len = used;

    if (!complete) {
        name_len = room;
        /* Never end inside a multi-byte character: back off continuation bytes. */
        while (name_len > 0 && ((uint8_t)name[name_len] & 0xc0) == 0x80)
            name_len--;
    }
    out->scan_rsp[0] = (uint8_t)(1 + name_len);
    out->scan_rsp[1] = complete ? AD_NAME_COMPLETE : AD_NAME_SHORT;
    memcpy(out->scan_rsp + 2, name, name_len);
    out->scan_rsp_len = 2 + name_len;
}

const uint8_t *adv_data_find(const uint8_t *data, size_t len, uint8_t type, size_t *field_len)
{
    size_t off = 0;

    while (off < len) {
        size_t flen = data[off];

        if (flen == 0 || flen > len - off - 1)
            return NULL;
        if (data[off + 1] == type) {
            *field_len = flen - 1;
            return data + off + 2;
        }
        off += 1 + flen;
    }
    return NULL;
}
