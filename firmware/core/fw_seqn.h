/* fw_seqn.h: telemetry sequence numbers that survive reboots with one storage write per block.
 * Storage holds the end of the reserved block; a boot starts past it, so no SEQN is reused. */
#ifndef FW_SEQN_H
#define FW_SEQN_H

#include <stdint.h>

#include "fw_platform.h"

/* SEQNs reserved by one storage write. */
#define FW_SEQN_BLOCK 64u
/* Size of the stored record: magic, limit, check word. */
#define FW_SEQN_RECORD_LEN 12

struct fw_seqn {
    uint32_t next;  /* the SEQN the next message gets */
    uint32_t limit; /* first SEQN not covered by the stored reservation */
};

/* At boot: resumes after the stored reservation (or at 1 without one) and reserves a block.
 * Returns 0, or -1 if the reservation could not be stored (fw_seqn_take() tries again). */
int fw_seqn_boot(struct fw_seqn *sq, const struct fw_platform *plat);

/* Hands out the next SEQN (seqn may be NULL: only make sure a block is reserved), storing a new
 * reservation first when the block is used up. Returns 0, or -1 if storage failed or the counter is exhausted
 * (nothing is handed out). */
int fw_seqn_take(struct fw_seqn *sq, const struct fw_platform *plat, uint32_t *seqn);

/* Abandons the current block and `blocks - 1` more (the server has seen higher SEQNs). */
int fw_seqn_skip(struct fw_seqn *sq, const struct fw_platform *plat, uint32_t blocks);

#endif
