/* btsnoop writer: big-endian header "btsnoop\0", version 1, datalink; then per packet its
 * lengths, direction/type flags, drops and a timestamp in microseconds since year 0. */
#include "btsnoop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hci.h"

/* Microseconds from 0000-01-01 to 1970-01-01, as the format counts time. */
static const uint64_t EPOCH_DELTA_US = 0x00dcddb30f2f8000ull;

struct btsnoop {
    FILE *f;
};

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

struct btsnoop *btsnoop_open(const char *path)
{
    static const uint8_t magic[8] = {'b', 't', 's', 'n', 'o', 'o', 'p', 0};
    uint8_t hdr[BTSNOOP_HEADER_LEN];
    struct btsnoop *snoop = calloc(1, sizeof(*snoop));

    if (!snoop)
        return NULL;
    for (size_t i = 0; i < sizeof(magic); i++)
        hdr[i] = magic[i];
    put_be32(hdr + 8, 1);
    put_be32(hdr + 12, BTSNOOP_DATALINK_H4);
    snoop->f = fopen(path, "wbe");
    if (!snoop->f || fwrite(hdr, sizeof(hdr), 1, snoop->f) != 1 || fflush(snoop->f)) {
        int err = errno;

        if (snoop->f)
            fclose(snoop->f);
        free(snoop);
        errno = err;
        return NULL;
    }
    return snoop;
}

void btsnoop_record_header(uint8_t *out, const uint8_t *pkt, size_t len, bool received, uint64_t time_us)
{
    /* Flags: bit 0 received, bit 1 command or event (rather than data). */
    uint32_t flags = (received ? 1u : 0u) | (len && (pkt[0] == H4_CMD || pkt[0] == H4_EVT) ? 2u : 0u);
    uint64_t ts = time_us + EPOCH_DELTA_US;

    put_be32(out, (uint32_t)len);
    put_be32(out + 4, (uint32_t)len);
    put_be32(out + 8, flags);
    put_be32(out + 12, 0);
    put_be32(out + 16, (uint32_t)(ts >> 32));
    put_be32(out + 20, (uint32_t)ts);
}

int btsnoop_write(struct btsnoop *snoop, const uint8_t *pkt, size_t len, bool received, uint64_t time_us)
{
    uint8_t hdr[BTSNOOP_RECORD_HDR_LEN];

    btsnoop_record_header(hdr, pkt, len, received, time_us);
    /* Flushed per packet, so a capture is whole up to the moment the daemon dies. */
    if (fwrite(hdr, sizeof(hdr), 1, snoop->f) != 1 || fwrite(pkt, len, 1, snoop->f) != 1 || fflush(snoop->f))
        return -EIO;
    return 0;
}

void btsnoop_close(struct btsnoop *snoop)
{
    if (!snoop)
        return;
    fclose(snoop->f);
    free(snoop);
}
