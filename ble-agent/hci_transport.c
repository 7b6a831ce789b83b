/* The backend-neutral half of hci_transport.h: each call goes through the ops table of the
 * backend that opened the transport (user channel or H4 socket). */
#include "hci_transport.h"

int hci_transport_send(struct hci_transport *t, const uint8_t *pkt, size_t len)
{
    return t->ops->send(t, pkt, len);
}

ssize_t hci_transport_recv(struct hci_transport *t, uint8_t *buf, size_t cap)
{
    return t->ops->recv(t, buf, cap);
}

int hci_transport_fd(const struct hci_transport *t)
{
    return t->fd;
}

void hci_transport_close(struct hci_transport *t)
{
    if (t)
        t->ops->close(t);
}
