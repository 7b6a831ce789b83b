/* ISO-8601 UTC times ("2026-11-22T08:42:10Z"), the API's only time format, to and from Unix seconds. */
#ifndef PROVD_ISOTIME_H
#define PROVD_ISOTIME_H

#include <stdbool.h>
#include <stdint.h>

#define ISOTIME_LEN 20 /* characters, without the terminating NUL */

void isotime_format(int64_t unix_seconds, char out[ISOTIME_LEN + 1]);
/* Accepts exactly YYYY-MM-DDTHH:MM:SSZ with a real calendar date. */
bool isotime_parse(const char *text, int64_t *unix_seconds);

#endif
