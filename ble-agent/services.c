/* Builds ble-agent's GATT database from a services_config: one function per service, static
 * values for fixed strings and callbacks for the values that change (battery, telemetry). */
#include "services.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "att_proto.h"
#include "bt_bytes.h"

/* Assigned Numbers: services and characteristics */
enum {
    UUID_GENERIC_ACCESS = 0x1800,
    UUID_GENERIC_ATTRIBUTE = 0x1801,
    UUID_DEVICE_INFORMATION = 0x180a,
    UUID_BATTERY = 0x180f,
    UUID_DEVICE_NAME = 0x2a00,
    UUID_APPEARANCE = 0x2a01,
    UUID_SERVICE_CHANGED = 0x2a05,
    UUID_BATTERY_LEVEL = 0x2a19,
    UUID_MODEL_NUMBER = 0x2a24,
    UUID_FIRMWARE_REVISION = 0x2a26,
    UUID_MANUFACTURER_NAME = 0x2a29,
};

struct services {
    struct gatt_db *db;
    int (*battery_level)(void *user_data);
    void *user_data;
    uint16_t handles[SERVICES_VALUE_COUNT];
};

/* Adders return a handle or a negative errno, so each service is a chain of checked calls. */
static int add_char(struct services *svc, const struct gatt_char_def *def, enum services_value keep)
{
    int handle = gatt_db_add_char(svc->db, def);

    if (handle > 0 && keep < SERVICES_VALUE_COUNT)
        svc->handles[keep] = (uint16_t)handle;
    return handle;
}

static int add_bytes(struct services *svc, uint16_t uuid, const void *value, size_t len)
{
    struct gatt_char_def def = {
        .uuid = bt_uuid16(uuid),
        .props = GATT_PROP_READ,
        .value = value,
        .value_len = len,
    };

    return add_char(svc, &def, SERVICES_VALUE_COUNT);
}

static int add_string(struct services *svc, uint16_t uuid, const char *text)
{
    return add_bytes(svc, uuid, text, strlen(text));
}

static int add_service16(struct services *svc, uint16_t uuid)
{
    struct bt_uuid u = bt_uuid16(uuid);

    return gatt_db_add_service(svc->db, &u);
}

static int add_generic_access(struct services *svc, const struct services_config *cfg)
{
    uint8_t appearance[2];
    int err;

    put_le16(appearance, cfg->appearance);
    if ((err = add_service16(svc, UUID_GENERIC_ACCESS)) < 0 ||
        (err = add_string(svc, UUID_DEVICE_NAME, cfg->device_name)) < 0)
        return err;
    return add_bytes(svc, UUID_APPEARANCE, appearance, sizeof(appearance));
}

static int add_generic_attribute(struct services *svc)
{
    /* Service Changed is indicate-only: its value travels in indications. */
    struct gatt_char_def def = {
        .uuid = bt_uuid16(UUID_SERVICE_CHANGED),
        .props = GATT_PROP_INDICATE,
    };
    int err = add_service16(svc, UUID_GENERIC_ATTRIBUTE);

    return err < 0 ? err : add_char(svc, &def, SERVICES_SERVICE_CHANGED);
}

static int read_battery(void *user_data, void *conn, uint8_t *buf, size_t cap)
{
    struct services *svc = user_data;
    int level = svc->battery_level(svc->user_data);

    (void)conn;
    (void)cap;
    if (level < 0 || level > 100)
        return -ATT_ECODE_UNLIKELY;
    buf[0] = (uint8_t)level;
    return 1;
}

static int add_battery(struct services *svc)
{
    struct gatt_char_def def = {
        .uuid = bt_uuid16(UUID_BATTERY_LEVEL),
        .props = GATT_PROP_READ | GATT_PROP_NOTIFY,
        .read = read_battery,
        .user_data = svc,
    };
    int err = add_service16(svc, UUID_BATTERY);

    return err < 0 ? err : add_char(svc, &def, SERVICES_BATTERY_LEVEL);
}

