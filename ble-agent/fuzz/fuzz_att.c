/* libFuzzer target for the ATT server: each input is a conversation of PDUs, each prefixed by
 * a 2-byte little-endian length, played against the full ble-agent database on one connection. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "att.h"
#include "att_proto.h"
#include "services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t last_write[GATT_MAX_VALUE_LEN];

static int battery(void *user_data)
{
    (void)user_data;
    return 42;
}

static int telemetry_in(void *user_data, void *conn, const uint8_t *value, size_t len)
{
    (void)user_data;
    (void)conn;
    for (size_t i = 0; i < len; i++)
        last_write[i] = value[i];
    return 0;
}

static int telemetry_result(void *user_data, void *conn, uint8_t *buf, size_t cap)
{
    (void)user_data;
    (void)conn;
    for (size_t i = 0; i < cap; i++)
        buf[i] = last_write[i];
    return (int)cap;
}

static struct services *database(void)
{
    static struct services *svc;
    static const struct services_config cfg = {
        .device_name = "fuzz",
        .appearance = 0x0080,
        .manufacturer = "provd",
        .model = "ble-agent",
        .firmware_revision = "0",
        .server = "http://127.0.0.1",
        .version = "0",
        .adapter = "hci0",
        .battery_level = battery,
        .telemetry_in = telemetry_in,
        .telemetry_result = telemetry_result,
    };

    if (!svc && !(svc = services_new(&cfg)))
        abort();
    return svc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct services *svc = database();
    uint8_t out[ATT_MTU_MAX];
    struct att_server *srv;

    if (size < 1)
        return 0;
    /* The first byte picks the server's MTU so both ends of the range get exercised. */
    srv = att_server_new(services_db(svc), NULL, data[0] & 1 ? ATT_MTU_MAX : ATT_MTU_MIN);
    if (!srv)
        abort();
    for (size_t i = 1; i + 2 <= size;) {
        /* Up to 1023 bytes, so PDUs longer than the largest MTU get tried too. */
        size_t len = (size_t)(data[i] | data[i + 1] << 8) & 0x3ff;
        i += 2;
        if (len > size - i)
            len = size - i;
        const uint8_t *pdu = data + i;
        size_t n = att_server_handle(srv, pdu, len, out, sizeof(out));
        /* An answer fits the MTU and is the request's response or an Error Response. */
        if (n > att_server_mtu(srv) || (n && out[0] != ATT_OP_ERROR_RSP && out[0] != pdu[0] + 1))
            abort();
        i += len;
        /* Pushes out both handle-value PDUs, as the daemon does on a value change. */
        att_server_notify(srv, services_handle(svc, SERVICES_BATTERY_LEVEL), data, size, out, sizeof(out));
        att_server_indicate(srv, services_handle(svc, SERVICES_SERVICE_CHANGED), data, size, out,
                            sizeof(out));
    }
    att_server_free(srv);
    return 0;
}
