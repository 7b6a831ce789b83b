/* Taking a Bluetooth adapter for ble-agent: checks before binding the user channel (rfkill,
 * bluetoothd), one-line explanations with distinct exit codes, and dropping privileges. */
#ifndef ADAPTER_H
#define ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes of ble-agent, one per reason it could not run. */
enum adapter_exit {
    ADAPTER_EXIT_USAGE = 2,
    ADAPTER_EXIT_NO_ADAPTER = 3,
    ADAPTER_EXIT_HARD_BLOCKED = 4,
    ADAPTER_EXIT_SOFT_BLOCKED = 5,
    ADAPTER_EXIT_BLUETOOTHD = 6,
    ADAPTER_EXIT_BUSY = 7,
    ADAPTER_EXIT_NO_PERMISSION = 8,
    ADAPTER_EXIT_NO_BLUETOOTH = 9,
    ADAPTER_EXIT_CONTROLLER = 10, /* the controller failed or went away */
    ADAPTER_EXIT_SPOOL = 11,      /* the spool in the state directory cannot be opened */
};

/* "hci0".."hci65535" to its device id; -EINVAL otherwise. */
int adapter_parse_name(const char *name);

/* The pid of a process whose /proc/<pid>/comm is comm, under proc_root ("/proc"); 0 when
 * none runs. */
pid_t adapter_find_process(const char *proc_root, const char *comm);

/* One rfkill event as /dev/rfkill delivers it (linux/rfkill.h, the 8-byte v1 layout). */
struct rfkill_entry {
    uint32_t idx;
    uint8_t type;
    uint8_t op;
    uint8_t soft;
    uint8_t hard;
};

/* 0, or -EPROTO when len is below the 8 bytes of a v1 event (longer, newer events are fine). */
int rfkill_event_parse(const uint8_t *buf, size_t len, struct rfkill_entry *e);

/* The rfkill index of adapter dev_id from sysfs (<sys_root>/class/bluetooth/hciN/rfkillM),
 * or -ENOENT. */
int adapter_rfkill_index(const char *sys_root, int dev_id);

enum rfkill_verdict {
    RFKILL_CLEAR,        /* not blocked, or no rfkill at all */
    RFKILL_UNBLOCKED,    /* was soft-blocked; the block is lifted */
    RFKILL_SOFT_BLOCKED, /* soft-blocked and lifting it was not allowed */
    RFKILL_HARD_BLOCKED,
};

/* Reads the rfkill state from rfkill_path ("/dev/rfkill") for switch idx, or for every
 * Bluetooth switch when idx is negative, and lifts a soft block when it can. */
enum rfkill_verdict adapter_rfkill_check(const char *rfkill_path, int idx);

/* The one-line explanation for a failure (-errno) to bind adapter's user channel; returns
 * the exit code. */
int adapter_bind_message(int err, const char *adapter, char *msg, size_t cap);

/* Drops every capability once the user channel is bound: 0 or -errno. */
int adapter_drop_capabilities(void);

#endif
