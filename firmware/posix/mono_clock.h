/* mono_clock.h: the one monotonic clock of the POSIX host: fw_step() times (ms) and request
 * latencies (us) are read from it. */
#ifndef MONO_CLOCK_H
#define MONO_CLOCK_H

#include <stdint.h>

uint64_t mono_us(void);

#endif
