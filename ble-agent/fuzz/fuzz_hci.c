/* libFuzzer target for the HCI side: the input is a controller's H4 byte stream, cut into
 * packets by h4_packet_len() and fed to a started hci_host serving a small database. */
#include <stdint.h>
#include <stdlib.h>

#include "hci.h"
#include "hci_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *user_data, const uint8_t *pkt, size_t len)
{
    (void)user_data;
    if (len == 0 || len > HCI_MAX_PACKET || (pkt[0] != H4_CMD && pkt[0] != H4_ACL))
        abort();
    return 0;
}

static void quiet(void *user_data, const char *line)
{
    (void)user_data;
    (void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct hci_host_ops ops = {.send = sink, .log = quiet};
    static const uint8_t level = 50;
    struct bt_uuid gap = bt_uuid16(0x1800);
    struct gatt_db *db = gatt_db_new();
    struct gatt_char_def name = {
        .uuid = bt_uuid16(0x2a00), .props = GATT_PROP_READ, .value = (const uint8_t *)"fuzz", .value_len = 4};
    struct gatt_char_def battery = {.uuid = bt_uuid16(0x2a19),
                                    .props = GATT_PROP_READ | GATT_PROP_NOTIFY,
                                    .value = &level,
                                    .value_len = 1};

    if (!db || gatt_db_add_service(db, &gap) < 0 || gatt_db_add_char(db, &name) < 0 ||
        gatt_db_add_char(db, &battery) < 0)
        abort();
    struct hci_host_config cfg = {.name = "fuzz", .uuids = &gap, .n_uuids = 1, .db = db, .ops = &ops};
    struct hci_host *host = hci_host_new(&cfg);
    uint64_t now = 0;

    if (!host || hci_host_start(host, now) < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t len = h4_packet_len(data + off, size - off);

        if (len <= 0 || (size_t)len > size - off)
            break;
        hci_host_input(host, data + off, (size_t)len, now);
        hci_host_notify(host, 5, &level, 1);
        hci_host_tick(host, now += 100);
        off += (size_t)len;
    }
    hci_host_shutdown(host, now);
    hci_host_free(host);
    gatt_db_free(db);
    return 0;
}
