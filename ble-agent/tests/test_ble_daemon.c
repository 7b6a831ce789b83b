/* Tests of the daemon's system-facing modules against fake trees and sockets: adapter checks
 * (/proc, rfkill, sysfs, bind errors), battery files, btsnoop records, the H4 socket transport. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "adapter.h"
#include "battery.h"
#include "btsnoop.h"
#include "hci.h"
#include "hci_transport.h"
#include "test_dirs.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* A fresh temporary directory per test, removed by teardown. */
struct tree {
    char root[64];
};

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));

    strcpy(t->root, "/tmp/ble-daemon-test-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;

    remove_tree(t->root);
    free(t);
    return 0;
}

/* Writes len bytes to root/rel, creating the directories on the way. */
static void put_file(const struct tree *t, const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", t->root, rel);
    for (char *p = path + strlen(t->root) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put_text(const struct tree *t, const char *rel, const char *text)
{
    put_file(t, rel, text, strlen(text));
}

static void adapter_names(void **state)
{
    (void)state;
    assert_int_equal(adapter_parse_name("hci0"), 0);
    assert_int_equal(adapter_parse_name("hci12"), 12);
    assert_int_equal(adapter_parse_name("hci65535"), 65535);
    assert_int_equal(adapter_parse_name("hci65536"), -EINVAL);
    assert_int_equal(adapter_parse_name("hci"), -EINVAL);
    assert_int_equal(adapter_parse_name("hci-1"), -EINVAL);
    assert_int_equal(adapter_parse_name("hci1x"), -EINVAL);
    assert_int_equal(adapter_parse_name("eth0"), -EINVAL);
}

static void finds_bluetoothd(void **state)
{
    struct tree *t = *state;
    char proc[128];

    snprintf(proc, sizeof(proc), "%s/proc", t->root);
    put_text(t, "proc/1/comm", "systemd\n");
    put_text(t, "proc/self/comm", "bluetoothd\n"); /* not a pid: ignored */
    put_text(t, "proc/77/comm", "bluetoothd-x\n");
    assert_int_equal(adapter_find_process(proc, "bluetoothd"), 0);
    put_text(t, "proc/4242/comm", "bluetoothd\n");
    assert_int_equal(adapter_find_process(proc, "bluetoothd"), 4242);
    assert_int_equal(adapter_find_process("/nonexistent-proc", "bluetoothd"), 0);
}

static void rfkill_events(void **state)
{
    struct rfkill_entry e;

    (void)state;
    /* idx 3, Bluetooth, ADD, soft-blocked, not hard-blocked; a 9th byte (v2) is fine */
    assert_int_equal(rfkill_event_parse(BYTES(0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00), &e), 0);
    assert_int_equal(e.idx, 3);
    assert_int_equal(e.type, 2);
    assert_int_equal(e.soft, 1);
    assert_int_equal(e.hard, 0);
    assert_int_equal(rfkill_event_parse(BYTES(0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01), &e), -EPROTO);
}

static void rfkill_index_from_sysfs(void **state)
{
    struct tree *t = *state;
    char sys[128];

    snprintf(sys, sizeof(sys), "%s/sys", t->root);
    put_text(t, "sys/class/bluetooth/hci0/rfkill3/soft", "1\n");
    put_text(t, "sys/class/bluetooth/hci0/address", "00:11:22:33:44:55\n");
    assert_int_equal(adapter_rfkill_index(sys, 0), 3);
    assert_int_equal(adapter_rfkill_index(sys, 1), -ENOENT);
}

/* A regular file stands in for /dev/rfkill: reads give the events, a write lands after them. */
static void rfkill_verdicts(void **state)
{
    struct tree *t = *state;
    char dev[128];
    uint8_t after[32];

    snprintf(dev, sizeof(dev), "%s/rfkill", t->root);
    assert_int_equal(adapter_rfkill_check("/nonexistent/rfkill", -1), RFKILL_CLEAR);
    /* a soft-blocked wlan (type 1) and an unblocked Bluetooth switch */
    put_file(t, "rfkill", BYTES(0, 0, 0, 0, 1, 0, 1, 0, 3, 0, 0, 0, 2, 0, 0, 0));
    assert_int_equal(adapter_rfkill_check(dev, 3), RFKILL_CLEAR);
    /* Bluetooth idx 3 hard-blocked */
    put_file(t, "rfkill", BYTES(3, 0, 0, 0, 2, 0, 1, 1));
    assert_int_equal(adapter_rfkill_check(dev, 3), RFKILL_HARD_BLOCKED);
    /* another adapter's switch does not count when ours is known */
    assert_int_equal(adapter_rfkill_check(dev, 4), RFKILL_CLEAR);
    /* soft-blocked: lifted with a CHANGE event for idx 3, soft 0 */
    put_file(t, "rfkill", BYTES(3, 0, 0, 0, 2, 0, 1, 0));
    assert_int_equal(adapter_rfkill_check(dev, -1), RFKILL_UNBLOCKED);
    int fd = open(dev, O_RDONLY);

    assert_int_equal(read(fd, after, sizeof(after)), 16);
    close(fd);
    assert_memory_equal(after + 8, ((uint8_t[]){3, 0, 0, 0, 2, 2, 0, 0}), 8);
}

static void bind_messages(void **state)
{
    char msg[256];

    (void)state;
    assert_int_equal(adapter_bind_message(-EAFNOSUPPORT, "hci0", msg, sizeof(msg)),
                     ADAPTER_EXIT_NO_BLUETOOTH);
    assert_non_null(strstr(msg, "this kernel has no Bluetooth support"));
    assert_int_equal(adapter_bind_message(-ENODEV, "hci3", msg, sizeof(msg)), ADAPTER_EXIT_NO_ADAPTER);
    assert_string_equal(msg, "no Bluetooth adapter hci3 (see ls /sys/class/bluetooth)");
    assert_int_equal(adapter_bind_message(-EBUSY, "hci0", msg, sizeof(msg)), ADAPTER_EXIT_BUSY);
    assert_int_equal(adapter_bind_message(-EPERM, "hci0", msg, sizeof(msg)), ADAPTER_EXIT_NO_PERMISSION);
    assert_non_null(strstr(msg, "CAP_NET_ADMIN"));
    assert_int_equal(adapter_bind_message(-132 /* ERFKILL */, "hci0", msg, sizeof(msg)),
                     ADAPTER_EXIT_SOFT_BLOCKED);
    assert_non_null(strstr(msg, "rfkill unblock bluetooth"));
    assert_int_equal(adapter_bind_message(-EIO, "hci0", msg, sizeof(msg)), ADAPTER_EXIT_CONTROLLER);
    assert_null(strchr(msg, '\n'));
}

static void battery_files(void **state)
{
    struct tree *t = *state;
    char path[PATH_MAX], sys[128];

    snprintf(path, sizeof(path), "%s/capacity", t->root);
    put_text(t, "capacity", "77\n");
    assert_int_equal(battery_read(path), 77);
    put_text(t, "capacity", "100");
    assert_int_equal(battery_read(path), 100);
    put_text(t, "capacity", "101\n");
    assert_int_equal(battery_read(path), -EINVAL);
    put_text(t, "capacity", "-1\n");
    assert_int_equal(battery_read(path), -EINVAL);
    put_text(t, "capacity", "7x\n");
    assert_int_equal(battery_read(path), -EINVAL);
    put_text(t, "capacity", "");
    assert_int_equal(battery_read(path), -EINVAL);
    assert_int_equal(battery_read("/nonexistent/capacity"), -ENOENT);

    snprintf(sys, sizeof(sys), "%s/sys", t->root);
    assert_int_equal(battery_find(sys, path, sizeof(path)), -ENOENT);
    put_text(t, "sys/class/power_supply/AC/type", "Mains\n");
    assert_int_equal(battery_find(sys, path, sizeof(path)), -ENOENT);
    put_text(t, "sys/class/power_supply/BAT1/type", "Battery\n");
    put_text(t, "sys/class/power_supply/BAT0/type", "Battery\n");
    assert_int_equal(battery_find(sys, path, sizeof(path)), 0);
    assert_non_null(strstr(path, "/class/power_supply/BAT0/capacity"));
}

static void btsnoop_records(void **state)
{
    struct tree *t = *state;
    char path[PATH_MAX];
    uint8_t file[128];

    snprintf(path, sizeof(path), "%s/snoop.log", t->root);
    struct btsnoop *snoop = btsnoop_open(path);

    assert_non_null(snoop);
    /* Reset sent at 1970-01-01T00:00:01Z, its Command Complete received */
    assert_int_equal(btsnoop_write(snoop, BYTES(0x01, 0x03, 0x0c, 0x00), false, 1000000), 0);
    assert_int_equal(btsnoop_write(snoop, BYTES(0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00), true, 1000000), 0);
    btsnoop_close(snoop);
    int fd = open(path, O_RDONLY);

    assert_int_equal(read(fd, file, sizeof(file)), 16 + 24 + 4 + 24 + 7);
    close(fd);
    assert_memory_equal(
        file, ((uint8_t[]){'b', 't', 's', 'n', 'o', 'o', 'p', 0, 0, 0, 0, 1, 0, 0, 0x03, 0xea}), 16);
    /* lengths 4 and 4, flags 2 (sent command), no drops, 0x00dcddb30f2f8000 + 1 s */
    assert_memory_equal(file + 16, ((uint8_t[]){0, 0, 0, 4, 0,    0,    0,    4,    0,    0,    0,    2,
                                                0, 0, 0, 0, 0x00, 0xdc, 0xdd, 0xb3, 0x0f, 0x3e, 0xc2, 0x40}),
                        24);
    assert_memory_equal(file + 40, ((uint8_t[]){0x01, 0x03, 0x0c, 0x00}), 4);
    /* received event: flags 3 */
    assert_int_equal(file[44 + 11], 3);
    /* ACL data sent: flags 0 */
    uint8_t hdr[24];

    btsnoop_record_header(hdr, BYTES(0x02, 0x40, 0x00, 0x00, 0x00), false, 0);
    assert_int_equal(hdr[11], 0);
    assert_null(btsnoop_open("/nonexistent-dir/snoop.log"));
}

/* The socket transport cuts packets out of a stream however the bytes arrive. */
static void socket_transport_framing(void **state)
{
    struct tree *t = *state;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct hci_transport *tr;
    uint8_t pkt[HCI_MAX_PACKET];
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0), peer;

    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/h4", t->root);
    assert_int_equal(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(hci_transport_socket_open(addr.sun_path, &tr), 0);
    assert_true((peer = accept(lfd, NULL, NULL)) >= 0);

    assert_int_equal(hci_transport_send(tr, BYTES(0x01, 0x03, 0x0c, 0x00)), 0);
    assert_int_equal(read(peer, pkt, sizeof(pkt)), 4);
    assert_memory_equal(pkt, ((uint8_t[]){0x01, 0x03, 0x0c, 0x00}), 4);

    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), 0);
    /* half an event, then its rest with a whole ACL packet behind it */
    assert_int_equal(write(peer, (uint8_t[]){0x04, 0x0e, 0x04, 0x01}, 4), 4);
    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), 0);
    assert_int_equal(write(peer, (uint8_t[]){0x03, 0x0c, 0x00, 0x02, 0x40, 0x20, 0x01, 0x00, 0xaa}, 9), 9);
    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), 7);
    assert_memory_equal(pkt, ((uint8_t[]){0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00}), 7);
    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), 6);
    assert_int_equal(pkt[5], 0xaa);
    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), 0);
    /* a packet that does not fit the caller's buffer */
    assert_int_equal(write(peer, (uint8_t[]){0x04, 0x0e, 0x01, 0x00}, 4), 4);
    assert_int_equal(hci_transport_recv(tr, pkt, 3), -EMSGSIZE);
    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), 4);
    /* an unknown indicator breaks the stream */
    assert_int_equal(write(peer, (uint8_t[]){0x09, 0x00}, 2), 2);
    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), -EPROTO);
    hci_transport_close(tr);

    /* the controller going away */
    assert_int_equal(hci_transport_socket_open(addr.sun_path, &tr), 0);
    close(peer);
    assert_true((peer = accept(lfd, NULL, NULL)) >= 0);
    close(peer);
    assert_int_equal(hci_transport_recv(tr, pkt, sizeof(pkt)), -ECONNRESET);
    hci_transport_close(tr);
    close(lfd);
    assert_int_equal(hci_transport_socket_open(addr.sun_path, &tr), -ECONNREFUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adapter_names),
        cmocka_unit_test_setup_teardown(finds_bluetoothd, setup, teardown),
        cmocka_unit_test(rfkill_events),
        cmocka_unit_test_setup_teardown(rfkill_index_from_sysfs, setup, teardown),
        cmocka_unit_test_setup_teardown(rfkill_verdicts, setup, teardown),
        cmocka_unit_test(bind_messages),
        cmocka_unit_test_setup_teardown(battery_files, setup, teardown),
        cmocka_unit_test_setup_teardown(btsnoop_records, setup, teardown),
        cmocka_unit_test_setup_teardown(socket_transport_framing, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
