/* GATT attribute database: an array of attributes indexed by handle, built service by service.
 * Declarations and static values are stored bytes; dynamic values go through callbacks. */
#include "gatt_db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "att_proto.h"
#include "bt_bytes.h"

enum attr_kind {
    ATTR_SERVICE,
    ATTR_CHAR_DECL,
    ATTR_VALUE,
    ATTR_CCCD,
};

struct gatt_attr {
    enum attr_kind kind;
    uint16_t handle;
    uint16_t end;
    struct bt_uuid type;
    uint8_t props;  /* ATTR_VALUE and ATTR_CCCD: the characteristic's properties */
    int cccd;       /* ATTR_CCCD: its index; ATTR_VALUE: its CCCD's index or -1 */
    uint8_t *value; /* static bytes */
    size_t value_len;
    gatt_read_fn read;
    gatt_write_fn write;
    void *user_data;
    size_t max_len;
};

struct gatt_db {
    struct gatt_attr *attrs; /* attrs[i] has handle i + 1 */
    size_t count;
    size_t cap;
    size_t service; /* index of the open service declaration + 1; 0 when none */
    size_t cccd_count;
};

struct gatt_db *gatt_db_new(void)
{
    return calloc(1, sizeof(struct gatt_db));
}

void gatt_db_free(struct gatt_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->count; i++)
        free(db->attrs[i].value);
    free(db->attrs);
    free(db);
}

/* Appends one attribute with a copy of value; returns it, or NULL with *err set. */
static struct gatt_attr *append(struct gatt_db *db, enum attr_kind kind, uint16_t type, const uint8_t *value,
                                size_t len, int *err)
{
    if (db->count >= 0xffff) {
        *err = -ENOSPC;
        return NULL;
    }
    if (db->count == db->cap) {
        size_t cap = db->cap ? db->cap * 2 : 16;
        struct gatt_attr *attrs = realloc(db->attrs, cap * sizeof(*attrs));
        if (!attrs) {
            *err = -ENOMEM;
            return NULL;
        }
        db->attrs = attrs;
        db->cap = cap;
    }
    struct gatt_attr *a = &db->attrs[db->count];
    memset(a, 0, sizeof(*a));
    if (len) {
        a->value = malloc(len);
        if (!a->value) {
            *err = -ENOMEM;
            return NULL;
        }
        memcpy(a->value, value, len);
    }
    a->kind = kind;
    a->handle = (uint16_t)(db->count + 1);
    a->end = a->handle;
    a->type = bt_uuid16(type);
    a->cccd = -1;
    a->value_len = len;
    db->count++;
    if (db->service)
        db->attrs[db->service - 1].end = a->handle;
    return a;
}

int gatt_db_add_service(struct gatt_db *db, const struct bt_uuid *uuid)
{
    int err = 0;

    if (uuid->len != 2 && uuid->len != 16)
        return -EINVAL;
    db->service = 0; /* a new group starts here */
    struct gatt_attr *a = append(db, ATTR_SERVICE, GATT_PRIMARY_SERVICE_UUID, uuid->le, uuid->len, &err);
    if (!a)
        return err;
    db->service = db->count;
    return a->handle;
}

static bool char_def_valid(const struct gatt_char_def *def)
{
    bool writes = def->props & (GATT_PROP_WRITE | GATT_PROP_WRITE_NO_RSP);

    if (def->uuid.len != 2 && def->uuid.len != 16)
        return false;
    if (writes != (def->write != NULL))
        return false;
    if (def->value_len > GATT_MAX_VALUE_LEN || def->max_len > GATT_MAX_VALUE_LEN)
        return false;
    return !(def->read && def->value_len);
}

