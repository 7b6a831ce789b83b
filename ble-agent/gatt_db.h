/* GATT attribute database: services, characteristics and their CCCDs laid out as ATT attributes
 * with handles assigned in order; values static or supplied by (function, user_data) callbacks. */
#ifndef GATT_DB_H
#define GATT_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_uuid.h"

#define GATT_MAX_VALUE_LEN 512 /* Core spec Vol 3 Part F 3.2.9 */

/* Well-known attribute types (Assigned Numbers 3.5 and 3.7) */
enum {
    GATT_PRIMARY_SERVICE_UUID = 0x2800,
    GATT_SECONDARY_SERVICE_UUID = 0x2801,
    GATT_CHARACTERISTIC_UUID = 0x2803,
    GATT_CCCD_UUID = 0x2902,
};

/* Characteristic properties (Core spec Vol 3 Part G 3.3.1.1) */
enum {
    GATT_PROP_READ = 0x02,
    GATT_PROP_WRITE_NO_RSP = 0x04,
    GATT_PROP_WRITE = 0x08,
    GATT_PROP_NOTIFY = 0x10,
    GATT_PROP_INDICATE = 0x20,
};

/* CCCD bits (Core spec Vol 3 Part G 3.3.3.3) */
enum {
    GATT_CCC_NOTIFY = 0x0001,
    GATT_CCC_INDICATE = 0x0002,
};

/* conn is the per-connection pointer the ATT server was created with.
 * A read fills buf (cap >= GATT_MAX_VALUE_LEN) with the whole value and returns its length;
 * a write receives the whole new value and returns 0. Both return a negative ATT error code
 * (-ATT_ECODE_...) on failure, which the peer receives. */
typedef int (*gatt_read_fn)(void *user_data, void *conn, uint8_t *buf, size_t cap);
typedef int (*gatt_write_fn)(void *user_data, void *conn, const uint8_t *value, size_t len);

/* One characteristic. Without a read callback the value is the static bytes (copied).
 * Writes need a write callback. max_len bounds written values (0 means GATT_MAX_VALUE_LEN).
 * A CCCD is added after the value when props has NOTIFY or INDICATE. */
struct gatt_char_def {
    struct bt_uuid uuid;
    uint8_t props;
    const uint8_t *value;
    size_t value_len;
    gatt_read_fn read;
    gatt_write_fn write;
    void *user_data;
    size_t max_len;
};

struct gatt_db;
struct gatt_attr;

struct gatt_db *gatt_db_new(void);
void gatt_db_free(struct gatt_db *db);

/* Builders return the new declaration's (service) or value's (characteristic) handle, or
 * -EINVAL (bad definition, no service yet), -ENOSPC (handles exhausted), -ENOMEM. */
int gatt_db_add_service(struct gatt_db *db, const struct bt_uuid *uuid);
int gatt_db_add_char(struct gatt_db *db, const struct gatt_char_def *def);

/* Lookup: the attribute at handle (borrowed), or NULL. Handles run 1..gatt_db_last_handle(). */
const struct gatt_attr *gatt_db_attr(const struct gatt_db *db, uint16_t handle);
uint16_t gatt_db_last_handle(const struct gatt_db *db);
/* CCCDs are numbered 0..count-1 so that a connection can keep their values in an array. */
size_t gatt_db_cccd_count(const struct gatt_db *db);

const struct bt_uuid *gatt_attr_type(const struct gatt_attr *attr);
/* Last handle of the group a service declaration opens; the attribute's own handle otherwise. */
uint16_t gatt_attr_end(const struct gatt_attr *attr);
/* For a CCCD: its index, else -1. */
int gatt_attr_cccd_index(const struct gatt_attr *attr);
/* For a CCCD: the GATT_CCC_* bits its characteristic supports. */
uint16_t gatt_attr_cccd_allowed(const struct gatt_attr *attr);
/* For a characteristic value: the index of its CCCD, else -1. */
int gatt_attr_value_cccd(const struct gatt_attr *attr);
size_t gatt_attr_max_len(const struct gatt_attr *attr);
bool gatt_attr_writable(const struct gatt_attr *attr);

/* Whole value into buf (cap >= GATT_MAX_VALUE_LEN): length or -ATT_ECODE_READ_NOT_PERMITTED etc.
 * CCCDs hold per-connection state and are not read or written here (-ATT_ECODE_UNLIKELY). */
int gatt_attr_read(const struct gatt_attr *attr, void *conn, uint8_t *buf, size_t cap);
/* Whole new value: 0 or -ATT_ECODE_WRITE_NOT_PERMITTED / -ATT_ECODE_INVALID_VALUE_LEN / callback's. */
int gatt_attr_write(const struct gatt_attr *attr, void *conn, const uint8_t *value, size_t len);

#endif
