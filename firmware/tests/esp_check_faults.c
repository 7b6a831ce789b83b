/* esp_check_faults.c: one of each fault firmware/esp8266/check-object.sh must refuse; `make esp8266`
 * builds it for the ESP8266 and fails unless the check reports them all. Linked into nothing. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Not in the device's C library. */
int getaddrinfo(const char *node, const char *service, const void *hints, void **res);

int fault_count; /* writable static data, and a global outside fw_* and app_* */

int fw_faults(char *buf, size_t cap, int64_t v, double d);

int fw_faults(char *buf, size_t cap, int64_t v, double d)
{
    fault_count++;
    if (getaddrinfo(buf, buf, NULL, NULL) != 0)
        return -1;
    return snprintf(buf, cap, "%lld %f", (long long)v, d); /* newlib-nano prints neither */
}
