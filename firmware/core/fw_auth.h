/* fw_auth.h: device trust on the device (ARCHITECTURE.md "Device trust"): the X-Provd-Auth proof
 * of each call, the server's clock learned from its answers, and the opening of a sealed
 * configuration; on the platform's SHA-256 and AES-GCM. */
#ifndef FW_AUTH_H
#define FW_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "fw_platform.h"

#define FW_AUTH_HEADER    "X-Provd-Auth"
#define FW_AUTH_PROOF_MAX (2 + 12 + 1 + 64)

struct fw_auth {
    uint8_t auth_key[32]; /* HMAC-SHA256(device key, "provd device auth 1") */
    uint8_t seal_key[32]; /* HMAC-SHA256(device key, "provd config seal 1"); AES-128 takes 16 */
    int has_clock;        /* an answer has told the server's time */
    int64_t clock_offset; /* the server's Unix seconds minus the device's own seconds */
    char proof[FW_AUTH_PROOF_MAX + 1];
};

/* Derives the two keys from the device key (its bytes). Returns 0, or -1 without sha256. */
int fw_auth_init(struct fw_auth *a, const struct fw_platform *plat, const uint8_t *key, size_t key_len);
/* Takes the server's clock from an answer (server_time 0: none). Returns 1 when the device's
 * idea of it moved by more than a second (a refused proof is then worth sending again at once). */
int fw_auth_clock(struct fw_auth *a, int64_t server_time, uint64_t now_ms);
/* a->proof = the header value for method on target (path and query as sent) with the body, at
 * the server's time as the device knows it (0 before any answer told it). Returns 0 or -1. */
int fw_auth_sign(struct fw_auth *a, const struct fw_platform *plat, const char *method, const char *target,
                 const char *body, size_t body_len, uint64_t now_ms);
/* Opens the sealed configuration {"v":2,"nonce":...,"data":...} of device id and cfgsn into out
 * (cap bytes, NUL-terminated). Returns its length, or -1 when it is malformed, too large or not
 * authentic. */
int fw_auth_open_config(const struct fw_auth *a, const struct fw_platform *plat, const char *id, uint32_t cfgsn,
                        const char *sealed, size_t sealed_len, char *out, size_t cap);

#endif
