/* ISO-8601 UTC times ("2026-11-22T08:42:10Z"), the API's only time format, to and from Unix seconds;
 * and now, in Unix seconds, the one clock provd's times come from. */
#ifndef PROVD_ISOTIME_H
#define PROVD_ISOTIME_H

#include <stdbool.h>
#include <stdint.h>

#define ISOTIME_LEN 20 /* characters, without the terminating NUL */

/* Now, in Unix seconds: every time provd stores or compares (lastseen, received_at, alerts). Read
 * from clock_gettime(CLOCK_REALTIME), not time(): time() reads the kernel's coarse copy, which is
 * still on the last second for up to a clock tick after the precise clock turned (3.6 ms seen),
 * so a device heard just after a second began was stored as heard a second before what the
 * clocks of its client, nginx and PostgreSQL said. */
int64_t isotime_now(void);
void isotime_format(int64_t unix_seconds, char out[ISOTIME_LEN + 1]);
/* Accepts exactly YYYY-MM-DDTHH:MM:SSZ with a real calendar date. */
bool isotime_parse(const char *text, int64_t *unix_seconds);

#endif
