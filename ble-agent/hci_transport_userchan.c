/* The kernel's HCI user channel (AF_BLUETOOTH, BTPROTO_HCI, HCI_CHANNEL_USER): exclusive raw
 * access to one adapter; every read() returns one whole H4 packet, every write() sends one. */
#include "hci_transport.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>

static int userchan_send(struct hci_transport *t, const uint8_t *pkt, size_t len)
{
    ssize_t n = write(t->fd, pkt, len);

    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

static ssize_t userchan_recv(struct hci_transport *t, uint8_t *buf, size_t cap)
{
    ssize_t n = read(t->fd, buf, cap);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    /* The socket closes (0) when the adapter is unplugged. */
    return n == 0 ? -ECONNRESET : n;
}

static void userchan_close(struct hci_transport *t)
{
    close(t->fd);
    free(t);
}

static const struct hci_transport_ops userchan_ops = {
    .send = userchan_send,
    .recv = userchan_recv,
    .close = userchan_close,
};

static int bind_user(int fd, int dev_id)
{
    struct sockaddr_hci addr = {
        .hci_family = AF_BLUETOOTH,
        .hci_dev = (unsigned short)dev_id,
        .hci_channel = HCI_CHANNEL_USER,
    };

    return bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
}

/* An adapter that is up (EBUSY) is brought down through the kernel, as hciconfig down does. */
static int bring_down(int fd, int dev_id)
{
    return ioctl(fd, HCIDEVDOWN, dev_id) ? -errno : 0;
}

int hci_transport_userchan_open(int dev_id, struct hci_transport **out)
{
    struct hci_transport *t = calloc(1, sizeof(*t));
    int err;

    if (!t)
        return -ENOMEM;
    t->ops = &userchan_ops;
    t->fd = socket(AF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, BTPROTO_HCI);
    if (t->fd < 0) {
        err = -errno;
        free(t);
        return err;
    }
    err = bind_user(t->fd, dev_id);
    if (err == -EBUSY && (err = bring_down(t->fd, dev_id)) == 0)
        err = bind_user(t->fd, dev_id);
    if (err) {
        close(t->fd);
        free(t);
        return err;
    }
    *out = t;
    return 0;
}
