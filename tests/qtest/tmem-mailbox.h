/*
 * The mailbox of m-tmem-migrate.elf (tests/guest/baremetal), which
 * tmem-test.c reads: one definition for the guest program and the qtest.
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

#endif
