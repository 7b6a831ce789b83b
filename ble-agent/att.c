/* ATT server core: one dispatcher over a table of request handlers, per-connection MTU, CCCD
 * values, a bounded prepared-write queue and the one outstanding indication. Pure: no I/O. */
#include "att.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "att_proto.h"
#include "bt_bytes.h"

struct prep_write {
    uint16_t handle;
    uint16_t offset;
    uint16_t len;
    uint16_t pos; /* where the bytes sit in prep_data */
};

struct att_server {
    struct gatt_db *db;
    void *conn;
    uint16_t mtu;
    uint16_t max_mtu;
    bool mtu_exchanged;
    bool indication_pending;
    uint16_t *ccc; /* indexed by gatt_attr_cccd_index() */
    struct prep_write prep[ATT_PREP_MAX_ENTRIES];
    size_t prep_count;
    size_t prep_used;
    uint8_t prep_data[ATT_PREP_MAX_BYTES];
    uint8_t value[GATT_MAX_VALUE_LEN]; /* one whole attribute value being read or written */
};

/* The request being answered. Handlers return the answer's length, or a negative ATT error
 * code with err_handle set to the handle the Error Response names. */
struct att_req {
    const uint8_t *pdu;
    size_t len;
    uint8_t *out;
    size_t mtu;
    uint16_t err_handle;
};

struct att_server *att_server_new(struct gatt_db *db, void *conn, uint16_t max_mtu)
{
    if (!db || max_mtu < ATT_MTU_MIN || max_mtu > ATT_MTU_MAX) {
        errno = EINVAL;
        return NULL;
    }
    struct att_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    /* One spare slot so that a database without CCCDs still gets an allocation. */
    srv->ccc = calloc(gatt_db_cccd_count(db) + 1, sizeof(*srv->ccc));
    if (!srv->ccc) {
        free(srv);
        return NULL;
    }
    srv->db = db;
    srv->conn = conn;
    srv->mtu = ATT_MTU_MIN;
    srv->max_mtu = max_mtu;
    return srv;
}

