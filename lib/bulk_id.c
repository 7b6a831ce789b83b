/* The ids of bulk-loaded devices (store.h), shared by both backends: compiled into the programs
 * and into the PostgreSQL module alike. */
#include <stdio.h>

#include "store_backend.h"
#include "validate.h"

bool store_bulk_id(const char *prefix, int64_t n, char *buf, size_t len)
{
    int w = snprintf(buf, len, "%s%0*llX", prefix, STORE_BULK_ID_DIGITS, (unsigned long long)n);
    return w > 0 && (size_t)w < len && (size_t)w <= DEVICE_ID_MAX;
}
