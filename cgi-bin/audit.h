/* The audit trail: who changed what, when, and the configuration before and after. An entry is
 * recorded in the change's own transaction (store_write_begin()), so it exists exactly when the
 * change committed; GET /api/audit reads it back in keyset pages. */
#ifndef PROVD_AUDIT_H
#define PROVD_AUDIT_H

#include <stdint.h>

#include "store.h"

#define AUDIT_VIA_API     "api"     /* an admin token's request */
#define AUDIT_VIA_PROVCTL "provctl" /* the admin's command line */

/* What a device key's change records: that it changed, never the key. */
#define AUDIT_KEY_CHANGED "{\"key\":\"changed\"}"

/* Who makes a change, and when: a token's name (via "api") or provctl's OS user (via "provctl").
 * Never a token, its hash or any other secret. */
struct audit_actor {
    const char *via;
    char name[STORE_TOKEN_NAME_MAX + 1];
    int64_t at;
};

/* Records one admin change: action ("device.update", "token.create"; a device's begin "device."),
 * target (the device id, the token name), before and after (JSON text of what the change touched;
 * NULL: nothing). Call it inside the change's transaction -- the router opens one around every
 * admin call but GET (router.c), provctl its own -- after the change succeeded: the entry then
 * commits with the change, or neither does. Never pass a secret in before or after. */
enum store_status audit_record(struct store *s, const struct audit_actor *actor, const char *action,
                               const char *target, const char *before, const char *after);

/* A device's configuration as the audit trail keeps it: what admins set (name, state, cfgsn,
 * poll_interval, assigned firmware, data), not what the device reports or its key. malloc'ed JSON text; NULL when out
 * of memory. */
char *audit_device_json(const struct device *d);

#endif
