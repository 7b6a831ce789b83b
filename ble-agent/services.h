/* The GATT database ble-agent serves (issue 6 item 5): GAP, GATT, Battery, Device Information
 * and the provd Gateway service, filled from a configuration struct and callbacks. No I/O. */
#ifndef SERVICES_H
#define SERVICES_H

#include <stdint.h>

#include "gatt_db.h"

#define SERVICES_GATEWAY_UUID          "2c8e0001-d233-4303-b2c5-87adc4ee163f"
#define SERVICES_GATEWAY_INFO_UUID     "2c8e0002-d233-4303-b2c5-87adc4ee163f"
#define SERVICES_TELEMETRY_IN_UUID     "2c8e0003-d233-4303-b2c5-87adc4ee163f"
#define SERVICES_TELEMETRY_RESULT_UUID "2c8e0004-d233-4303-b2c5-87adc4ee163f"

/* Strings are copied. Callbacks get user_data and the connection pointer given to the ATT
 * server; they return as gatt_read_fn / gatt_write_fn do. */
struct services_config {
    const char *device_name;
    uint16_t appearance;
    const char *manufacturer;
    const char *model;
    const char *firmware_revision;
    /* Gateway Info fields: {"server","version","adapter"} */
    const char *server;
    const char *version;
    const char *adapter;
    /* Battery percentage 0..100, or negative when unreadable; NULL leaves the service out. */
    int (*battery_level)(void *user_data);
    /* Telemetry In: a whole value, after a long write too. */
    gatt_write_fn telemetry_in;
    /* Telemetry Result: the last forward's result on this connection. */
    gatt_read_fn telemetry_result;
    void *user_data;
};

/* Characteristic values the daemon notifies or indicates. */
enum services_value {
    SERVICES_SERVICE_CHANGED,
    SERVICES_BATTERY_LEVEL,
    SERVICES_TELEMETRY_RESULT,
    SERVICES_VALUE_COUNT,
};

struct services;

/* NULL with errno EINVAL (a missing field or callback, a string over GATT_MAX_VALUE_LEN)
 * or ENOMEM. */
struct services *services_new(const struct services_config *cfg);
void services_free(struct services *svc);
/* The database to hand to att_server_new(); borrowed. */
struct gatt_db *services_db(const struct services *svc);
/* The value handle of a characteristic, 0 when its service is left out. */
uint16_t services_handle(const struct services *svc, enum services_value which);

#endif
