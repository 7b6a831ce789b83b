/* Heartbeat times packed by block, as migrations 7 to 8 kept them; migration 9 moved them into a
 * plain table. The functions below exist for migrations 7 and 9 alone (they write and read the
 * blocks): registered by the connection that migrates a database older than 9, for its
 * migrations, and taken away after them. Nothing else may call them.
 *
 * The layout (migration 7): the row `block` of table heartbeats holds the
 * times of the devices whose id >> SEEN_BLOCK_BITS is block, each 4 bytes big-endian Unix
 * seconds (0: never seen) at slot id & (SEEN_BLOCK_DEVICES - 1). Four bytes a device, a page
 * holds ~1000 devices' times, against ~340 a row apiece: a batch of a large fleet's heartbeats
 * rewrites a third of the pages.
 *
 * SQLite has no function to read an integer out of a blob, hence:
 *   seen_block(device, at)   aggregate: the block of these devices' times (migration 7);
 *   seen_time(times, device) the device's time in the block, 0 for none (migration 9). */
#ifndef PROVD_SEEN_BLOCKS_H
#define PROVD_SEEN_BLOCKS_H

#include <sqlite3.h>

#define SEEN_BLOCK_BITS    6
#define SEEN_BLOCK_DEVICES (1 << SEEN_BLOCK_BITS)
#define SEEN_BLOCK_BYTES   (4 * SEEN_BLOCK_DEVICES)

#define SEEN_BLOCK_TEXT(bits)    #bits
#define SEEN_BLOCK_TEXT_OF(bits) SEEN_BLOCK_TEXT(bits)
/* The block of the device whose id is the SQL expression id. */
#define SEEN_BLOCK_SQL(id) "((" id ") >> " SEEN_BLOCK_TEXT_OF(SEEN_BLOCK_BITS) ")"

/* The last migration that calls them (0009-heartbeat-times-plain.sql). */
#define SEEN_BLOCKS_LAST_MIGRATION 9

/* Registers the two functions on db: SQLITE_OK or SQLite's error code. */
int seen_blocks_register(sqlite3 *db);
/* Takes them away again. */
void seen_blocks_unregister(sqlite3 *db);

#endif
