/* fw_seqn.c: SEQN block reservation and its storage record
 * ("FWSQ", limit as le32, ~limit as le32 so a torn or blank record is recognised). */
#include "fw_seqn.h"

#include <string.h>

#include "fw_le.h"

static const uint8_t magic[4] = {'F', 'W', 'S', 'Q'};

/* Reads the stored limit; 0 when there is no valid record. */
static uint32_t load_limit(const struct fw_platform *plat)
{
    uint8_t rec[FW_SEQN_RECORD_LEN];
    uint32_t limit;

    if (plat->store_read(plat->user_data, rec, sizeof rec) != FW_SEQN_RECORD_LEN ||
        memcmp(rec, magic, sizeof magic) != 0)
        return 0;
    limit = fw_get_le32(rec + 4);
    return fw_get_le32(rec + 8) == ~limit ? limit : 0;
}

/* Stores a reservation up to `limit` and adopts it. */
static int reserve(struct fw_seqn *sq, const struct fw_platform *plat, uint32_t limit)
{
    uint8_t rec[FW_SEQN_RECORD_LEN];

    memcpy(rec, magic, sizeof magic);
    fw_put_le32(rec + 4, limit);
    fw_put_le32(rec + 8, ~limit);
    if (plat->store_write(plat->user_data, rec, sizeof rec) != 0)
        return -1;
    sq->limit = limit;
    return 0;
}

/* The limit `blocks` blocks past `from`, or 0 if it would wrap. */
static uint32_t limit_after(uint32_t from, uint32_t blocks)
{
    if (blocks > (UINT32_MAX - from) / FW_SEQN_BLOCK)
        return 0;
    return from + blocks * FW_SEQN_BLOCK;
}

int fw_seqn_boot(struct fw_seqn *sq, const struct fw_platform *plat)
{
    uint32_t stored = load_limit(plat);

    sq->next = stored > 0 ? stored : 1;
    sq->limit = sq->next;
    return fw_seqn_take(sq, plat, NULL);
}

int fw_seqn_take(struct fw_seqn *sq, const struct fw_platform *plat, uint32_t *seqn)
{
    if (sq->next == sq->limit) {
        uint32_t limit = limit_after(sq->next, 1);

        if (limit == 0 || reserve(sq, plat, limit) != 0)
            return -1;
    }
    if (seqn)
        *seqn = sq->next++;
    return 0;
}

int fw_seqn_skip(struct fw_seqn *sq, const struct fw_platform *plat, uint32_t blocks)
{
    uint32_t limit = limit_after(sq->limit, blocks);

    if (blocks == 0 || limit == 0 || reserve(sq, plat, limit) != 0)
        return -1;
    /* Only the last block is reserved for use; the ones before it are abandoned. */
    sq->next = limit - FW_SEQN_BLOCK;
    return 0;
}