void att_server_free(struct att_server *srv)
{
    if (!srv)
        return;
    free(srv->ccc);
    free(srv);
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Whole value into srv->value; CCCDs come from this connection's state. */
static int read_value(struct att_server *srv, const struct gatt_attr *attr)
{
    int idx = gatt_attr_cccd_index(attr);

    if (idx < 0)
        return gatt_attr_read(attr, srv->conn, srv->value, sizeof(srv->value));
    put_le16(srv->value, srv->ccc[idx]);
    return 2;
}

static int write_value(struct att_server *srv, const struct gatt_attr *attr, const uint8_t *value, size_t len)
{
    int idx = gatt_attr_cccd_index(attr);

    if (idx < 0)
        return gatt_attr_write(attr, srv->conn, value, len);
    if (len != 2)
        return -ATT_ECODE_INVALID_VALUE_LEN;
    uint16_t bits = get_le16(value);
    if (bits & ~gatt_attr_cccd_allowed(attr))
        return -ATT_ECODE_CCC_IMPROPER;
    srv->ccc[idx] = bits;
    return 0;
}

/* The attribute a request names, or Invalid Handle. */
static const struct gatt_attr *lookup(struct att_server *srv, struct att_req *req, uint16_t handle, int *err)
{
    const struct gatt_attr *attr = gatt_db_attr(srv->db, handle);

    req->err_handle = handle;
    if (!attr)
        *err = -ATT_ECODE_INVALID_HANDLE;
    return attr;
}

/* Reads the Starting/Ending Handle pair at pdu[1..4]; 0 or Invalid Handle (Part F 3.4.3.1). */
static int parse_range(struct att_req *req, uint16_t *start, uint16_t *end)
{
    *start = get_le16(req->pdu + 1);
    *end = get_le16(req->pdu + 3);
    req->err_handle = *start;
    if (*start == 0 || *start > *end)
        return -ATT_ECODE_INVALID_HANDLE;
    return 0;
}

static uint16_t range_last(struct att_server *srv, uint16_t end)
{
    uint16_t last = gatt_db_last_handle(srv->db);

    return end < last ? end : last;
}

static int on_exchange_mtu(struct att_server *srv, struct att_req *req)
{
    uint16_t client = get_le16(req->pdu + 1);

    /* The MTU is set once per connection; a repeated request is answered but changes nothing. */
    if (!srv->mtu_exchanged) {
        srv->mtu = client < ATT_MTU_MIN ? ATT_MTU_MIN : client > srv->max_mtu ? srv->max_mtu : client;
        srv->mtu_exchanged = true;
    }
    req->out[0] = ATT_OP_MTU_RSP;
    put_le16(req->out + 1, srv->max_mtu);
    return 3;
}

static int on_find_info(struct att_server *srv, struct att_req *req)
{
    uint16_t start, end;
    uint8_t format = 0;
    size_t n = 2;
    int err = parse_range(req, &start, &end);

    if (err)
        return err;
    for (uint32_t h = start; h <= range_last(srv, end); h++) {
        const struct bt_uuid *type = gatt_attr_type(gatt_db_attr(srv->db, (uint16_t)h));
        uint8_t f = type->len == 2 ? 1 : 2;
        /* One UUID size per answer; the client asks again from where it stops. */
        if ((format && f != format) || n + 2 + type->len > req->mtu)
            break;
        format = f;
        put_le16(req->out + n, (uint16_t)h);
        memcpy(req->out + n + 2, type->le, type->len);
        n += 2u + type->len;
    }
    if (!format)
        return -ATT_ECODE_ATTR_NOT_FOUND;
    req->out[0] = ATT_OP_FIND_INFO_RSP;
    req->out[1] = format;
    return (int)n;
}

static int on_find_by_type(struct att_server *srv, struct att_req *req)
{
    uint16_t start, end;
    uint16_t type = get_le16(req->pdu + 5);
    const uint8_t *value = req->pdu + 7;
    size_t value_len = req->len - 7;
    size_t n = 1;
    int err = parse_range(req, &start, &end);

    if (err)
        return err;
    for (uint32_t h = start; h <= range_last(srv, end) && n + 4 <= req->mtu; h++) {
        const struct gatt_attr *attr = gatt_db_attr(srv->db, (uint16_t)h);
        if (!bt_uuid_is16(gatt_attr_type(attr), type))
            continue;
        int got = read_value(srv, attr);
        if (got < 0 || (size_t)got != value_len || memcmp(srv->value, value, value_len))
            continue;
        put_le16(req->out + n, (uint16_t)h);
        put_le16(req->out + n + 2, gatt_attr_end(attr));
        n += 4;
    }
    if (n == 1)
        return -ATT_ECODE_ATTR_NOT_FOUND;
    req->out[0] = ATT_OP_FIND_BY_TYPE_RSP;
    return (int)n;
}

/* Read By Type and Read By Group Type answers: entries of handle, [group end,] value, all
 * values the same length (Part F 3.4.4.2 and 3.4.4.10). An error on the first match is the
 * answer; on a later one the list stops before it. */
static int read_list(struct att_server *srv, struct att_req *req, const struct bt_uuid *type, uint16_t start,
                     uint16_t end, bool group)
{
    size_t head = group ? 4 : 2;
    /* the Length octet counts header + value, so a value is at most 255 - head */
    size_t cap = min_size(req->mtu - 2 - head, 255 - head);
    size_t n = 2, first = 0, cut = 0;
    bool found = false;

    for (uint32_t h = start; h <= range_last(srv, end); h++) {
        const struct gatt_attr *attr = gatt_db_attr(srv->db, (uint16_t)h);
        if (!bt_uuid_equal(gatt_attr_type(attr), type))
            continue;
        int got = read_value(srv, attr);
        if (got < 0 && !found) {
            req->err_handle = (uint16_t)h;
            return got;
        }
        if (got < 0 || (found && (size_t)got != first))
            break;
        if (!found) {
            found = true;
            first = (size_t)got;
            cut = min_size(first, cap);
        }
        if (n + head + cut > req->mtu)
            break;
        put_le16(req->out + n, (uint16_t)h);
        if (group)
            put_le16(req->out + n + 2, gatt_attr_end(attr));
        memcpy(req->out + n + head, srv->value, cut);
        n += head + cut;
    }
    if (!found) {
        req->err_handle = start;
        return -ATT_ECODE_ATTR_NOT_FOUND;
    }
    req->out[0] = group ? ATT_OP_READ_BY_GROUP_RSP : ATT_OP_READ_BY_TYPE_RSP;
    req->out[1] = (uint8_t)(head + cut);
    return (int)n;
}

/* Both requests carry a 16- or 128-bit type after the handle range. */
static int parse_typed_range(struct att_req *req, struct bt_uuid *type, uint16_t *start, uint16_t *end)
{
    if (bt_uuid_from_le(type, req->pdu + 5, req->len - 5) < 0)
        return -ATT_ECODE_INVALID_PDU;
    return parse_range(req, start, end);
}

static int on_read_by_type(struct att_server *srv, struct att_req *req)
{
    struct bt_uuid type;
    uint16_t start, end;
    int err = parse_typed_range(req, &type, &start, &end);

    return err ? err : read_list(srv, req, &type, start, end, false);
}

static int on_read_by_group(struct att_server *srv, struct att_req *req)
{
    struct bt_uuid type;
    uint16_t start, end;
    int err = parse_typed_range(req, &type, &start, &end);

    if (err)
        return err;
    if (!bt_uuid_is16(&type, GATT_PRIMARY_SERVICE_UUID) && !bt_uuid_is16(&type, GATT_SECONDARY_SERVICE_UUID))
        return -ATT_ECODE_UNSUPPORTED_GROUP;
    return read_list(srv, req, &type, start, end, true);
}

/* Read and Read Blob: the value from offset, cut to MTU-1. */
static int read_at(struct att_server *srv, struct att_req *req, uint16_t offset, uint8_t rsp)
{
    int err = 0;
    const struct gatt_attr *attr = lookup(srv, req, get_le16(req->pdu + 1), &err);

    if (!attr)
        return err;
    int got = read_value(srv, attr);
    if (got < 0)
        return got;
    if (offset > got)
        return -ATT_ECODE_INVALID_OFFSET;
    size_t n = min_size((size_t)got - offset, req->mtu - 1);
    req->out[0] = rsp;
    memcpy(req->out + 1, srv->value + offset, n);
    return (int)(1 + n);
}

static int on_read(struct att_server *srv, struct att_req *req)
{
    return read_at(srv, req, 0, ATT_OP_READ_RSP);
}

static int on_read_blob(struct att_server *srv, struct att_req *req)
{
    return read_at(srv, req, get_le16(req->pdu + 3), ATT_OP_READ_BLOB_RSP);
}

static int on_read_multiple(struct att_server *srv, struct att_req *req)
{
    size_t n = 1;

    if ((req->len - 1) % 2)
        return -ATT_ECODE_INVALID_PDU;
    /* Every handle is checked even once the answer is full: any error is the answer. */
    for (size_t i = 1; i < req->len; i += 2) {
        int err = 0;
        const struct gatt_attr *attr = lookup(srv, req, get_le16(req->pdu + i), &err);
        if (!attr)
            return err;
        int got = read_value(srv, attr);
        if (got < 0)
            return got;
        size_t take = min_size((size_t)got, req->mtu - n);
        memcpy(req->out + n, srv->value, take);
        n += take;
    }
    req->out[0] = ATT_OP_READ_MULT_RSP;
    return (int)n;
}

/* Write Request and Write Command: the dispatcher drops a command's answer, error or not. */
static int on_write(struct att_server *srv, struct att_req *req)
{
    int err = 0;
    const struct gatt_attr *attr = lookup(srv, req, get_le16(req->pdu + 1), &err);

    if (!attr)
        return err;
    err = write_value(srv, attr, req->pdu + 3, req->len - 3);
    if (err)
        return err;
    req->out[0] = ATT_OP_WRITE_RSP;
    return 1;
}

static int on_prepare_write(struct att_server *srv, struct att_req *req)
{
    int err = 0;
    const struct gatt_attr *attr = lookup(srv, req, get_le16(req->pdu + 1), &err);
    size_t len = req->len - 5;

    if (!attr)
        return err;
    if (!gatt_attr_writable(attr))
        return -ATT_ECODE_WRITE_NOT_PERMITTED;
    if (srv->prep_count == ATT_PREP_MAX_ENTRIES || srv->prep_used + len > ATT_PREP_MAX_BYTES)
        return -ATT_ECODE_PREP_QUEUE_FULL;
    struct prep_write *p = &srv->prep[srv->prep_count++];
    p->handle = get_le16(req->pdu + 1);
    p->offset = get_le16(req->pdu + 3);
    p->len = (uint16_t)len;
    p->pos = (uint16_t)srv->prep_used;
    memcpy(srv->prep_data + p->pos, req->pdu + 5, len);
    srv->prep_used += len;
    /* The answer echoes the request so the client can check what was queued. */
    memcpy(req->out, req->pdu, req->len);
    req->out[0] = ATT_OP_PREP_WRITE_RSP;
    return (int)req->len;
}

/* Puts together the queued parts for handle into srv->value: its length or an ATT error.
 * A long write replaces the whole value, so each part must start inside what came before. */
static int assemble(struct att_server *srv, uint16_t handle)
{
    size_t max = gatt_attr_max_len(gatt_db_attr(srv->db, handle));
    size_t len = 0;

    for (size_t i = 0; i < srv->prep_count; i++) {
        const struct prep_write *p = &srv->prep[i];
        if (p->handle != handle)
            continue;
        if (p->offset > len)
            return -ATT_ECODE_INVALID_OFFSET;
        if (p->offset + (size_t)p->len > max)
            return -ATT_ECODE_INVALID_VALUE_LEN;
        memcpy(srv->value + p->offset, srv->prep_data + p->pos, p->len);
        if (p->offset + (size_t)p->len > len)
            len = p->offset + (size_t)p->len;
    }
    return (int)len;
}

static bool first_for_handle(const struct att_server *srv, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (srv->prep[j].handle == srv->prep[i].handle)
            return false;
    return true;
}

/* Checks every queued value first, then writes them in the order they were prepared. */
static int execute_queue(struct att_server *srv, struct att_req *req)
{
    for (int writing = 0; writing <= 1; writing++) {
        for (size_t i = 0; i < srv->prep_count; i++) {
            if (!first_for_handle(srv, i))
                continue;
            uint16_t handle = srv->prep[i].handle;
            int got = assemble(srv, handle);
            int err = got < 0 ? got : 0;
            if (!err && writing)
                err = write_value(srv, gatt_db_attr(srv->db, handle), srv->value, (size_t)got);
            if (err) {
                req->err_handle = handle;
                return err;
            }
        }
    }
    return 0;
}

static int on_execute_write(struct att_server *srv, struct att_req *req)
{
    uint8_t flags = req->pdu[1];
    int err = 0;

    if (flags > 1)
        return -ATT_ECODE_INVALID_PDU;
    if (flags == 1)
        err = execute_queue(srv, req);
    srv->prep_count = 0;
    srv->prep_used = 0;
    if (err)
        return err;
    req->out[0] = ATT_OP_EXEC_WRITE_RSP;
    return 1;
}

static int on_confirm(struct att_server *srv, struct att_req *req)
{
    (void)req;
    srv->indication_pending = false;
    return 0;
}

/* Length bounds are checked before a handler runs; max_len 0 means "up to the MTU". */
static const struct {
    uint8_t op;
    uint8_t min_len;
    uint8_t max_len;
    int (*fn)(struct att_server *srv, struct att_req *req);
} handlers[] = {
    {ATT_OP_MTU_REQ, 3, 3, on_exchange_mtu},
    {ATT_OP_FIND_INFO_REQ, 5, 5, on_find_info},
    {ATT_OP_FIND_BY_TYPE_REQ, 7, 0, on_find_by_type},
    {ATT_OP_READ_BY_TYPE_REQ, 7, 21, on_read_by_type},
    {ATT_OP_READ_REQ, 3, 3, on_read},
    {ATT_OP_READ_BLOB_REQ, 5, 5, on_read_blob},
    {ATT_OP_READ_MULT_REQ, 5, 0, on_read_multiple},
    {ATT_OP_READ_BY_GROUP_REQ, 7, 21, on_read_by_group},
    {ATT_OP_WRITE_REQ, 3, 0, on_write},
    {ATT_OP_WRITE_CMD, 3, 0, on_write},
    {ATT_OP_PREP_WRITE_REQ, 5, 0, on_prepare_write},
    {ATT_OP_EXEC_WRITE_REQ, 2, 2, on_execute_write},
    {ATT_OP_CONFIRM, 1, 1, on_confirm},
};

/* Odd opcodes up to Multiple Handle Value Notification go from a server to a client
 * (responses, notifications, indications): a server answers none of them. */
static bool server_bound(uint8_t op)
{
    return !(op & 1) || op > ATT_OP_MULT_NOTIFY;
}

static size_t error_rsp(uint8_t *out, uint8_t op, uint16_t handle, uint8_t ecode)
{
    out[0] = ATT_OP_ERROR_RSP;
    out[1] = op;
    put_le16(out + 2, handle);
    out[4] = ecode;
    return 5;
}

size_t att_server_handle(struct att_server *srv, const uint8_t *pdu, size_t len, uint8_t *out, size_t out_cap)
{
    if (len == 0 || out_cap < srv->mtu)
        return 0;
    uint8_t op = pdu[0];
    /* Commands and confirmations are never answered, not even with an error. */
    bool answered = !(op & ATT_OP_COMMAND_FLAG) && op != ATT_OP_CONFIRM;
    struct att_req req = {.pdu = pdu, .len = len, .out = out, .mtu = srv->mtu};
    int n = -ATT_ECODE_REQ_NOT_SUPPORTED;

    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (handlers[i].op != op)
            continue;
        size_t max = handlers[i].max_len ? handlers[i].max_len : srv->mtu;
        if (len < handlers[i].min_len || len > max)
            n = -ATT_ECODE_INVALID_PDU;
        else
            n = handlers[i].fn(srv, &req);
        break;
    }
    if (!answered || !server_bound(op))
        return 0;
    if (n >= 0)
        return (size_t)n;
    return error_rsp(out, op, req.err_handle, (uint8_t)-n);
}