int gatt_db_add_char(struct gatt_db *db, const struct gatt_char_def *def)
{
    uint8_t decl[3 + 16];
    int err = 0;

    if (!db->service || !char_def_valid(def))
        return -EINVAL;
    /* Three attributes at most; check room first so a failure leaves no half characteristic. */
    if (db->count + 3 > 0xffff)
        return -ENOSPC;
    uint16_t value_handle = (uint16_t)(db->count + 2);
    decl[0] = def->props;
    put_le16(decl + 1, value_handle);
    memcpy(decl + 3, def->uuid.le, def->uuid.len);
    if (!append(db, ATTR_CHAR_DECL, GATT_CHARACTERISTIC_UUID, decl, 3u + def->uuid.len, &err))
        return err;

    struct gatt_attr *v = append(db, ATTR_VALUE, 0, def->value, def->value_len, &err);
    if (!v)
        return err;
    v->type = def->uuid;
    v->props = def->props;
    v->read = def->read;
    v->write = def->write;
    v->user_data = def->user_data;
    v->max_len = def->max_len ? def->max_len : GATT_MAX_VALUE_LEN;

    if (def->props & (GATT_PROP_NOTIFY | GATT_PROP_INDICATE)) {
        struct gatt_attr *c = append(db, ATTR_CCCD, GATT_CCCD_UUID, NULL, 0, &err);
        if (!c)
            return err;
        c->props = def->props;
        c->cccd = (int)db->cccd_count;
        c->max_len = 2;
        /* append() may have moved the array: find the value attribute again. */
        db->attrs[value_handle - 1].cccd = (int)db->cccd_count++;
    }
    return value_handle;
}

const struct gatt_attr *gatt_db_attr(const struct gatt_db *db, uint16_t handle)
{
    if (handle == 0 || handle > db->count)
        return NULL;
    return &db->attrs[handle - 1];
}

uint16_t gatt_db_last_handle(const struct gatt_db *db)
{
    return (uint16_t)db->count;
}

size_t gatt_db_cccd_count(const struct gatt_db *db)
{
    return db->cccd_count;
}

const struct bt_uuid *gatt_attr_type(const struct gatt_attr *attr)
{
    return &attr->type;
}

uint16_t gatt_attr_end(const struct gatt_attr *attr)
{
    return attr->end;
}

int gatt_attr_cccd_index(const struct gatt_attr *attr)
{
    return attr->kind == ATTR_CCCD ? attr->cccd : -1;
}

uint16_t gatt_attr_cccd_allowed(const struct gatt_attr *attr)
{
    uint16_t bits = 0;

    if (attr->props & GATT_PROP_NOTIFY)
        bits |= GATT_CCC_NOTIFY;
    if (attr->props & GATT_PROP_INDICATE)
        bits |= GATT_CCC_INDICATE;
    return bits;
}

int gatt_attr_value_cccd(const struct gatt_attr *attr)
{
    return attr->kind == ATTR_VALUE ? attr->cccd : -1;
}

size_t gatt_attr_max_len(const struct gatt_attr *attr)
{
    return attr->max_len;
}

bool gatt_attr_writable(const struct gatt_attr *attr)
{
    return attr->kind == ATTR_CCCD || attr->write != NULL;
}

int gatt_attr_read(const struct gatt_attr *attr, void *conn, uint8_t *buf, size_t cap)
{
    if (attr->kind == ATTR_CCCD)
        return -ATT_ECODE_UNLIKELY;
    if (attr->kind == ATTR_VALUE && !(attr->props & GATT_PROP_READ))
        return -ATT_ECODE_READ_NOT_PERMITTED;
    if (!attr->read) {
        if (attr->value_len)
            memcpy(buf, attr->value, attr->value_len);
        return (int)attr->value_len;
    }
    int n = attr->read(attr->user_data, conn, buf, cap);
    /* A callback answering past its buffer is a bug on our side, not the peer's. */
    if (n > (int)cap || n > GATT_MAX_VALUE_LEN)
        return -ATT_ECODE_UNLIKELY;
    return n;
}

int gatt_attr_write(const struct gatt_attr *attr, void *conn, const uint8_t *value, size_t len)
{
    if (attr->kind != ATTR_VALUE || !attr->write)
        return -ATT_ECODE_WRITE_NOT_PERMITTED;
    if (len > attr->max_len)
        return -ATT_ECODE_INVALID_VALUE_LEN;
    return attr->write(attr->user_data, conn, value, len);
}
