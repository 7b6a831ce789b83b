/* btsnoop capture files of HCI traffic (the format of BlueZ's btmon and Android's HCI log),
 * datalink 1002 "HCI UART (H4)", readable by tshark/Wireshark. */
#ifndef BTSNOOP_H
#define BTSNOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BTSNOOP_HEADER_LEN = 16,
    BTSNOOP_RECORD_HDR_LEN = 24,
    BTSNOOP_DATALINK_H4 = 1002,
};

struct btsnoop;

/* Creates (truncates) path and writes the file header. NULL with errno set. */
struct btsnoop *btsnoop_open(const char *path);
/* Appends one H4 packet (indicator included); received is true for controller-to-host.
 * time_us is the wall-clock time in microseconds since the Unix epoch. 0 or -errno. */
int btsnoop_write(struct btsnoop *snoop, const uint8_t *pkt, size_t len, bool received, uint64_t time_us);
void btsnoop_close(struct btsnoop *snoop);

/* The 24-byte record header for a packet, for the writer and its tests. */
void btsnoop_record_header(uint8_t *out, const uint8_t *pkt, size_t len, bool received, uint64_t time_us);

#endif
