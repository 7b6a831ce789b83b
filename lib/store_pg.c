/* placeholder until the PostgreSQL backend lands: refuses every PostgreSQL URI. */
#include <stdio.h>

#include "store_backend.h"

struct store *store_pg_open(const char *uri, char *err, size_t err_len)
{
    (void)uri;
    snprintf(err, err_len, "this provd was built without PostgreSQL");
    return NULL;
}
