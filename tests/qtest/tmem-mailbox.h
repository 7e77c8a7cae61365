/*
 * The mailboxes of m-tmem-migrate.elf and m-tmem-precopy.elf
 * (tests/guest/baremetal), which tmem-test.c and tmem-migration-test.c
 * read: one definition for the guest programs and the qtests.
 * Offsets from TMEM_MB_BASE, each a 64-bit big-endian word in guest memory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TMEM_MAILBOX_H
#define TMEM_MAILBOX_H

#define TMEM_MB_BASE        0x30000
#define MB_STATE            0x00    /* ST_READY, then ST_DONE (or ST_FAILED) */
#define MB_GO               0x08    /* the qtest writes 1 after migration,
                                       2 to stop the guest */
#define MB_PERS_OK          0x10    /* persistent pages read back intact */
#define MB_EPH_HITS         0x18    /* ephemeral hits after migration */
#define MB_PERS_BAD         0x20    /* persistent pages lost or corrupt */
#define MB_BAD_STATUS       0x28    /* unexpected statuses */
#define MB_EPOCH_BEFORE     0x30    /* the device's epoch before migration */
#define MB_EPOCH_AFTER      0x38    /* ... and after */
#define MB_CFG_STATUS       0x40    /* config status after migration */
#define MB_FROZEN_PUT       0x48    /* status of a new PUT after GO */
#define MB_FROZEN_DUP       0x50    /* status of a duplicate PUT after GO */
#define MB_FROZEN_GET       0x58    /* status of a GET of that key after it */

#define ST_READY            0x7e3e0001
#define ST_DONE             0x7e3e0002
#define ST_FAILED           0x7e3e00ff

/*
 * m-tmem-precopy.elf (tmem-migration-test.c): the same base, its own
 * words.  The guest runs each command the qtest writes to PC_CMD once,
 * then reports the state; while it waits it counts in PC_TICKS and
 * dirties 64 pages, as a busy guest keeps dirtying RAM.
 */
#define PC_STATE            0x00    /* PC_ST_* of the last command */
#define PC_CMD              0x08    /* PC_CMD_*, written by the qtest */
#define PC_PAGES            0x10    /* pages of pool A; set before START */
#define PC_OK               0x18    /* VERIFY: keys as expected */
#define PC_BAD              0x20    /* VERIFY: keys not as expected */
#define PC_STATUS           0x28    /* first unexpected status, 0 if none */
#define PC_TICKS            0x30    /* counted while waiting */

#define PC_CMD_START        1       /* store pools A, B and E */
#define PC_CMD_CHANGE       2       /* change them (see the program) */
#define PC_CMD_VERIFY       3       /* read every key back */
#define PC_CMD_STOP         4       /* end the program */

#define PC_ST_READY         0x7e3e0101
#define PC_ST_CHANGED       0x7e3e0102
#define PC_ST_DONE          0x7e3e0103
#define PC_ST_FAILED        0x7e3e01ff

/* Pool A: page i is index i % PC_OBJ_PAGES of object i / PC_OBJ_PAGES */
#define PC_OBJ_PAGES        128     /* > TMEM_FLUSH_INLINE */
#define PC_B_PAGES          64      /* pool B: one object */
#define PC_CHANGED          16      /* CHANGE: pages put again, then flushed */
#define PC_B_NEW            8       /* CHANGE: pages put in B after its flush */
#define PC_C_PAGES          4       /* CHANGE: pages of the new pool C */

#endif
