/* How HCI packets reach a controller: one interface, one backend per file (the kernel's
 * user channel, an H4 stream on a Unix socket). Packets carry their H4 indicator byte. */
#ifndef HCI_TRANSPORT_H
#define HCI_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hci_transport;

/* What each backend provides; callers use the hci_transport_*() functions below. */
struct hci_transport_ops {
    int (*send)(struct hci_transport *t, const uint8_t *pkt, size_t len);
    ssize_t (*recv)(struct hci_transport *t, uint8_t *buf, size_t cap);
    void (*close)(struct hci_transport *t);
};

/* Backends embed this first. */
struct hci_transport {
    const struct hci_transport_ops *ops;
    int fd;
};

/* Connects to an H4 stream server (BlueZ's btvirt -s). 0 or a negative errno. */
int hci_transport_socket_open(const char *path, struct hci_transport **out);
/* Binds the kernel's HCI user channel of adapter dev_id (exclusive access; the adapter must
 * be down). 0 or a negative errno from socket()/bind(): -EAFNOSUPPORT, -ENODEV, -EBUSY,
 * -EPERM, -ERFKILL... */
int hci_transport_userchan_open(int dev_id, struct hci_transport **out);

/* One whole packet: 0 or a negative errno. */
int hci_transport_send(struct hci_transport *t, const uint8_t *pkt, size_t len);
/* The next whole packet into buf (cap >= HCI_MAX_PACKET): its length, 0 when none is ready
 * (poll the fd again), or a negative errno (-ECONNRESET when the controller went away,
 * -EPROTO on a malformed stream). Never blocks. */
ssize_t hci_transport_recv(struct hci_transport *t, uint8_t *buf, size_t cap);
/* For poll(). */
int hci_transport_fd(const struct hci_transport *t);
void hci_transport_close(struct hci_transport *t);

#endif
