/* Adapter ownership: reads /proc and /dev/rfkill (paths given by the caller, so tests use
 * fake trees) and turns the kernel's refusals into sentences a person can act on. */
#include "adapter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/rfkill.h>

#ifndef ERFKILL
#define ERFKILL 132 /* asm-generic/errno.h */
#endif

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    *out = strtoul(s, &end, 10);
    if (errno || *end || *out > max)
        return -EINVAL;
    return 0;
}

int adapter_parse_name(const char *name)
{
    unsigned long id;

    if (strncmp(name, "hci", 3) || parse_uint(name + 3, 0xffff, &id))
        return -EINVAL;
    return (int)id;
}

/* Reads a small text file into buf without its trailing newline; -errno on failure. */
static int read_line(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap - 1);

    close(fd);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

pid_t adapter_find_process(const char *proc_root, const char *comm)
{
    DIR *dir = opendir(proc_root);
    struct dirent *de;
    pid_t found = 0;

    if (!dir)
        return 0;
    while (!found && (de = readdir(dir))) {
        unsigned long pid;
        char path[PATH_MAX], name[64];

        if (parse_uint(de->d_name, INT_MAX, &pid))
            continue;
        snprintf(path, sizeof(path), "%s/%s/comm", proc_root, de->d_name);
        if (read_line(path, name, sizeof(name)) == 0 && strcmp(name, comm) == 0)
            found = (pid_t)pid;
    }
    closedir(dir);
    return found;
}

int rfkill_event_parse(const uint8_t *buf, size_t len, struct rfkill_entry *e)
{
    if (len < RFKILL_EVENT_SIZE_V1)
        return -EPROTO;
    /* __u32 idx in host order (the kernel's own struct), then type, op, soft, hard */
    e->idx = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
    e->type = buf[4];
    e->op = buf[5];
    e->soft = buf[6];
    e->hard = buf[7];
    return 0;
}

int adapter_rfkill_index(const char *sys_root, int dev_id)
{
    char path[PATH_MAX];
    DIR *dir;
    struct dirent *de;
    int idx = -ENOENT;

    snprintf(path, sizeof(path), "%s/class/bluetooth/hci%d", sys_root, dev_id);
    if (!(dir = opendir(path)))
        return -ENOENT;
    while (idx < 0 && (de = readdir(dir))) {
        unsigned long n;

        if (strncmp(de->d_name, "rfkill", 6) == 0 && parse_uint(de->d_name + 6, INT_MAX, &n) == 0)
            idx = (int)n;
    }
    closedir(dir);
    return idx;
}

static bool lift_soft_block(int fd, uint32_t idx)
{
    uint8_t ev[RFKILL_EVENT_SIZE_V1] = {(uint8_t)idx,
                                        (uint8_t)(idx >> 8),
                                        (uint8_t)(idx >> 16),
                                        (uint8_t)(idx >> 24),
                                        RFKILL_TYPE_BLUETOOTH,
                                        RFKILL_OP_CHANGE,
                                        0,
                                        0};

    return write(fd, ev, sizeof(ev)) == (ssize_t)sizeof(ev);
}

enum rfkill_verdict adapter_rfkill_check(const char *rfkill_path, int idx)
{
    /* Read-write when allowed, so that a soft block can be lifted. */
    int fd = open(rfkill_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    bool writable = fd >= 0;
    enum rfkill_verdict verdict = RFKILL_CLEAR;
    uint8_t buf[RFKILL_EVENT_SIZE_V1];
    struct rfkill_entry e;

    if (fd < 0)
        fd = open(rfkill_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return RFKILL_CLEAR; /* no rfkill support: nothing can block */
    /* Opening delivers one ADD event per switch; reading stops at EAGAIN (or EOF). */
    while (read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf)) {
        if (rfkill_event_parse(buf, sizeof(buf), &e) || e.type != RFKILL_TYPE_BLUETOOTH ||
            (idx >= 0 && e.idx != (uint32_t)idx))
            continue;
        if (e.hard) {
            verdict = RFKILL_HARD_BLOCKED;
            break;
        }
        if (e.soft && verdict != RFKILL_SOFT_BLOCKED)
            verdict = writable && lift_soft_block(fd, e.idx) ? RFKILL_UNBLOCKED : RFKILL_SOFT_BLOCKED;
    }
    close(fd);
    return verdict;
}

int adapter_bind_message(int err, const char *adapter, char *msg, size_t cap)
{
    switch (-err) {
    case EAFNOSUPPORT:
        snprintf(msg, cap,
                 "this kernel has no Bluetooth support (AF_BLUETOOTH: %s); "
                 "for BlueZ's emulator use --hci-socket PATH",
                 strerror(-err));
        return ADAPTER_EXIT_NO_BLUETOOTH;
    case ENODEV:
        snprintf(msg, cap, "no Bluetooth adapter %s (see ls /sys/class/bluetooth)", adapter);
        return ADAPTER_EXIT_NO_ADAPTER;
    case EBUSY:
        snprintf(msg, cap,
                 "%s is busy: another program holds it and it could not be "
                 "brought down",
                 adapter);
        return ADAPTER_EXIT_BUSY;
    case EPERM:
    case EACCES:
        snprintf(msg, cap,
                 "no permission to take %s: ble-agent needs CAP_NET_ADMIN "
                 "(run it as root or through ble-agent.service)",
                 adapter);
        return ADAPTER_EXIT_NO_PERMISSION;
    case ERFKILL:
        snprintf(msg, cap, "%s is blocked by rfkill: run `rfkill unblock bluetooth`", adapter);
        return ADAPTER_EXIT_SOFT_BLOCKED;
    default:
        snprintf(msg, cap, "cannot take %s: %s", adapter, strerror(-err));
        return ADAPTER_EXIT_CONTROLLER;
    }
}

int adapter_drop_capabilities(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2] = {{0}};

    /* No libcap: the raw syscall with empty sets drops effective, permitted, inheritable. */
    return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}
