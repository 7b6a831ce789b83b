/* The heartbeat-time blocks' SQL functions (see seen_blocks.h). */
#include "seen_blocks.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Times before 1970 or past 2106 (none come from the server's clock) are kept as the nearest. */
static uint32_t seconds(sqlite3_int64 at)
{
    return at < 0 ? 0 : at > UINT32_MAX ? UINT32_MAX : (uint32_t)at;
}

static unsigned slot_of(sqlite3_value *device)
{
    return (unsigned)(sqlite3_value_int64(device) & (SEEN_BLOCK_DEVICES - 1));
}

static uint32_t time_at(const unsigned char *block, unsigned slot)
{
    const unsigned char *p = block + 4 * slot;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_time(unsigned char *block, unsigned slot, uint32_t t)
{
    unsigned char *p = block + 4 * slot;
    p[0] = (unsigned char)(t >> 24);
    p[1] = (unsigned char)(t >> 16);
    p[2] = (unsigned char)(t >> 8);
    p[3] = (unsigned char)t;
}

static bool whole_block(sqlite3_value *v)
{
    return sqlite3_value_type(v) == SQLITE_BLOB && sqlite3_value_bytes(v) == SEEN_BLOCK_BYTES;
}

static void seen_time(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *block = whole_block(argv[0]) ? sqlite3_value_blob(argv[0]) : NULL;
    sqlite3_result_int64(ctx, block ? time_at(block, slot_of(argv[1])) : 0);
}

static void seen_block_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    unsigned char *block = sqlite3_aggregate_context(ctx, SEEN_BLOCK_BYTES); /* zeroed */
    if (block)
        put_time(block, slot_of(argv[0]), seconds(sqlite3_value_int64(argv[1])));
    else
        sqlite3_result_error_nomem(ctx);
}

static void seen_block_final(sqlite3_context *ctx)
{
    unsigned char *block = sqlite3_aggregate_context(ctx, SEEN_BLOCK_BYTES);
    if (block)
        sqlite3_result_blob(ctx, block, SEEN_BLOCK_BYTES, SQLITE_TRANSIENT);
    else
        sqlite3_result_error_nomem(ctx);
}

int seen_blocks_register(sqlite3 *db)
{
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    int rc = sqlite3_create_function(db, "seen_time", 2, flags, NULL, seen_time, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "seen_block", 2, flags, NULL, NULL, seen_block_step,
                                     seen_block_final);
    return rc;
}

void seen_blocks_unregister(sqlite3 *db)
{
    static const struct {
        const char *name;
        int args;
    } functions[] = {{"seen_time", 2}, {"seen_later", 3}, {"seen_set", 3}, {"seen_block", 2}};
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        sqlite3_create_function(db, functions[i].name, functions[i].args, SQLITE_UTF8, NULL, NULL, NULL,
                                NULL);
}
