/* Device keys at rest: sealed with AES-256-GCM under the server key (server_key.h), the device
 * id as associated data, so that a sealed key copied to another device's row does not open. */
#ifndef PROVD_KEY_WRAP_H
#define PROVD_KEY_WRAP_H

#include <stdbool.h>
#include <stddef.h>

#include "secret.h"
#include "server_key.h"

/* What a sealed key starts with; a stored key without it is one from before sealing (plain). */
#define KEY_WRAP_PREFIX "provd-key1:"
/* The longest sealed text of a secret of SECRET_MAX_LEN bytes, with its NUL. */
#define KEY_WRAP_MAX (sizeof KEY_WRAP_PREFIX - 1 + ((12 + SECRET_MAX_LEN + 16 + 2) / 3) * 4 + 1)

bool key_is_sealed(const char *stored);
/* Seals plain (at most SECRET_MAX_LEN bytes) for deviceid into out (KEY_WRAP_MAX bytes). */
bool key_seal(const struct server_key *key, const char *deviceid, const char *plain, char out[KEY_WRAP_MAX]);
/* Opens a sealed key into plain (plain_len bytes, NUL-terminated); false when it was sealed under
 * another server key or for another device, or was changed. */
bool key_open(const struct server_key *key, const char *deviceid, const char *sealed, char *plain,
              size_t plain_len);

#endif
