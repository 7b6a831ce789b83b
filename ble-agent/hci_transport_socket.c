/* H4 over a Unix stream socket, as BlueZ's emulator serves it: one send() per packet, and
 * packets cut out of the received byte stream by their H4 headers into a bounded buffer. */
#include "hci_transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "hci.h"

struct socket_transport {
    struct hci_transport base;
    size_t have;
    uint8_t buf[2 * HCI_MAX_PACKET];
};

static int socket_send(struct hci_transport *t, const uint8_t *pkt, size_t len)
{
    /* Blocking with a send timeout: a controller that stops reading is an error, not a hang. */
    ssize_t n = send(t->fd, pkt, len, MSG_NOSIGNAL);

    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

static ssize_t socket_recv(struct hci_transport *t, uint8_t *out, size_t cap)
{
    struct socket_transport *s = (struct socket_transport *)t;

    for (;;) {
        ssize_t need = h4_packet_len(s->buf, s->have);

        if (need < 0)
            return need;
        if (need > 0 && (size_t)need <= s->have) {
            if ((size_t)need > cap)
                return -EMSGSIZE;
            memcpy(out, s->buf, (size_t)need);
            s->have -= (size_t)need;
            memmove(s->buf, s->buf + need, s->have);
            return need;
        }
        ssize_t n = recv(t->fd, s->buf + s->have, sizeof(s->buf) - s->have, MSG_DONTWAIT);

        if (n == 0)
            return -ECONNRESET;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
        s->have += (size_t)n;
    }
}

static void socket_close(struct hci_transport *t)
{
    close(t->fd);
    free(t);
}

static const struct hci_transport_ops socket_ops = {
    .send = socket_send,
    .recv = socket_recv,
    .close = socket_close,
};

int hci_transport_socket_open(const char *path, struct hci_transport **out)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct timeval send_timeout = {.tv_sec = 2};
    struct socket_transport *s;
    int err;

    if (strlen(path) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->base.ops = &socket_ops;
    s->base.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->base.fd < 0 ||
        setsockopt(s->base.fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout)) ||
        connect(s->base.fd, (struct sockaddr *)&addr, sizeof(addr)))
        goto fail;
    *out = &s->base;
    return 0;
fail:
    err = -errno;
    if (s->base.fd >= 0)
        close(s->base.fd);
    free(s);
    return err;
}
