/* What an alert's webhook receives: the outbox's row (store.h struct alert) as one JSON object.
 * Pure: no I/O, so it is unit-tested on its own. */
#ifndef PROVD_ALERT_PAYLOAD_H
#define PROVD_ALERT_PAYLOAD_H

#include <stddef.h>

#include "store.h"

#define ALERT_ID_LEN 24 /* characters of an alert's id as text, at most */

/* The alert's id as the receiver sees it (its outbox id, in decimal): the same on every attempt. */
void alert_id_text(const struct alert *a, char out[ALERT_ID_LEN + 1]);
/* The JSON body, malloc()ed (the caller frees it), or NULL when out of memory:
 *   {"id":"17","kind":"offline","subject":"lamp-1","time":"2026-12-05T16:00:00Z",
 *    "device":"lamp-1","name":"porch","from":"overdue","to":"offline","lastseen":"..."|null}
 * device, name, from, to and lastseen only for a liveness change; the members of a's detail (a JSON
 * object) after them, except any that would replace one of those. Never a device's key. */
char *alert_payload_alloc(const struct alert *a);

#endif