static int add_device_information(struct services *svc, const struct services_config *cfg)
{
    int err;

    if ((err = add_service16(svc, UUID_DEVICE_INFORMATION)) < 0 ||
        (err = add_string(svc, UUID_MANUFACTURER_NAME, cfg->manufacturer)) < 0 ||
        (err = add_string(svc, UUID_MODEL_NUMBER, cfg->model)) < 0)
        return err;
    return add_string(svc, UUID_FIRMWARE_REVISION, cfg->firmware_revision);
}

/* Gateway Info as JSON; -EINVAL when it would not fit in one attribute value. */
static int add_gateway_info(struct services *svc, const struct services_config *cfg,
                            const struct bt_uuid *uuid)
{
    struct json_object *o = json_object_new_object();
    int err = -ENOMEM;

    if (!o)
        return err;
    if (json_object_object_add(o, "server", json_object_new_string(cfg->server)) ||
        json_object_object_add(o, "version", json_object_new_string(cfg->version)) ||
        json_object_object_add(o, "adapter", json_object_new_string(cfg->adapter)))
        goto out;
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text)
        goto out;
    struct gatt_char_def def = {
        .uuid = *uuid,
        .props = GATT_PROP_READ,
        .value = (const uint8_t *)text,
        .value_len = strlen(text),
    };
    err = def.value_len > GATT_MAX_VALUE_LEN ? -EINVAL : add_char(svc, &def, SERVICES_VALUE_COUNT);
out:
    json_object_put(o);
    return err;
}

static int add_gateway(struct services *svc, const struct services_config *cfg)
{
    struct bt_uuid service, info, in, result;
    int err;

    if (bt_uuid_parse(&service, SERVICES_GATEWAY_UUID) < 0 ||
        bt_uuid_parse(&info, SERVICES_GATEWAY_INFO_UUID) < 0 ||
        bt_uuid_parse(&in, SERVICES_TELEMETRY_IN_UUID) < 0 ||
        bt_uuid_parse(&result, SERVICES_TELEMETRY_RESULT_UUID) < 0)
        return -EINVAL;
    struct gatt_char_def in_def = {
        .uuid = in,
        .props = GATT_PROP_WRITE | GATT_PROP_WRITE_NO_RSP,
        .write = cfg->telemetry_in,
        .user_data = cfg->user_data,
    };
    struct gatt_char_def result_def = {
        .uuid = result,
        .props = GATT_PROP_READ | GATT_PROP_NOTIFY,
        .read = cfg->telemetry_result,
        .user_data = cfg->user_data,
    };
    if ((err = gatt_db_add_service(svc->db, &service)) < 0 || (err = add_gateway_info(svc, cfg, &info)) < 0 ||
        (err = add_char(svc, &in_def, SERVICES_VALUE_COUNT)) < 0)
        return err;
    return add_char(svc, &result_def, SERVICES_TELEMETRY_RESULT);
}

static bool config_complete(const struct services_config *cfg)
{
    return cfg->device_name && cfg->manufacturer && cfg->model && cfg->firmware_revision && cfg->server &&
           cfg->version && cfg->adapter && cfg->telemetry_in && cfg->telemetry_result;
}

struct services *services_new(const struct services_config *cfg)
{
    struct services *svc = NULL;
    int err = -EINVAL;

    if (!config_complete(cfg))
        goto fail;
    err = -ENOMEM;
    svc = calloc(1, sizeof(*svc));
    if (!svc || !(svc->db = gatt_db_new()))
        goto fail;
    svc->battery_level = cfg->battery_level;
    svc->user_data = cfg->user_data;
    if ((err = add_generic_access(svc, cfg)) < 0 || (err = add_generic_attribute(svc)) < 0 ||
        (cfg->battery_level && (err = add_battery(svc)) < 0) ||
        (err = add_device_information(svc, cfg)) < 0 || (err = add_gateway(svc, cfg)) < 0)
        goto fail;
    return svc;
fail:
    services_free(svc);
    errno = -err;
    return NULL;
}

void services_free(struct services *svc)
{
    if (!svc)
        return;
    gatt_db_free(svc->db);
    free(svc);
}

struct gatt_db *services_db(const struct services *svc)
{
    return svc->db;
}

uint16_t services_handle(const struct services *svc, enum services_value which)
{
    return which < SERVICES_VALUE_COUNT ? svc->handles[which] : 0;
}