/* The CCCD index of the characteristic value at handle, or -1. */
static int value_cccd(const struct att_server *srv, uint16_t handle)
{
    const struct gatt_attr *attr = gatt_db_attr(srv->db, handle);

    return attr ? gatt_attr_value_cccd(attr) : -1;
}

/* Notification or indication, by op; value cut to MTU-3. */
static ssize_t handle_value(struct att_server *srv, uint8_t op, uint16_t handle, const uint8_t *value,
                            size_t len, uint8_t *out, size_t out_cap)
{
    bool indication = op == ATT_OP_INDICATE;
    int idx = value_cccd(srv, handle);

    if (idx < 0 || out_cap < srv->mtu)
        return -EINVAL;
    if (!(srv->ccc[idx] & (indication ? GATT_CCC_INDICATE : GATT_CCC_NOTIFY)))
        return 0;
    if (indication && srv->indication_pending)
        return -EBUSY;
    srv->indication_pending |= indication;
    size_t n = min_size(len, (size_t)srv->mtu - 3);
    out[0] = op;
    put_le16(out + 1, handle);
    if (n)
        memcpy(out + 3, value, n);
    return (ssize_t)(3 + n);
}

ssize_t att_server_notify(struct att_server *srv, uint16_t handle, const uint8_t *value, size_t len,
                          uint8_t *out, size_t out_cap)
{
    return handle_value(srv, ATT_OP_NOTIFY, handle, value, len, out, out_cap);
}

ssize_t att_server_indicate(struct att_server *srv, uint16_t handle, const uint8_t *value, size_t len,
                            uint8_t *out, size_t out_cap)
{
    return handle_value(srv, ATT_OP_INDICATE, handle, value, len, out, out_cap);
}

bool att_server_indication_pending(const struct att_server *srv)
{
    return srv->indication_pending;
}

uint16_t att_server_mtu(const struct att_server *srv)
{
    return srv->mtu;
}

uint16_t att_server_ccc(const struct att_server *srv, uint16_t handle)
{
    int idx = value_cccd(srv, handle);

    return idx < 0 ? 0 : srv->ccc[idx];
}
