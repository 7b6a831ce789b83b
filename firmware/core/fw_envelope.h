/* fw_envelope.h: turns one reading and its SEQN into the end-to-end-encrypted telemetry body:
 * v2 (AES-128-GCM, device id as associated data) or v1 key+IV (AES-CBC, PKCS#7). */
#ifndef FW_ENVELOPE_H
#define FW_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_platform.h"
#include "fw_str.h"

/* Longest reading (JSON object text) a message can carry. */
#define FW_READING_MAX 384
/* The reading plus `,"SEQN":4294967295`, with room for a full block of padding. */
#define FW_PLAIN_MAX (FW_READING_MAX + 32)

enum fw_envelope_version {
    FW_ENVELOPE_V2 = 0, /* the default */
    FW_ENVELOPE_V1,     /* for servers that only speak v1 */
};

struct fw_envelope_key {
    enum fw_envelope_version version;
    uint8_t key[32];
    size_t key_len; /* v2: 16; v1: 16, 24 or 32 */
};

/* Working memory, kept in the caller's context so nothing large lands on a device stack. */
struct fw_envelope_scratch {
    char plain[FW_PLAIN_MAX + 16];
    uint8_t cipher[FW_PLAIN_MAX + 16];
};

/* Whether key_len suits the version. */
int fw_envelope_key_valid(const struct fw_envelope_key *key);

/* `reading` is a validated JSON object's text; the plaintext is that object with "SEQN" added as
 * its last member. Appends the envelope JSON to `out`. Returns 0, or -1 (crypto, RNG or space). */
int fw_envelope_build(const struct fw_platform *plat, const struct fw_envelope_key *key,
                      const char *device_id, const char *reading, size_t reading_len, uint32_t seqn,
                      struct fw_envelope_scratch *scratch, struct fw_str *out);

#endif
